// The back office: support agents' and programme managers' console. Plain ES modules, no framework, no build
// step, no third-party code: every figure comes from the public API (the same routes any client calls), with
// the key the person signed in with. The key lives in sessionStorage (this tab, until it closes), never in a
// URL or in localStorage. Text from the API is always set as text (never parsed as HTML).

const BASE = new URL(".", window.location.href); // the API's root: deployed, under the stage (/dev/)
const KEY_SLOT = "loyalty-console-key";
const PENDING_SLOT = "loyalty-console-pending"; // ids of writes whose answer was not seen (survive a reload)
const LEDGER_PAGE = 20;

const state = { key: null, scopes: new Set(), keyName: "", program: null, ticket: 0 };

// Each navigation takes a ticket; a screen whose answers arrive after the person moved on draws nothing.
const moved = (ticket) => ticket !== state.ticket;

// ---------------------------------------------------------------- the API
class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.key) headers.Authorization = `Bearer ${state.key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let answer;
  try {
    answer = await fetch(new URL(path.replace(/^\//, ""), BASE), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (failed) {
    throw new ApiError(0, "network", "The API could not be reached: check the connection and try again.");
  }
  const text = await answer.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (notJson) {
    parsed = null;
  }
  if (!answer.ok) {
    const error = (parsed && parsed.error) || {};
    throw new ApiError(answer.status, error.code || "http_" + answer.status, error.message || answer.statusText, error.details);
  }
  return parsed;
}

const can = (scope) => state.scopes.has(scope) || state.scopes.has("admin");

// ---------------------------------------------------------------- small DOM helpers
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

const main = () => document.getElementById("main");
function show(...children) {
  const root = main();
  root.replaceChildren(...children.flat().filter(Boolean));
  root.focus({ preventScroll: true });
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(hideToast, 6000);
}

// A toast speaks of the screen it was said on: moving to another screen takes it away.
function hideToast() {
  clearTimeout(toast.timer);
  document.getElementById("toast").hidden = true;
}

function problem(error) {
  const text = error instanceof ApiError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
  return h("p", { class: "error", role: "alert" }, text);
}

// ---------------------------------------------------------------- numbers, money, words
const points = (n) => new Intl.NumberFormat("en-US").format(n);
const signed = (n) => (n > 0 ? "+" : n < 0 ? "−" : "") + points(Math.abs(n));
const percent = (part, whole) => (whole ? `${(Math.round((part * 1000) / whole) / 10).toFixed(1)} %` : "—");
const day = (stamp) => (stamp ? stamp.slice(0, 10) : "—");
// Every time the console shows reads the same way, "2026-10-20 18:00 UTC", whether the API's stamp has seconds,
// a fraction of a second or neither (the API's times are RFC 3339 in UTC).
const when = (stamp) => (stamp ? `${stamp.slice(0, 10)} ${stamp.slice(11, 16)} UTC` : "—");
// A perk id as words: "priority_support" reads "Priority support".
const perkName = (id) => (id.charAt(0).toUpperCase() + id.slice(1)).replaceAll("_", " ").replaceAll("-", " ");
const perks = (ids) => (ids && ids.length ? ids.map(perkName).join(", ") : "none");
// Who made an admin write (the ledger entry's `details.actor`): the key's name, and its id.
const actor = (d) => (d.actor ? ` by ${d.actor.name || "key"} (key ${d.actor.key_id})` : "");

// Money stays a decimal string: sums are done on scaled integers, never in floating point.
function addMoney(values) {
  let scale = 0;
  for (const v of values) scale = Math.max(scale, (String(v).split(".")[1] || "").length);
  let total = 0n;
  for (const v of values) {
    const [whole, fraction = ""] = String(v).replace("-", "").split(".");
    const units = BigInt(whole + fraction.padEnd(scale, "0"));
    total += String(v).startsWith("-") ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return (negative ? "-" : "") + text;
}
const money = (currency, value) => `${value} ${currency}`;

function monthAfter(month) {
  const [year, mon] = month.split("-").map(Number);
  return mon === 12 ? `${year + 1}-01` : `${year}-${String(mon + 1).padStart(2, "0")}`;
}

// ---------------------------------------------------------------- sign-in
function signInScreen(message) {
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    { class: "card narrow", onsubmit: (e) => (e.preventDefault(), signIn(input.value.trim(), form)) },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste an API key. It is kept for this browser tab only and sent only to this API."),
    h("label", { for: "key" }, "API key"),
    input,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
  );
  show(form);
  input.focus();
}

async function signIn(key, form) {
  state.key = key;
  try {
    const me = await api("GET", "/v1/keys/current");
    sessionStorage.setItem(KEY_SLOT, key);
    adopt(me);
    route();
  } catch (error) {
    state.key = null;
    const message = error.status === 401 ? "This key was refused." : error.message;
    form.querySelector(".error")?.remove();
    form.append(h("p", { class: "error", role: "alert" }, message));
  }
}

function adopt(me) {
  state.scopes = new Set(me.scopes);
  state.keyName = me.name;
  document.getElementById("who").textContent = `${me.name} · ${me.scopes.join(" ")}`;
  document.getElementById("sign-out").hidden = false;
  const nav = document.getElementById("nav");
  for (const link of nav.querySelectorAll("a")) link.hidden = !can(link.dataset.need);
  nav.hidden = false;
}

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  sessionStorage.removeItem(PENDING_SLOT);
  Object.assign(state, { key: null, scopes: new Set(), keyName: "", program: null });
  document.getElementById("who").textContent = "";
  document.getElementById("sign-out").hidden = true;
  document.getElementById("nav").hidden = true;
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  signInScreen(message);
}

// ---------------------------------------------------------------- routing
const ROUTES = [
  [/^#\/member\/(.+)$/, (id) => memberScreen(decoded(id)), "read"],
  [/^#\/account\/(.+)$/, (id) => accountScreen(decoded(id)), "read"],
  [/^#\/dashboard$/, () => dashboardScreen(), "admin"],
  [/^#\/programme$/, () => programmeScreen(), "read"],
  [/^#\/jobs$/, () => jobsScreen(), "admin"],
  [/^#\/messages(?:\/(\d{4}-\d{2}))?$/, (month) => messagesScreen(month), "admin"],
  [/^#\/webhooks\/(.+)$/, (id) => webhookScreen(decoded(id)), "admin"],
  [/^#\/webhooks$/, () => webhooksScreen(), "admin"],
  [/^#\/imports\/(.+)$/, (id) => importScreen(decoded(id)), "admin"],
  [/^#\/imports$/, () => importsScreen(), "admin"],
  [/^#\/find$/, () => findScreen(), "read"],
];

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch (malformed) {
    return text; // not percent-encoding: looked up as typed (the API answers 404 or 422)
  }
}

function route() {
  state.ticket += 1;
  hideToast();
  if (!state.key) return signInScreen();
  const hash = window.location.hash || (can("admin") ? "#/dashboard" : "#/find");
  for (const link of document.querySelectorAll("#nav a")) {
    const current = hash.startsWith(link.getAttribute("href")) || (/^#\/(member|account)\//.test(hash) && link.getAttribute("href") === "#/find");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [pattern, screen, need] of ROUTES) {
    const found = hash.match(pattern);
    if (!found) continue;
    if (!can(need)) return show(h("h1", {}, "Not available"), h("p", {}, `This key lacks the ${need} scope.`));
    return screen(...found.slice(1)).catch(failed);
  }
  window.location.hash = can("read") ? "#/find" : "";
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) return signOut("The API refused the key; sign in again.");
  show(h("h1", {}, "Something went wrong"), problem(error));
}

async function program() {
  if (!state.program) state.program = await api("GET", "/v1/program");
  return state.program;
}

// ---------------------------------------------------------------- support: find a member
// One box: the API reads what was typed (an email, a member id, a card, a phone as the customer says it, a
// national number in the programme's country) and says what it found the member by (POST /v1/members/search,
// a POST so that no identifier appears in a URL).
const FOUND_BY = { member_id: "member id", card_id: "card", email: "email", phone: "phone" };

function findScreen(message) {
  const value = h("input", { id: "find-value", name: "query", required: true, autocomplete: "off", maxlength: "254", placeholder: "(415) 555-0123, ana@example.com, card-0001, cust-1" });
  const form = h(
    "form",
    { class: "card narrow", role: "search", onsubmit: (e) => (e.preventDefault(), find(value.value.trim(), form)) },
    h("h1", {}, "Find a member"),
    h("label", { for: "find-value" }, "Phone, email, card or member id"),
    value,
    h("p", { class: "muted" }, "Type it as the customer says it: a phone number with or without its country code."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Find")),
    message ? problem(message) : null,
  );
  show(form, openAccountForm());
  value.focus();
  return Promise.resolve();
}

// A company or a household is opened by its id (an account id is no personal identifier: it may be in a URL).
function openAccountForm() {
  const value = h("input", { id: "account-value", name: "account_id", required: true, autocomplete: "off", maxlength: "128", placeholder: "acme" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "open-account-title", onsubmit: (e) => (e.preventDefault(), openAccount(value.value.trim(), form)) },
    h("h2", { id: "open-account-title" }, "Open a company or household"),
    h("label", { for: "account-value" }, "Account id"),
    value,
    h("p", { class: "muted" }, "A member's page links to its account too."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "quiet" }, "Open account")),
  );
  return form;
}

async function openAccount(accountId, form) {
  form.querySelector(".error")?.remove();
  const ticket = state.ticket;
  try {
    const account = await api("GET", `/v1/accounts/${encodeURIComponent(accountId)}`);
    if (moved(ticket)) return;
    state.prefetchedAccount = account;
    window.location.hash = `#/account/${encodeURIComponent(account.account_id)}`;
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (error.status === 404) return form.append(problem(new Error(`No account ${accountId}: check the id.`)));
    const said = error.status === 422 && error.details.length ? new Error(capital(error.details[0].message) + ".") : error;
    form.append(problem(said));
  }
}

async function find(query, form) {
  form.querySelector(".error")?.remove();
  const ticket = state.ticket;
  try {
    const found = await api("POST", "/v1/members/search", { query });
    if (moved(ticket)) return; // the person went elsewhere while the search was answered
    state.prefetched = found.member;
    state.foundBy = { member_id: found.member.member_id, words: `Found by ${FOUND_BY[found.found_by]} ${found.value}.` };
    window.location.hash = `#/member/${encodeURIComponent(found.member.member_id)}`;
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (error.status === 404) return form.append(problem(new Error(`No member matches: ${error.message}.`)));
    const said = error.status === 422 && error.details.length ? new Error(capital(error.details[0].message) + ".") : error;
    form.append(problem(said));
  }
}

const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);

// ---------------------------------------------------------------- support: one member
const SOURCES = { qualified: "reached by qualifying spend", paid: "a paid subscription", manual: "set by an administrator" };

async function memberScreen(memberId) {
  const prefetched = state.prefetched && state.prefetched.member_id === memberId ? state.prefetched : null;
  const foundBy = state.foundBy && state.foundBy.member_id === memberId ? state.foundBy.words : null;
  state.prefetched = null;
  state.foundBy = null;
  const ticket = state.ticket;
  const [member, prog] = await Promise.all([prefetched || api("GET", `/v1/members/${encodeURIComponent(memberId)}`), program()]);
  if (moved(ticket)) return;
  const ledgerBox = h("section", { class: "card wide", "aria-labelledby": "ledger-title" });
  const eventsBox = h("section", { class: "card wide", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Recent events"));
  const accountLine = member.account ? h("p", { "data-figure": "account" }, `Member of ${member.account.account_id} (${member.account.role})`) : null;
  show(
    memberHeader(member),
    accountLine,
    foundBy ? h("p", { class: "muted", "data-found-by": "" }, foundBy) : null,
    h("div", { class: "grid" }, pointsCard(member), tierCard(member, prog), expiringCard(member), benefitsCard(member), profileCard(member)),
    can("admin") && member.status !== "closed" ? actionsCard(member) : null,
    ledgerBox,
    eventsBox,
  );
  const words = (entry) => explain(entry, prog, prog.currency);
  const path = `/v1/members/${encodeURIComponent(member.member_id)}/ledger`;
  await Promise.all([
    ledger(ledgerBox, path, "Ledger", words, [null], 0, ticket),
    recentEvents(eventsBox, member, ticket),
    accountLine ? memberOf(accountLine, member.account, ticket) : null,
  ]);
}

// "Member of Acme Ltd (buyer)", the name linking to the account's page (its name is the account's to say).
async function memberOf(line, membership, ticket) {
  let name = membership.account_id;
  try {
    name = (await api("GET", `/v1/accounts/${encodeURIComponent(membership.account_id)}`)).name;
  } catch (error) {
    if (error.status === 401) throw error;
  }
  if (moved(ticket)) return;
  line.replaceChildren("Member of ", h("a", { href: `#/account/${encodeURIComponent(membership.account_id)}` }, name), ` (${membership.role})`);
}

function eventWords(event) {
  const d = event.detail;
  switch (event.detail_type) {
    case "MemberEnrolled":
      return `Enrolled via ${d.channel} in ${d.tier}${d.signup_bonus ? `, signup bonus ${points(d.signup_bonus)}` : ""}${d.referred_by ? `, referred by ${d.referred_by}` : ""}`;
    case "TierChanged":
      return `${d.from} → ${d.to} (${d.direction}${d.reason ? `: ${d.reason}` : ""})`;
    case "PointsExpiringSoon":
      return `${points(d.points)} points expire at the end of ${d.month}`;
    default:
      return d.change !== undefined ? `${signed(d.change)} points, balance ${points(d.balance)} (${d.reference})` : JSON.stringify(d);
  }
}

async function recentEvents(box, member, ticket) {
  const answer = await api("GET", `/v1/members/${encodeURIComponent(member.member_id)}/events?limit=10`);
  if (moved(ticket)) return;
  const rows = answer.events.map((e) => h("tr", { "data-event": e.event_id }, h("td", { class: "date" }, when(e.at)), h("td", {}, e.detail_type), h("td", {}, eventWords(e))));
  box.replaceChildren(
    h("h2", { id: "events-title" }, "Recent events"),
    h("p", { class: "muted" }, "What this member's changes published to the event bus (kept 90 days), newest first."),
    rows.length ? table("events", ["When", "Event", "What it says"], rows) : h("p", { class: "muted" }, "No event yet (or none in the last 90 days)."),
  );
}

function memberHeader(member) {
  const name = member.profile && member.profile.name;
  return h(
    "div",
    { class: "title" },
    h("h1", {}, name ? `${name} ` : "", h("span", { class: "muted" }, member.member_id)),
    h("span", { class: `badge status-${member.status}`, "data-figure": "status" }, member.status),
    h("span", { class: "badge tier", "data-figure": "tier" }, member.tier.name),
  );
}

function figure(label, value, name) {
  return h("div", { class: "figure" }, h("dt", {}, label), h("dd", { "data-figure": name }, value));
}

// A holder's points (a member's, or an account's pool: `title` says which)
function pointsCard(holder, title = "Points") {
  const p = holder.points;
  return h(
    "section",
    { class: "card", "aria-labelledby": "points-title" },
    h("h2", { id: "points-title" }, title),
    h(
      "dl",
      { class: "figures" },
      figure("Available", points(p.available), "available"),
      figure("Pending", points(p.pending), "pending"),
      figure("Earned (lifetime)", points(p.lifetime_earned), "lifetime_earned"),
      figure("Redeemed (lifetime)", points(p.lifetime_redeemed), "lifetime_redeemed"),
      figure("Expired (lifetime)", points(p.lifetime_expired), "lifetime_expired"),
      figure("Adjusted (lifetime)", signed(p.lifetime_adjusted || 0), "lifetime_adjusted"),
    ),
  );
}

// Why the member has its tier, in words. The lowest tier ("qualified" at threshold 0) is where every member
// starts: it is not "reached by qualifying spend" for a member who never spent.
function tierSource(member, prog) {
  const tier = prog.tiers.find((t) => t.id === member.tier.id);
  if (member.tier.source === "qualified" && tier && tier.threshold === 0 && !tier.paid_only) return "the tier every member starts in";
  return SOURCES[member.tier.source] || member.tier.source;
}

function tierCard(member, prog) {
  const q = member.qualifying;
  const closed = member.status === "closed";
  const next = closed ? null : q.next_tier; // a closed member's tier no longer moves
  const progress = next ? h("progress", { max: next.threshold, value: Math.min(q.value, next.threshold), "aria-label": `Qualifying progress to ${next.id}` }) : null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "tier-title" },
    h("h2", { id: "tier-title" }, "Tier"),
    h("p", { "data-figure": "tier_source" }, h("strong", {}, member.tier.name), ` since ${day(member.tier.since)}: ${tierSource(member, prog)}.`),
    h("p", {}, `Qualifying value ${q.window_start} to ${q.window_end}: `, h("strong", { "data-figure": "qualifying" }, points(q.value)), "."),
    closed
      ? h("p", { class: "muted", "data-figure": "next_tier" }, "The member is closed: the tier no longer changes.")
      : next
        ? h("p", { "data-figure": "next_tier" }, progress, h("span", { "data-figure": "remaining" }, points(next.remaining)), ` more to reach ${tierName(prog, next.id)} (${points(next.threshold)}).`)
        : h("p", { class: "muted", "data-figure": "next_tier" }, "Top tier: no next tier."),
  );
}

function tierName(prog, id) {
  const tier = prog.tiers.find((t) => t.id === id);
  return tier ? tier.name : id;
}

function expiringCard(member) {
  const rows = member.expiring.map((e) => h("tr", {}, h("td", {}, e.month), h("td", { class: "num" }, points(e.points))));
  return h(
    "section",
    { class: "card", "aria-labelledby": "expiring-title" },
    h("h2", { id: "expiring-title" }, "Expiring"),
    rows.length
      ? h("table", { "data-table": "expiring" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "At the end of"), h("th", { scope: "col", class: "num" }, "Points"))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "Nothing to expire."),
  );
}

function benefitsCard(member) {
  const b = member.benefits;
  return h(
    "section",
    { class: "card", "aria-labelledby": "benefits-title" },
    h("h2", { id: "benefits-title" }, "Benefits"),
    h(
      "dl",
      { class: "figures" },
      figure("Points multiplier", `×${b.multiplier}`, "multiplier"),
      figure("Discount", `${b.discount_percent} %`, "discount"),
      figure("Perks", perks(b.perks), "perks"),
    ),
  );
}

function profileCard(member) {
  const p = member.profile || {};
  const row = (label, value) => h("div", { class: "figure" }, h("dt", {}, label), h("dd", {}, value === null || value === undefined ? "—" : value));
  return h(
    "section",
    { class: "card", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Profile"),
    h("dl", { class: "figures" }, row("Email", p.email), row("Phone", p.phone), row("Card", p.card_id), row("Birth date", p.birth_date), row("Enrolled", `${day(member.enrolled_at)} (${member.channel})`)),
  );
}

// One id per intended write: a retry after a lost answer sends the same id (and is a replay); a changed
// form is a new write with a new id.
// The ids live in sessionStorage, per member and kind of write, so a reload after a lost answer still sends
// the same id; a success (or signing out) forgets them.
function pendingWrites() {
  try {
    return JSON.parse(sessionStorage.getItem(PENDING_SLOT) || "{}");
  } catch (unreadable) {
    return {};
  }
}

function writeId(slot, body) {
  const pending = pendingWrites();
  const signature = JSON.stringify(body);
  const held = pending[slot];
  if (held && held.signature === signature) return held.id;
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const id = `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  pending[slot] = { id, signature };
  sessionStorage.setItem(PENDING_SLOT, JSON.stringify(pending));
  return id;
}

function writeDone(slot) {
  const pending = pendingWrites();
  delete pending[slot];
  sessionStorage.setItem(PENDING_SLOT, JSON.stringify(pending));
}

function actionsCard(member) {
  const amount = h("input", { id: "adjust-points", name: "points", type: "number", step: "1", required: true, inputmode: "numeric" });
  const reason = h("input", { id: "adjust-reason", name: "reason", required: true, maxlength: "500", autocomplete: "off" });
  const adjustForm = h(
    "form",
    { class: "stack", "aria-labelledby": "adjust-title", onsubmit: (e) => (e.preventDefault(), adjust(member, amount.value, reason.value.trim(), adjustForm)) },
    h("h3", { id: "adjust-title" }, "Goodwill adjustment"),
    h("label", { for: "adjust-points" }, "Points (negative takes points away)"),
    amount,
    h("label", { for: "adjust-reason" }, "Reason"),
    reason,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Adjust")),
  );
  const target = member.status === "active" ? "suspended" : "active";
  const why = h("input", { id: "status-reason", name: "reason", required: true, maxlength: "500", autocomplete: "off" });
  const statusForm = h(
    "form",
    { class: "stack", "aria-labelledby": "status-title", onsubmit: (e) => (e.preventDefault(), setStatus(member, target, why.value.trim(), statusForm)) },
    h("h3", { id: "status-title" }, target === "suspended" ? "Suspend" : "Reactivate"),
    h("p", { class: "muted" }, target === "suspended" ? "A suspended member keeps their points but cannot earn or spend." : "The member is suspended: reactivating lets them earn and spend again."),
    h("label", { for: "status-reason" }, "Reason"),
    why,
    h("div", { class: "actions" }, h("button", { type: "submit", class: target === "suspended" ? "danger" : "" }, target === "suspended" ? "Suspend member" : "Reactivate member")),
  );
  return h("section", { class: "card wide split", "aria-label": "Actions" }, adjustForm, statusForm);
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  form.querySelector(".error")?.remove();
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    if (error.status === 401) return failed(error);
    form.append(problem(error));
  } finally {
    button.disabled = false;
  }
}

// An adjustment this large, or one that would leave the member owing points, is asked about first: one typo
// (-100000 for -100) must not put a member in debt without a question.
const LARGE_ADJUSTMENT = 1000;

const balanceWords = (n) => (n < 0 ? `−${points(-n)} (the member would owe ${points(-n)} points)` : points(n));

function confirmAdjustment(member, value) {
  const before = member.points.available;
  const after = before + value;
  const why = [];
  if (Math.abs(value) >= LARGE_ADJUSTMENT) why.push(`This is a large adjustment (${points(LARGE_ADJUSTMENT)} points or more).`);
  if (after < 0) why.push("It takes the balance below zero.");
  if (!why.length) return Promise.resolve(true);
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-what" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.addEventListener("cancel", (e) => (e.preventDefault(), done(false))); // Escape: no adjustment
    append(dialog, [
      h("h2", { id: "confirm-title" }, value > 0 ? `Give ${points(value)} points to ${member.member_id}?` : `Take ${points(-value)} points from ${member.member_id}?`),
      h("div", { id: "confirm-what" }, why.map((w) => h("p", {}, w)), h("p", {}, "The balance goes from ", h("strong", {}, points(before)), " to ", h("strong", { "data-figure": "balance_after" }, balanceWords(after)), ".")),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "quiet", autofocus: true, onclick: () => done(false) }, "Cancel"),
        h("button", { type: "button", class: "danger", onclick: () => done(true) }, `Adjust by ${signed(value)}`),
      ),
    ]);
    document.body.append(dialog);
    dialog.showModal();
  });
}

function adjust(member, rawPoints, reason, form) {
  return submitting(form, async () => {
    const value = Number(rawPoints);
    if (!Number.isInteger(value) || value === 0) throw new Error("Points must be a whole number other than 0.");
    if (!(await confirmAdjustment(member, value))) return toast("Not adjusted: nothing was sent.");
    const body = { points: value, reason };
    const slot = `adjust:${member.member_id}`;
    const ticket = state.ticket;
    const entry = await api("POST", `/v1/members/${encodeURIComponent(member.member_id)}/adjustments`, { adjustment_id: writeId(slot, body), ...body });
    writeDone(slot);
    toast(`Adjusted ${signed(entry.points)} points for ${member.member_id}: the balance is now ${points(entry.balance_after)}.`);
    if (!moved(ticket)) await memberScreen(member.member_id); // not over a screen the person moved to
  });
}

function setStatus(member, status, reason, form) {
  return submitting(form, async () => {
    const ticket = state.ticket;
    await api("POST", `/v1/members/${encodeURIComponent(member.member_id)}/status`, { status, reason });
    toast(`${member.member_id} ${status === "suspended" ? "suspended" : "reactivated"}.`);
    if (!moved(ticket)) await memberScreen(member.member_id);
  });
}

// ---------------------------------------------------------------- support: one account (company, household)
// An account pools its members' order points, has its own tier by their combined qualifying value, and lets its
// owners and buyers spend the pool (GET /v1/accounts/{id}, its ledger GET /v1/accounts/{id}/ledger).
const ROLES = { owner: "owner: adds to the pool and spends it", buyer: "buyer: adds to the pool and spends it", contributor: "contributor: adds to the pool only" };

async function accountScreen(accountId) {
  const prefetched = state.prefetchedAccount && state.prefetchedAccount.account_id === accountId ? state.prefetchedAccount : null;
  state.prefetchedAccount = null;
  const ticket = state.ticket;
  const path = `/v1/accounts/${encodeURIComponent(accountId)}`;
  let account;
  let prog;
  try {
    [account, prog] = await Promise.all([prefetched || api("GET", path), program()]);
  } catch (error) {
    if (moved(ticket)) return; // the person went elsewhere: nothing said over the screen they are on
    if (error.status !== 404) throw error;
    return show(h("h1", {}, "No such account"), problem(error), h("p", {}, h("a", { href: "#/find" }, "Find a member or open another account")));
  }
  if (moved(ticket)) return;
  const ledgerBox = h("section", { class: "card wide", "aria-labelledby": "ledger-title" });
  show(
    accountHeader(account),
    h("div", { class: "grid" }, pointsCard(account, "Pool points"), accountTierCard(account, prog), expiringCard(account), accountCard(account)),
    accountMembersCard(account),
    ledgerBox,
  );
  await ledger(ledgerBox, `${path}/ledger`, "Pool ledger", (entry) => poolExplain(entry, prog), [null], 0, ticket);
}

function accountHeader(account) {
  return h(
    "div",
    { class: "title" },
    h("h1", {}, `${account.name} `, h("span", { class: "muted" }, account.account_id)),
    h("span", { class: "badge", "data-figure": "kind" }, account.kind),
    h("span", { class: "badge tier", "data-figure": "tier" }, account.tier.name),
  );
}

function accountTierCard(account, prog) {
  const q = account.qualifying;
  const next = q.next_tier;
  const tier = prog.tiers.find((t) => t.id === account.tier.id);
  const starting = account.tier.source === "qualified" && tier && tier.threshold === 0 && !tier.paid_only;
  const why = starting ? "the tier every account starts in" : account.tier.source === "qualified" ? "reached by its members' combined qualifying value" : SOURCES[account.tier.source] || account.tier.source;
  const b = account.benefits;
  const progress = next ? h("progress", { max: next.threshold, value: Math.min(q.value, next.threshold), "aria-label": `Qualifying progress to ${next.id}` }) : null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "tier-title" },
    h("h2", { id: "tier-title" }, "Tier"),
    h("p", { "data-figure": "tier_source" }, h("strong", {}, account.tier.name), ` since ${day(account.tier.since)}: ${why}.`),
    h("p", {}, `Combined qualifying value ${q.window_start} to ${q.window_end}: `, h("strong", { "data-figure": "qualifying" }, points(q.value)), "."),
    next
      ? h("p", { "data-figure": "next_tier" }, progress, h("span", { "data-figure": "remaining" }, points(next.remaining)), ` more to reach ${tierName(prog, next.id)} (${points(next.threshold)}).`)
      : h("p", { class: "muted", "data-figure": "next_tier" }, "Top tier: no next tier."),
    h("p", { class: "muted" }, `Its members' orders use the better of their own tier and this one: ×${b.multiplier}, ${b.discount_percent} % discount, perks: ${perks(b.perks)}.`),
  );
}

function accountCard(account) {
  const share = account.member_share_percent;
  return h(
    "section",
    { class: "card", "aria-labelledby": "account-title" },
    h("h2", { id: "account-title" }, "Account"),
    h(
      "dl",
      { class: "figures" },
      figure("Kind", account.kind === "company" ? "Company" : "Household", "kind_words"),
      figure("An order's points", `${share} % to the member, ${100 - share} % to the pool`, "share"),
      figure("Members", `${points(account.members.length)} of at most ${points(account.max_members)}`, "members"),
    ),
  );
}

function accountMembersCard(account) {
  const rows = account.members.map((m) =>
    h(
      "tr",
      { "data-member": m.member_id },
      h("th", { scope: "row" }, h("a", { href: `#/member/${encodeURIComponent(m.member_id)}` }, m.member_id)),
      h("td", { title: ROLES[m.role] || m.role }, m.role),
      h("td", { class: "date" }, when(m.joined_at)),
      h("td", { class: "num" }, points(m.contributed)),
      h("td", { class: "num" }, points(m.spent)),
    ),
  );
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "account-members-title" },
    h("h2", { id: "account-members-title" }, "Members"),
    rows.length
      ? h(
          "table",
          { "data-table": "account-members" },
          h("thead", {}, h("tr", {}, ["Member", "Role", "Joined", "Contributed", "Spent"].map((t, i) => h("th", { scope: "col", class: i >= 3 ? "num" : "" }, t)))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "No member belongs to this account."),
    h(
      "p",
      { class: "muted" },
      "Contributed: the points a member's orders put into the pool, net of refunds (gifts are not counted). Spent: the pool's points the member spent. Owners and buyers may spend the pool; contributors only add to it. Members who left are not listed: what they put in stays in the pool.",
    ),
  );
}

// A pool's entry in words: who caused it (`details.member_id`; a gift's sender is `details.from_member_id`).
function poolExplain(entry, prog) {
  const d = entry.details || {};
  const who = d.member_id || d.from_member_id || "A member";
  const n = points(Math.abs(entry.points));
  switch (entry.type) {
    case "earn":
      return `${who}'s order ${d.order_id || entry.reference}: ${n} points into the pool`;
    case "reversal":
      if (d.kind === "checkout_refund") return `${who}'s refund ${d.refund_id || entry.reference} of checkout order ${d.order_id}: ${n} points out of the pool`;
      return `${who}'s refund ${entry.reference} of order ${d.order_id}${d.amount ? ` (${money(prog.currency, d.amount)})` : ""}: ${n} points out of the pool`;
    case "redeem":
      if (d.kind === "checkout_reward") return `${who} took “${rewardName(prog, d.reward_id)}” with ${n} points from the pool in checkout order ${d.order_id}`;
      if (d.kind === "checkout_points") return `${who} paid ${n} points from the pool toward checkout order ${d.order_id}`;
      return `${who} paid ${n} points from the pool (redemption ${d.redemption_id || entry.reference})${d.status === "held" ? ", held" : ""}`;
    case "redeem_cancel":
      return `${who}'s redemption ${entry.reference} ${d.status || "cancelled"}${d.kind === "checkout_refund" ? ` by a refund of order ${d.order_id}` : ""}: ${n} points back into the pool`;
    case "expire": {
      const months = Object.entries(d.months || {}).map(([m, k]) => `${points(k)} points of ${m}`);
      if (d.reason) return `Expired ${n} points at once (${d.reason})`;
      return `Expired ${months.length ? months.join(", ") : `${n} points`} (the run of ${entry.reference.replace("expiry:", "")})`;
    }
    case "transfer":
      return entry.points >= 0 ? `Gift of ${n} from ${who}${d.reason ? `: “${d.reason}”` : ""}` : transferWords(entry);
    default:
      return explain(entry, prog, prog.currency);
  }
}

// ---------------------------------------------------------------- the ledger, in words
function rewardName(prog, id) {
  const reward = prog.rewards.find((r) => r.id === id);
  return reward ? reward.name : id;
}

function breakdown(details) {
  const parts = (details.breakdown || []).map((b) => {
    const [kind, name] = b.rule.includes(":") ? b.rule.split(/:(.*)/) : [b.rule, ""];
    const label = kind === "base" ? "base" : kind === "tier" ? `${name} tier` : kind === "campaign" ? `campaign ${name}` : b.rule;
    return `${label} ${b.points >= 0 && kind !== "base" ? "+" : ""}${points(b.points)}`;
  });
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function explain(entry, prog, currency) {
  const d = entry.details || {};
  switch (entry.type) {
    case "earn": {
      const where = d.checkout ? "Checkout order" : "Order";
      const rewards = d.checkout && d.checkout.rewards && d.checkout.rewards.length ? `, with ${d.checkout.rewards.map((r) => rewardName(prog, r)).join(", ")}` : "";
      const pending = d.pending ? " — pending, not spendable yet" : "";
      const pooled = d.account_points ? `; ${points(d.account_points)} points of it into the pool of ${d.account_id}` : "";
      return `${where} ${entry.reference}: ${money(d.currency || currency, d.amount || "?")} paid${rewards}${breakdown(d)}${pooled}${pending}`;
    }
    case "bonus":
      if (d.activity === "signup") return `Signup bonus (enrolled via ${d.channel || "?"})`;
      if (d.activity === "referral") return `Referral bonus: ${d.referred_member_id} placed a first order`;
      if (d.activity) return `Activity bonus: ${d.activity}`;
      return `Bonus ${entry.reference}${d.reason ? `: ${d.reason}` : ""}`;
    case "reversal":
      if (d.kind === "checkout_refund") return `Refund ${d.refund_id} of checkout order ${d.order_id}`;
      return `Refund ${entry.reference} of order ${d.order_id}: ${money(currency, d.amount || "?")} refunded${d.refunded_total && d.refunded_total !== d.amount ? ` (${d.refunded_total} in all)` : ""}`;
    case "redeem":
      if (d.kind === "checkout_reward") return `Reward “${rewardName(prog, d.reward_id)}” taken in checkout order ${d.order_id}`;
      if (d.kind === "checkout_points") return `Points paid toward checkout order ${d.order_id}`;
      if (d.partner_id) return `Reward “${rewardName(prog, d.reward_id)}” redeemed at ${d.partner_id} (redemption ${d.redemption_id || entry.reference})`;
      return `Paid with points (redemption ${entry.reference})${d.status === "held" ? ", held" : ""}`;
    case "redeem_cancel":
      return `Redemption ${entry.reference} ${d.status || "cancelled"}${d.kind === "checkout_refund" ? ` by a refund of order ${d.order_id}` : ""}: points given back`;
    case "expire": {
      const months = Object.entries(d.months || {}).map(([m, n]) => `${points(n)} of ${m}`);
      return d.reason ? `Expired at once (${d.reason})` : `Expired by the run of ${entry.reference.replace("expiry:", "")}${months.length ? `: ${months.join(", ")}` : ""}`;
    }
    case "transfer":
      return transferWords(entry);
    case "adjust":
      if (d.reason === "closed") return `Account closed${actor(d)}: the balance was forfeited${d.note ? ` (${d.note})` : ""}`;
      return `Adjustment${actor(d) || " by an administrator"}: “${d.reason || "no reason given"}”`;
    default:
      return `${entry.type} ${entry.reference}`;
  }
}

// A gift, on either side: points given to a member or an account, or received from a member.
function transferWords(entry) {
  const d = entry.details || {};
  const n = points(Math.abs(entry.points));
  const reason = d.reason ? `: “${d.reason}”` : "";
  if (entry.points >= 0) return `Gift of ${n} from ${d.from_member_id || "a member"}${reason}`;
  return `Gift of ${n} to ${d.to_account_id ? `account ${d.to_account_id}` : d.to_member_id}${reason}`;
}

// One page of a ledger (a member's or a pool's: the same shape), each entry said by `words`.
async function ledger(box, path, title, words, cursors, index, ticket) {
  const page = await api("GET", `${path}?limit=${LEDGER_PAGE}${cursors[index] ? `&cursor=${encodeURIComponent(cursors[index])}` : ""}`);
  if (moved(ticket)) return;
  const rows = page.entries.map((entry) =>
    h(
      "tr",
      { "data-entry": entry.entry_id },
      h("td", { class: "date" }, day(entry.occurred_at)),
      h("td", {}, h("span", { class: `type type-${entry.type}` }, entry.type.replace("_", " "))),
      h("td", { class: `num ${entry.points < 0 ? "minus" : "plus"}` }, signed(entry.points)),
      h("td", { class: "num" }, points(entry.balance_after)),
      h("td", { class: "why" }, words(entry)),
    ),
  );
  const go = (to) => ledger(box, path, title, words, cursors, to, ticket).catch(failed);
  if (page.next_cursor && cursors.length === index + 1) cursors.push(page.next_cursor);
  box.replaceChildren(
    h("h2", { id: "ledger-title" }, title),
    rows.length
      ? h(
          "table",
          { class: "ledger", "data-table": "ledger" },
          h("thead", {}, h("tr", {}, ["Date", "Type", "Points", "Balance", "What happened"].map((t, i) => h("th", { scope: "col", class: i === 2 || i === 3 ? "num" : "" }, t)))),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "No entries."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "quiet", disabled: index === 0, onclick: () => go(0) }, "Newest"),
      h("button", { type: "button", class: "quiet", disabled: index === 0, onclick: () => go(index - 1) }, "Newer"),
      h("span", { class: "muted" }, `Page ${index + 1}`),
      h("button", { type: "button", class: "quiet", disabled: !page.next_cursor, onclick: () => go(index + 1) }, "Older"),
    ),
  );
}

// ---------------------------------------------------------------- manager: dashboard
async function dashboardScreen() {
  const ticket = state.ticket;
  const [tiers, activity, liability] = await Promise.all([api("GET", "/v1/reports/tiers"), api("GET", "/v1/reports/activity"), api("GET", "/v1/reports/liability")]);
  if (moved(ticket)) return;
  show(
    h("h1", {}, "Dashboard"),
    h("p", { class: "muted" }, `As of ${when(liability.as_of)}. Figures come from the report counters, seconds behind the ledger.`),
    h("div", { class: "grid" }, tiersCard(tiers), liabilityCard(liability), breakageCard(activity)),
    activityCard(activity),
    expiryMonthsCard(liability),
  );
}

function bar(value, max, label) {
  const meter = h("span", { class: "bar" });
  meter.style.width = `${max ? Math.round((value * 100) / max) : 0}%`;
  return h("span", { class: "bar-track", "aria-hidden": "true", title: label }, meter);
}

function tiersCard(report) {
  const max = Math.max(1, ...report.tiers.map((t) => t.members));
  return h(
    "section",
    { class: "card", "aria-labelledby": "tiers-title" },
    h("h2", { id: "tiers-title" }, "Members per tier"),
    h("p", {}, h("strong", { "data-figure": "members" }, points(report.members)), " members (active and suspended)"),
    h(
      "table",
      { "data-table": "tiers" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tier"), h("th", { scope: "col", class: "num" }, "Members"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Share")))),
      h("tbody", {}, report.tiers.map((t) => h("tr", { "data-tier": t.id }, h("th", { scope: "row" }, t.name), h("td", { class: "num" }, points(t.members)), h("td", { class: "wide-cell" }, bar(t.members, max, `${t.members}`))))),
    ),
  );
}

function liabilityCard(report) {
  const asOf = report.as_of.slice(0, 7);
  const due = report.by_expiry_month.filter((m) => m.month <= asOf);
  const duePoints = due.reduce((sum, m) => sum + m.points, 0);
  const dueValue = addMoney(due.map((m) => m.value).concat(["0"]));
  return h(
    "section",
    { class: "card", "aria-labelledby": "liability-title" },
    h("h2", { id: "liability-title" }, "Liability"),
    h(
      "dl",
      { class: "figures" },
      figure("Outstanding", `${points(report.outstanding.points)} points · ${money(report.currency, report.outstanding.value)}`, "outstanding"),
      figure("Pending (not yet spendable)", `${points(report.pending.points)} points · ${money(report.currency, report.pending.value)}`, "pending"),
      figure("Held (pay with points)", `${points(report.held.points)} points · ${money(report.currency, report.held.value)}`, "held"),
      figure(`Next expiry run (${monthAfter(asOf)}-01) removes`, `${points(duePoints)} points · ${money(report.currency, dueValue)}`, "next_expiry"),
    ),
    h("p", { class: "muted" }, `One point is worth ${report.point_value} ${report.currency}.`),
  );
}

function breakageCard(report) {
  const total = (field) => report.months.reduce((sum, m) => sum + m[field], 0);
  const earned = total("earned");
  const first = report.months.length ? report.months[0].month : "";
  const last = report.months.length ? report.months[report.months.length - 1].month : "";
  return h(
    "section",
    { class: "card", "aria-labelledby": "breakage-title" },
    h("h2", { id: "breakage-title" }, "Breakage"),
    h("p", { class: "muted" }, `${first} to ${last}, of the points earned:`),
    h(
      "dl",
      { class: "figures" },
      figure("Expired (breakage)", percent(total("expired"), earned), "breakage"),
      figure("Redeemed", percent(total("redeemed"), earned), "redemption_rate"),
      figure("Earned", points(earned), "earned_total"),
      figure("Enrolments", points(total("enrolled")), "enrolled_total"),
    ),
  );
}

const SERIES = [
  ["earned", "Earned"],
  ["redeemed", "Redeemed"],
  ["expired", "Expired"],
  ["adjusted", "Adjusted"], // signed net: a month that took more than it gave draws below the zero line
];

function activityChart(months) {
  const width = 760;
  const height = 240;
  const left = 56;
  const bottom = 28;
  const top = 12;
  const values = months.flatMap((m) => SERIES.map(([k]) => m[k]));
  const max = Math.max(1, ...values);
  const min = Math.min(0, ...values);
  const slot = (width - left - 8) / Math.max(1, months.length);
  const barWidth = Math.max(2, (slot - 6) / SERIES.length);
  const y = (v) => top + (height - top - bottom) * ((max - v) / (max - min));
  const ticks = [...new Set([min, ...[0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(max * f))])];
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": "activity-chart-title" },
    s("title", { id: "activity-chart-title" }, "Points earned, redeemed, expired and adjusted per month"),
    ...ticks.map((t) => s("g", {}, s("line", { x1: left, x2: width - 4, y1: y(t), y2: y(t), class: "grid-line" }), s("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", class: "axis" }, points(t)))),
    ...months.map((m, i) =>
      s(
        "g",
        {},
        ...SERIES.map(([k, label], j) =>
          s("rect", { x: left + i * slot + 3 + j * barWidth, y: Math.min(y(m[k]), y(0)), width: barWidth - 1, height: Math.abs(y(0) - y(m[k])), class: `series-${k}`, "data-series": k }, s("title", {}, `${m.month} ${label.toLowerCase()}: ${k === "adjusted" ? signed(m[k]) : points(m[k])}`)),
        ),
        s("text", { x: left + i * slot + slot / 2, y: height - 10, "text-anchor": "middle", class: "axis" }, m.month.slice(2)),
      ),
    ),
  );
  const legend = h("ul", { class: "legend" }, SERIES.map(([k, label]) => h("li", {}, h("span", { class: `swatch series-${k}` }), label)));
  return [svg, legend];
}

function activityCard(report) {
  const columns = ["enrolled", "earned", "redeemed", "expired", "adjusted"];
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "activity-title" },
    h("h2", { id: "activity-title" }, "Points per month"),
    activityChart(report.months),
    h(
      "details",
      {},
      h("summary", {}, "The figures"),
      h(
        "table",
        { "data-table": "activity" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Month"), columns.map((c) => h("th", { scope: "col", class: "num" }, c[0].toUpperCase() + c.slice(1))))),
        h("tbody", {}, report.months.map((m) => h("tr", { "data-month": m.month }, h("th", { scope: "row" }, m.month), columns.map((c) => h("td", { class: "num", "data-column": c }, points(m[c])))))),
      ),
    ),
  );
}

function expiryMonthsCard(report) {
  const max = Math.max(1, ...report.by_expiry_month.map((m) => m.points));
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "by-expiry-title" },
    h("h2", { id: "by-expiry-title" }, "Outstanding points by the month they expire"),
    report.by_expiry_month.length
      ? h(
          "table",
          { "data-table": "by_expiry_month" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Expire at the end of"), h("th", { scope: "col", class: "num" }, "Points"), h("th", { scope: "col", class: "num" }, `Value (${report.currency})`), h("th", { scope: "col" }, h("span", { class: "sr" }, "Share")))),
          h("tbody", {}, report.by_expiry_month.map((m) => h("tr", { "data-month": m.month }, h("th", { scope: "row" }, m.month), h("td", { class: "num" }, points(m.points)), h("td", { class: "num" }, m.value), h("td", { class: "wide-cell" }, bar(m.points, max, `${m.points}`))))),
        )
      : h("p", { class: "muted" }, "No outstanding points."),
  );
}

// ---------------------------------------------------------------- manager: programme and jobs
function table(name, headings, rows) {
  return h("table", { "data-table": name }, h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows));
}

async function programmeScreen() {
  const ticket = state.ticket;
  const [prog, catalogue] = await Promise.all([program(), api("GET", "/v1/rewards")]);
  if (moved(ticket)) return;
  const left = new Map(catalogue.rewards.map((r) => [r.reward_id, r.stock]));
  const stock = (r) => {
    const now = left.get(r.id);
    if (now === null || now === undefined) return "unlimited";
    return r.stock === undefined || r.stock === null ? points(now) : `${points(now)} left of ${points(r.stock)}`;
  };
  const tiers = prog.tiers.map((t) =>
    h("tr", {}, h("th", { scope: "row" }, `${t.name} (${t.id})`), h("td", {}, t.paid_only ? "paid only" : points(t.threshold)), h("td", {}, `×${t.multiplier}`), h("td", {}, `${t.benefits.discount_percent} %`), h("td", {}, t.benefits.perks && t.benefits.perks.length ? perks(t.benefits.perks) : "—")),
  );
  const campaigns = prog.campaigns.map((c) =>
    h("tr", {}, h("th", { scope: "row" }, c.name), h("td", {}, h("span", { class: `badge status-${c.status}` }, c.status)), h("td", {}, day(c.announced_at)), h("td", {}, `${day(c.starts_at)} → ${day(c.ends_at)}`), h("td", {}, c.recurrence || "once"), h("td", {}, c.bonus ? "bonus points" : c.discount ? "discount" : "—")),
  );
  const rewards = prog.rewards.map((r) =>
    h(
      "tr",
      { "data-reward": r.id },
      h("th", { scope: "row" }, `${r.name} (${r.id})`),
      h("td", { class: "num" }, points(r.points)),
      h("td", {}, r.partner_id ? `partner ${r.partner_id}` : "in store (checkout)"),
      h("td", {}, r.eligible_tiers ? r.eligible_tiers.join(", ") : "every tier"),
      h("td", {}, r.active_from || r.active_until ? `${r.active_from || "…"} → ${r.active_until || "…"}` : "always"),
      h("td", { "data-column": "stock" }, stock(r)),
      h("td", {}, r.limit_per_member ? `${r.limit_per_member.count} per ${r.limit_per_member.period}` : "—"),
    ),
  );
  show(
    h("h1", {}, `Programme: ${prog.name}`),
    h("p", { class: "muted" }, `${prog.program_id} · currency ${prog.currency}${prog.country ? ` · phone numbers read in ${prog.country}` : ""} · one point is worth ${prog.point_value} ${prog.currency}`),
    h("section", { class: "card wide", "aria-labelledby": "p-tiers" }, h("h2", { id: "p-tiers" }, "Tiers"), table("program-tiers", ["Tier", "Qualifying threshold", "Multiplier", "Discount", "Perks"], tiers)),
    h(
      "section",
      { class: "card wide", "aria-labelledby": "p-campaigns" },
      h("h2", { id: "p-campaigns" }, "Campaigns (announced and active)"),
      campaigns.length ? table("program-campaigns", ["Campaign", "Status", "Announced", "Active", "Recurs", "Gives"], campaigns) : h("p", { class: "muted" }, "No campaign is announced or active now."),
    ),
    h("section", { class: "card wide", "aria-labelledby": "p-rewards" }, h("h2", { id: "p-rewards" }, "Rewards"), table("program-rewards", ["Reward", "Points", "Where", "Tiers", "Window", "Stock", "Limit"], rewards)),
    h(
      "section",
      { class: "card wide", "aria-labelledby": "p-rules" },
      h("h2", { id: "p-rules" }, "Expiry and other rules"),
      h("dl", { class: "rules", "data-table": "program-rules" }, rules(prog).map(([term, words]) => h("div", {}, h("dt", {}, term), h("dd", {}, words)))),
    ),
  );
}

const plural = (n, one, many) => `${points(n)} ${n === 1 ? one : many}`;
const PERIODS = { month: "a month", year: "a year", lifetime: "in a member's lifetime" };

// The programme's rules as sentences a manager reads (GET /v1/program's blocks), instead of their JSON.
function rules(prog) {
  const e = prog.expiry;
  const expiry =
    e.policy === "never"
      ? "Points never expire."
      : e.policy === "activity_extends"
        ? `Points expire at the end of the ${ordinal(e.months)} month after the member's latest earning: any earning moves every point's expiry to that month.`
        : `Points expire at the end of the ${ordinal(e.months)} month after the month they were earned in.`;
  const q = prog.qualification;
  const measure = q.measure === "spend" ? `eligible spend (${prog.currency})` : "base points (before multipliers and bonuses)";
  const downgrade = q.downgrade === "one_down" ? "a member below its tier's threshold goes down one tier at a time" : "a member below its tier's threshold goes to the tier its value reaches";
  const retain = q.retain_months ? `; a tier reached is kept at least ${plural(q.retain_months, "month", "months")}` : "";
  const qualification = `Tiers by ${measure} over the last ${plural(q.window_months, "month", "months")}, evaluated on the 1st of each month: ${downgrade}${retain}.`;
  const pending = prog.pending_days ? `An order's points become spendable ${plural(prog.pending_days, "day", "days")} after the order (the return window).` : "An order's points are spendable at once.";
  const p = prog.pay_with_points;
  const pay = `${plural(p.points, "point pays", "points pay")} ${p.value} ${prog.currency} at the till; a hold lasts ${plural(p.hold_minutes, "minute", "minutes")}.`;
  const a = prog.activities || {};
  const bonuses = [];
  if (a.signup) bonuses.push(`${plural(a.signup, "point", "points")} on enrolment`);
  for (const [channel, n] of Object.entries(a.signup_by_channel || {})) bonuses.push(`${plural(n, "point", "points")} on enrolment via ${channel}`);
  if (a.referral) bonuses.push(`${plural(a.referral, "point", "points")} for a referral's first order`);
  for (const [name, t] of Object.entries(a.types || {})) bonuses.push(`${plural(t.points, "point", "points")} for a ${name.replaceAll("_", " ")}${t.cap ? ` (at most ${t.cap.count} ${PERIODS[t.cap.period] || t.cap.period})` : ""}`);
  const activities = bonuses.length ? `${capital(bonuses.join("; "))}.` : "No bonus for enrolment or activities.";
  return [
    ["Expiry", expiry],
    ["Qualification", qualification],
    ["Pending points", pending],
    ["Pay with points", pay],
    ["Bonuses", activities],
  ];
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th";
  return `${n}${suffix}`;
}

async function jobsScreen() {
  const ticket = state.ticket;
  const runs = (await api("GET", "/v1/jobs?limit=30")).jobs;
  if (moved(ticket)) return;
  const summary = (run) => {
    if (run.error) return h("span", { class: "error" }, run.error);
    const entries = Object.entries(run.summary || {}).filter(([k]) => k !== "job" && k !== "as_of");
    return entries.length ? entries.map(([k, v]) => `${k.replaceAll("_", " ")} ${typeof v === "number" ? points(v) : v}`).join(" · ") : "—";
  };
  const stuck = runs.filter((r) => r.dead_letters > 0);
  const latest = [...new Map(runs.map((r) => [r.job, r])).keys()].map((job) => runs.find((r) => r.job === job));
  show(
    h("h1", {}, "Monthly jobs"),
    h(
      "div",
      { class: "grid" },
      latest.map((r) =>
        h(
          "section",
          { class: "card", "aria-label": `Latest ${r.job} run`, "data-latest": r.job },
          h("h2", {}, r.job),
          h("p", {}, h("span", { class: `badge status-${r.status}` }, r.status), ` ${r.period || r.as_of}, finished ${when(r.finished_at)}`),
          h("p", {}, summary(r)),
        ),
      ),
    ),
    stuck.length ? h("p", { class: "error", role: "alert" }, `Dead-letter queues hold messages: ${stuck.map((r) => `${r.job} ${r.dead_letters}`).join(", ")}. See docs/operations.md.`) : h("p", { class: "muted" }, "No message waits in a dead-letter queue."),
    h(
      "section",
      { class: "card wide" },
      runs.length
        ? table(
            "jobs",
            ["Job", "Period", "Status", "Started", "Finished", "Summary", "Dead letters"],
            runs.map((r) =>
              h("tr", { "data-run": r.run_id || "" }, h("th", { scope: "row", class: "date" }, r.job), h("td", { class: "date" }, r.period || r.as_of), h("td", {}, h("span", { class: `badge status-${r.status}` }, r.status)), h("td", { class: "date" }, when(r.started_at)), h("td", { class: "date" }, when(r.finished_at)), h("td", {}, summary(r)), h("td", { class: "num" }, points(r.dead_letters))),
            ),
          )
        : h("p", { class: "muted" }, "No job has run yet."),
    ),
  );
}

// ---------------------------------------------------------------- manager: the lists before a message goes out
// Who has points expiring at the end of a month, and whose tier drops at the next evaluation unless they add to it
// (GET /v1/reports/expiring-points and /v1/reports/tier-downgrades, v1.2). A page at a time, "More" follows the
// cursor; "Download CSV" fetches every page as CSV (format=csv, the next page's cursor in `Next-Cursor`) and saves
// them as one file. The month is in the address (#/messages/2027-03): no personal data is.
const MESSAGE_LISTS = [
  {
    name: "expiring",
    path: "/v1/reports/expiring-points",
    title: (page) => `Points expiring at the end of ${page.month}`,
    empty: "No member has points expiring that month.",
    headings: ["Member", "Name", "Email", "Phone", "Status", "Tier", "Points expiring", "Balance"],
    cells: (r) => [r.member_id, r.name, r.email, r.phone, r.status, r.tier_id, points(r.points), points(r.balance)],
    numeric: [6, 7],
  },
  {
    name: "downgrades",
    path: "/v1/reports/tier-downgrades",
    title: (page) => `Tier drops at the evaluation of ${page.evaluation_on} unless they earn more`,
    empty: "The evaluation of that month warned no one.",
    headings: ["Member or account", "Name", "Email", "Phone", "Status", "Tier", "Threshold", "Qualifying then", "Still to add"],
    cells: (r) => [r.member_id || `account ${r.account_id}`, r.name, r.email, r.phone, r.status, r.tier_id, points(r.threshold), typeof r.qualifying_then === "number" ? points(r.qualifying_then) : r.qualifying_then, typeof r.remaining === "number" ? points(r.remaining) : r.remaining],
    numeric: [6, 7, 8],
  },
];
const MESSAGE_PAGE = 50;
const CSV_PAGE = 1000;

async function messagesScreen(month) {
  const ticket = state.ticket;
  const query = month ? `?month=${month}&limit=${MESSAGE_PAGE}` : `?limit=${MESSAGE_PAGE}`;
  const pages = await Promise.all(MESSAGE_LISTS.map((list) => api("GET", list.path + query)));
  if (moved(ticket)) return;
  const shown = pages[0].month;
  const picker = h("input", { id: "messages-month", type: "month", name: "month", value: shown, required: true });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "messages-title", onsubmit: (e) => (e.preventDefault(), picker.value && (window.location.hash = `#/messages/${picker.value}`)) },
    h("h1", { id: "messages-title" }, "Before a message goes out"),
    h("label", { for: "messages-month" }, "Month"),
    picker,
    h("p", { class: "muted" }, "Points that expire at the end of this month; tiers the evaluation of its 1st kept but the next one drops."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")),
  );
  show(form, MESSAGE_LISTS.map((list, i) => messageListCard(list, pages[i], shown, ticket)));
}

function messageListCard(list, first, month, ticket) {
  const body = h("tbody", {});
  const more = h("button", { type: "button", class: "quiet" }, "More");
  const count = h("span", { class: "muted", "data-count": list.name });
  const status = h("p", { class: "muted", role: "status" });
  let cursor = null;
  let rows = 0;
  const add = (page) => {
    append(body, page.members.map((r) => h("tr", { "data-row": r.member_id || r.account_id }, list.cells(r).map((c, i) => h(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, class: list.numeric.includes(i) ? "num" : null }, c === null || c === undefined ? "—" : c)))));
    rows += page.members.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    count.textContent = `${points(rows)} shown${cursor ? ", more to load" : ""}`;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api("GET", `${list.path}?month=${month}&limit=${MESSAGE_PAGE}&cursor=${encodeURIComponent(cursor)}`);
      if (!moved(ticket)) add(page);
    } catch (error) {
      status.replaceChildren(problem(error));
    } finally {
      more.disabled = false;
    }
  });
  const download = h("button", { type: "button", "data-download": list.name }, "Download CSV");
  download.addEventListener("click", async () => {
    download.disabled = true;
    status.textContent = "Preparing the file…";
    try {
      saveFile(`${list.name === "expiring" ? "expiring-points" : "tier-downgrades"}-${month}.csv`, await csvOfEveryPage(list.path, month));
      status.textContent = "Downloaded.";
    } catch (error) {
      status.replaceChildren(problem(error));
    } finally {
      download.disabled = false;
    }
  });
  const shownTable = table(`messages-${list.name}`, list.headings, []);
  shownTable.querySelector("tbody").replaceWith(body);
  add(first);
  return h(
    "section",
    { class: "card wide", "aria-labelledby": `messages-${list.name}-title`, "data-list": list.name },
    h("h2", { id: `messages-${list.name}-title` }, list.title(first)),
    first.members.length ? shownTable : h("p", { class: "muted" }, list.empty),
    h("div", { class: "actions" }, download, more, count),
    status,
  );
}

// Every page of a list as CSV, one header line: the API answers a page at a time (the cursor in `Next-Cursor`).
async function csvOfEveryPage(path, month) {
  let text = "";
  let cursor = null;
  do {
    const url = `${path}?month=${month}&format=csv&limit=${CSV_PAGE}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const answer = await fetch(new URL(url.replace(/^\//, ""), BASE), { headers: { Accept: "text/csv", Authorization: `Bearer ${state.key}` }, cache: "no-store", credentials: "omit" });
    const page = await answer.text();
    if (!answer.ok) {
      let error = {};
      try {
        error = JSON.parse(page).error || {};
      } catch (notJson) {
        error = {};
      }
      throw new ApiError(answer.status, error.code || "http_" + answer.status, error.message || answer.statusText);
    }
    text += text ? page.slice(page.indexOf("\r\n") + 2) : page; // the header line once
    cursor = answer.headers.get("Next-Cursor");
  } while (cursor);
  return text;
}

function saveFile(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- admin: webhooks (issue 25, contract v1.2)
// The endpoints other systems receive the domain events at (an email platform, a CRM), each endpoint's delivery
// log with every attempt, a retry by hand and a test message (/v1/webhooks, admin). A secret is answered by the
// creation and by a rotation only: it is shown once, in a box with a copy button, and kept nowhere.
const WEBHOOK_PAGE = 10;
// The contract's event types (CONTRACT.md "Domain events" and "Messages for members"); WebhookTest goes to
// every endpoint whatever its types, so it is not offered.
const EVENT_TYPES = [
  "MemberEnrolled",
  "PointsEarned",
  "PointsReversed",
  "PointsRedeemed",
  "RedemptionCancelled",
  "PointsAdjusted",
  "PointsExpired",
  "PointsExpiringSoon",
  "TierChanged",
  "RewardUnlocked",
  "TierDowngradeUpcoming",
  "PointsTransferred",
  "AccountMemberJoined",
  "AccountMemberLeft",
  "MemberImported",
];
const DISABLED_WORDS = { gone: "disabled: it answered 410 Gone", failing: "disabled: every attempt failed for 5 days" };
const FIELD_WORDS = { endpoint_id: "Endpoint id", url: "URL", event_types: "Event types", description: "Description" };

const endpointPath = (id) => `/v1/webhooks/${encodeURIComponent(id)}`;
const endpointStatus = (e) => (e.status === "enabled" ? "enabled" : DISABLED_WORDS[e.disabled_reason] || "disabled by an administrator");
const eventTypesWords = (types) => (types.includes("*") ? "every event" : types.join(", "));

// An error answer in words: a 422's every field in a sentence ("URL: the URL's host is a private address."),
// any other the contract's message and code.
function webhookProblem(error) {
  if (error instanceof ApiError && error.status === 422 && error.details.length) {
    return new Error(error.details.map((d) => `${FIELD_WORDS[d.field] || capital(d.field || "The request")}: ${d.message}.`).join(" "));
  }
  return error;
}

async function webhooksScreen() {
  const ticket = state.ticket;
  const { endpoints } = await api("GET", "/v1/webhooks");
  if (moved(ticket)) return;
  const rows = endpoints.map((e) =>
    h(
      "tr",
      { "data-endpoint": e.endpoint_id },
      h("th", { scope: "row" }, h("a", { href: `#/webhooks/${encodeURIComponent(e.endpoint_id)}` }, e.endpoint_id)),
      h("td", { class: "wrap" }, e.url),
      h("td", {}, eventTypesWords(e.event_types)),
      h("td", { "data-column": "status" }, h("span", { class: `badge status-${e.status}` }, endpointStatus(e))),
    ),
  );
  show(
    h("h1", {}, "Webhooks"),
    h("p", { class: "muted" }, "The endpoints other systems (an email platform, a CRM) receive the programme's events at, signed as Standard Webhooks messages. Open one for its deliveries."),
    h("section", { class: "card wide", "aria-labelledby": "webhooks-title" }, h("h2", { id: "webhooks-title" }, "Endpoints"), rows.length ? table("webhooks", ["Endpoint", "URL", "Event types", "Status"], rows) : h("p", { class: "muted" }, "No endpoint yet.")),
    addEndpointForm(),
  );
  if (state.webhookNote) toast(state.webhookNote);
  state.webhookNote = null;
}

function addEndpointForm() {
  const id = h("input", { id: "hook-id", name: "endpoint_id", required: true, autocomplete: "off", maxlength: "128", placeholder: "email-platform" });
  const url = h("input", { id: "hook-url", name: "url", type: "url", required: true, autocomplete: "off", maxlength: "2048", placeholder: "https://hooks.example.com/loyalty" });
  const description = h("input", { id: "hook-description", name: "description", autocomplete: "off", maxlength: "500" });
  const boxes = EVENT_TYPES.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "event_type", value: t, disabled: true }), t));
  const every = h("input", { type: "radio", name: "types", value: "every", checked: true });
  const chosen = h("input", { type: "radio", name: "types", value: "chosen" });
  const pick = () => boxes.forEach((b) => (b.firstChild.disabled = !chosen.checked));
  every.addEventListener("change", pick);
  chosen.addEventListener("change", pick);
  const form = h(
    "form",
    { class: "card wide", "aria-labelledby": "add-hook-title", onsubmit: (e) => (e.preventDefault(), addEndpoint(form)) },
    h("h2", { id: "add-hook-title" }, "Add an endpoint"),
    h("label", { for: "hook-id" }, "Endpoint id"),
    id,
    h("label", { for: "hook-url" }, "URL"),
    url,
    h("p", { class: "muted" }, "https:// on the public internet (locally, http:// to 127.0.0.1 or localhost too). An address inside the network is refused."),
    h("label", { for: "hook-description" }, "Description (optional)"),
    description,
    h(
      "fieldset",
      { class: "types" },
      h("legend", {}, "Event types"),
      h("label", { class: "check" }, every, "Every event"),
      h("label", { class: "check" }, chosen, "Chosen types"),
      h("div", { class: "choices" }, boxes),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add endpoint")),
  );
  return form;
}

function addEndpoint(form) {
  return submitting(form, async () => {
    const value = (name) => form.elements[name].value.trim();
    const chosen = form.elements.types.value === "chosen";
    const types = chosen ? [...form.querySelectorAll('[name="event_type"]:checked')].map((b) => b.value) : ["*"];
    if (!types.length) throw new Error("Choose at least one event type, or Every event.");
    const body = { endpoint_id: value("endpoint_id"), url: value("url"), event_types: types };
    if (value("description")) body.description = value("description");
    let created;
    try {
      created = await api("POST", "/v1/webhooks", body);
    } catch (error) {
      throw webhookProblem(error);
    }
    state.newSecret = { endpoint_id: created.endpoint_id, secret: created.secret, rotated: false };
    window.location.hash = `#/webhooks/${encodeURIComponent(created.endpoint_id)}`;
  });
}

// The secret, once: in a box with a copy button, never in a URL or in storage.
function secretBox(secret, rotated) {
  const field = h("input", { id: "hook-secret", readonly: true, value: secret, spellcheck: "false", autocomplete: "off", class: "secret" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      toast("Copied the secret.");
    } catch (refused) {
      field.select(); // the clipboard was refused: selected, for the person to copy by hand
      toast("The browser refused the clipboard: the secret is selected, copy it with the keyboard.");
    }
  };
  return h(
    "section",
    { class: "card wide secret-box", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, rotated ? "The new secret" : "The endpoint's secret"),
    h("p", {}, "It will not be shown again: copy it now into the receiver's configuration (it verifies every message's signature)."),
    rotated ? h("p", {}, "For the next 24 hours every message carries two signatures, the new secret's first and the old one's, so the receiver can switch to the new secret without missing a message.") : null,
    h("label", { for: "hook-secret" }, "Secret"),
    h("div", { class: "row" }, field, h("button", { type: "button", class: "quiet", onclick: copy }, "Copy secret")),
  );
}

async function webhookScreen(endpointId) {
  const fresh = state.newSecret && state.newSecret.endpoint_id === endpointId ? state.newSecret : null;
  state.newSecret = null;
  const ticket = state.ticket;
  let endpoint;
  try {
    endpoint = await api("GET", endpointPath(endpointId));
  } catch (error) {
    if (moved(ticket)) return;
    if (error.status !== 404) throw error;
    return show(h("h1", {}, "No such endpoint"), problem(error), h("p", {}, h("a", { href: "#/webhooks" }, "Back to the webhooks")));
  }
  if (moved(ticket)) return;
  const view = { endpoint, ticket, status: "", cursor: null, shown: [], stop: false, following: null, secretSlot: h("div", {}), card: h("section", { class: "card wide", "aria-labelledby": "endpoint-title" }), log: h("section", { class: "card wide", "aria-labelledby": "deliveries-title" }) };
  if (fresh) view.secretSlot.replaceChildren(secretBox(fresh.secret, fresh.rotated));
  drawEndpoint(view);
  show(h("p", {}, h("a", { href: "#/webhooks" }, "← All endpoints")), h("h1", {}, `Webhook endpoint ${endpoint.endpoint_id}`), view.secretSlot, view.card, view.log);
  await deliveries(view, false);
}

function drawEndpoint(view) {
  const e = view.endpoint;
  const enabled = e.status === "enabled";
  view.card.replaceChildren(
    h("h2", { id: "endpoint-title" }, "Endpoint"),
    h(
      "dl",
      { class: "figures" },
      figure("URL", e.url, "url"),
      figure("Event types", eventTypesWords(e.event_types), "event_types"),
      figure("Status", endpointStatus(e), "endpoint_status"),
      figure("Created", when(e.created_at), "created"),
      e.description ? figure("Description", e.description, "description") : null,
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: (ev) => endpointAction(view, ev.target, sendTest) }, "Send a test message"),
      h("button", { type: "button", class: "quiet", onclick: (ev) => endpointAction(view, ev.target, () => setEndpointStatus(view, enabled ? "disabled" : "enabled")) }, enabled ? "Disable" : "Enable"),
      h("button", { type: "button", class: "quiet", onclick: (ev) => endpointAction(view, ev.target, () => rotateSecret(view)) }, "Rotate secret"),
      h("button", { type: "button", class: "danger", onclick: (ev) => endpointAction(view, ev.target, () => deleteEndpoint(view)) }, "Delete endpoint"),
    ),
  );
}

// One action of the endpoint's card: its button off while it runs, an error said under the card.
async function endpointAction(view, button, work) {
  view.card.querySelector(".error")?.remove();
  button.disabled = true;
  try {
    await work(view);
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (!moved(view.ticket)) view.card.append(problem(webhookProblem(error)));
  } finally {
    button.disabled = false;
  }
}

async function setEndpointStatus(view, status) {
  view.endpoint = await api("PATCH", endpointPath(view.endpoint.endpoint_id), { status });
  if (moved(view.ticket)) return;
  drawEndpoint(view);
  toast(`${view.endpoint.endpoint_id} ${status}.`);
}

async function rotateSecret(view) {
  const id = view.endpoint.endpoint_id;
  const yes = await ask(`Rotate the secret of ${id}?`, ["A new secret is made and shown once. For 24 hours every message carries both signatures, the new secret's first; then only the new one's.", "Put the new secret in the receiver's configuration within those 24 hours."], "Rotate secret");
  if (!yes) return toast("Not rotated: nothing was sent.");
  const { secret } = await api("POST", `${endpointPath(id)}/rotate-secret`);
  if (moved(view.ticket)) return;
  view.secretSlot.replaceChildren(secretBox(secret, true));
}

async function deleteEndpoint(view) {
  const id = view.endpoint.endpoint_id;
  const yes = await ask(`Delete endpoint ${id}?`, ["Nothing more is sent to it, what it was still to be sent is dropped, and its secret and delivery log go with it.", "An endpoint made again under this id starts with a new secret and an empty log."], "Delete");
  if (!yes) return toast("Not deleted: nothing was sent.");
  view.stop = true; // a test or retry being followed stops reading the log before the endpoint goes
  await view.following;
  await api("DELETE", endpointPath(id));
  if (moved(view.ticket)) return;
  state.webhookNote = `${id} deleted: nothing more is sent to it.`;
  window.location.hash = "#/webhooks";
}

async function sendTest(view) {
  const delivery = await api("POST", `${endpointPath(view.endpoint.endpoint_id)}/test`);
  if (moved(view.ticket)) return;
  toast(`Test message sent to ${view.endpoint.endpoint_id}.`);
  await follow(view, delivery);
}

async function retryDelivery(view, delivery) {
  const again = await api("POST", `${endpointPath(view.endpoint.endpoint_id)}/deliveries/${encodeURIComponent(delivery.delivery_id)}/retry`);
  if (moved(view.ticket)) return;
  toast(`Sent ${delivery.type} again to ${view.endpoint.endpoint_id}.`);
  await follow(view, { ...again, attempts: delivery.attempts });
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// After a test or a retry: the list again every second until the delivery's attempt is recorded (locally a
// second or two; at most 20 s), then the endpoint too: a 410 disables it (just after the attempt is recorded).
function follow(view, sent) {
  const followed = followDelivery(view, sent);
  view.following = followed.catch(() => null);
  return followed;
}

async function followDelivery(view, sent) {
  const before = sent.attempts.length;
  let now = null;
  for (let i = 0; i < 20; i += 1) {
    if (view.stop) return;
    await deliveries(view, false);
    if (moved(view.ticket)) return;
    now = view.shown.find((d) => d.delivery_id === sent.delivery_id);
    if (now && now.attempts.length > before) break;
    await pause(1000);
  }
  const gone = now && now.attempts.length && now.attempts[now.attempts.length - 1].response_status === 410;
  for (let i = 0; i < 5; i += 1) {
    if (view.stop) return;
    view.endpoint = await api("GET", endpointPath(view.endpoint.endpoint_id));
    if (moved(view.ticket)) return;
    if (!gone || view.endpoint.status === "disabled") break;
    await pause(1000);
  }
  drawEndpoint(view);
}

function attemptWords(a) {
  const outcome = a.response_status !== null && a.response_status !== undefined ? `HTTP ${a.response_status}` : a.error || "no answer";
  return `${when(a.at)}: ${outcome} in ${points(a.duration_ms)} ms`;
}

function deliveryRow(view, d) {
  return h(
    "tr",
    { "data-delivery": d.delivery_id },
    h("td", { "data-column": "type" }, d.type),
    h("td", { "data-column": "event_id", class: "wrap" }, d.event_id),
    h("td", { "data-column": "status" }, h("span", { class: `badge status-${d.status}` }, d.status)),
    h("td", { "data-column": "created", class: "date" }, when(d.created_at)),
    h("td", { "data-column": "next_attempt", class: "date" }, when(d.next_attempt_at)),
    h("td", { "data-column": "attempts" }, d.attempts.length ? h("ol", { class: "attempts" }, d.attempts.map((a) => h("li", { class: a.response_status >= 200 && a.response_status < 300 ? "" : "minus" }, attemptWords(a)))) : h("span", { class: "muted" }, "none yet")),
    h("td", {}, h("button", { type: "button", class: "quiet nowrap", onclick: (ev) => endpointAction(view, ev.target, () => retryDelivery(view, d)) }, "Retry now")),
  );
}

// The delivery log, newest first: the first page (more = false) or the next one after what is shown.
async function deliveries(view, more) {
  const query = [`limit=${WEBHOOK_PAGE}`];
  if (view.status) query.push(`status=${view.status}`);
  if (more && view.cursor) query.push(`cursor=${encodeURIComponent(view.cursor)}`);
  const status = view.status;
  const page = await api("GET", `${endpointPath(view.endpoint.endpoint_id)}/deliveries?${query.join("&")}`);
  if (moved(view.ticket) || status !== view.status) return; // another screen, or another filter meanwhile
  view.shown = more ? view.shown.concat(page.deliveries) : page.deliveries;
  view.cursor = page.next_cursor;
  const filter = h("select", { id: "deliveries-status", onchange: (e) => ((view.status = e.target.value), deliveries(view, false).catch(failed)) }, [
    ["", "every status"],
    ["pending", "pending"],
    ["succeeded", "succeeded"],
    ["failed", "failed"],
  ].map(([value, label]) => h("option", { value, selected: value === view.status }, label)));
  view.log.replaceChildren(
    h("h2", { id: "deliveries-title" }, "Deliveries"),
    h("div", { class: "row" }, h("label", { for: "deliveries-status" }, "Status"), filter, h("button", { type: "button", class: "quiet", onclick: () => deliveries(view, false).catch(failed) }, "Refresh")),
    h("p", { class: "muted" }, "Newest first, kept 30 days. A failed attempt is tried again 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the one before; Retry now sends one again at once."),
    view.shown.length
      ? table("deliveries", ["Type", "Event id", "Status", "Created", "Next attempt", "Attempts", h("span", { class: "sr" }, "Actions")], view.shown.map((d) => deliveryRow(view, d)))
      : h("p", { class: "muted" }, view.status ? `No delivery with the status ${view.status}.` : "No delivery yet: send a test message."),
    view.cursor ? h("div", { class: "actions" }, h("button", { type: "button", class: "quiet", onclick: () => deliveries(view, true).catch(failed) }, "Load more")) : "",
  );
}

// ---------------------------------------------------------------- admin: import (issue 26, contract v1.2 "Import")
// An existing programme's members brought in from a file (JSONL or CSV): the import is made (POST /v1/imports),
// the file goes with a plain PUT to the URL it answers (deployed a presigned S3 URL, locally the stack's own),
// without the API key; Validate reads every row and writes nothing; the rejected rows are read with their errors
// (and saved as CSV); Apply, asked first, writes the valid rows. While the API validates or applies, the import is
// read again every second. The import's id is in the address (#/imports/<id>): no personal data is.
const IMPORT_PAGE = 20;
const IMPORT_ERRORS_PAGE = 50;
const IMPORT_CSV_PAGE = 100;
const IMPORT_FIELDS = { import_id: "Import id", format: "Format" };
const IMPORT_NEXT = {
  awaiting_upload: "The file has not arrived: upload it (again) below.",
  uploaded: "The file is here. Validate it next: every row is checked, nothing is written.",
  validating: "Validating: every row is checked, nothing is written.",
  validated: "Validated. Read the rejected rows, then apply: every valid row creates its member.",
  applying: "Applying: every valid row creates its member.",
  applied: "Applied. Applying again changes nothing.",
  failed: "Nothing more is done with it: start a new import, under a new id, with the file mended.",
};
const RUNNING = ["validating", "applying"];
// A node's children replaced, as h() takes them (nested arrays; null and false left out).
const refill = (node, ...children) => (node.replaceChildren(), append(node, children));

const importPath = (id) => `/v1/imports/${encodeURIComponent(id)}`;
const importFormatOf = (name) => (/\.csv$/i.test(name) ? "csv" : /\.(jsonl|ndjson)$/i.test(name) ? "jsonl" : null);
const bytes = (n) => (n < 1024 ? `${points(n)} bytes` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
// How far the apply is: rows applied or skipped, of the valid ones (whole percents, never 100 before the end).
const appliedShare = (r) => (r.valid ? Math.floor(((r.applied + r.skipped) * 100) / r.valid) : 100);

// A proposed id: the day and minute (UTC), which a person may keep or change.
function proposedImportId() {
  const now = new Date().toISOString();
  return `import-${now.slice(0, 10)}-${now.slice(11, 13)}${now.slice(14, 16)}`;
}

// An error answer in words: a 422's every field in a sentence, any other the contract's message and code.
function importProblem(error) {
  if (error instanceof ApiError && error.status === 422 && error.details.length) {
    return new Error(error.details.map((d) => `${IMPORT_FIELDS[d.field] || capital(d.field || "The request")}: ${d.message}.`).join(" "));
  }
  return error;
}

async function importsScreen() {
  const ticket = state.ticket;
  const view = { ticket, cursor: null, shown: [], box: h("section", { class: "card wide", "aria-labelledby": "imports-title" }, h("h2", { id: "imports-title" }, "Recent imports")) };
  show(
    h("h1", {}, "Import members"),
    h("p", { class: "muted" }, "Bring an existing programme's members, with their identifiers, tiers and balances, from a JSONL or CSV file (the contract's \"Import\"). A file is validated first (nothing is written), then applied; applying an import twice changes nothing."),
    startImportForm(ticket),
    view.box,
  );
  await recentImports(view, false);
}

async function recentImports(view, more) {
  view.box.querySelector(".error")?.remove();
  let page;
  try {
    page = await api("GET", `/v1/imports?limit=${IMPORT_PAGE}` + (more && view.cursor ? `&cursor=${encodeURIComponent(view.cursor)}` : ""));
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (!moved(view.ticket)) view.box.append(problem(error));
    return;
  }
  if (moved(view.ticket)) return;
  view.shown = more ? view.shown.concat(page.imports) : page.imports;
  view.cursor = page.next_cursor;
  const rows = view.shown.map((i) =>
    h(
      "tr",
      { "data-import": i.import_id },
      h("th", { scope: "row" }, h("a", { href: `#/imports/${encodeURIComponent(i.import_id)}` }, i.import_id)),
      h("td", { "data-column": "format" }, i.format),
      h("td", { "data-column": "status" }, h("span", { class: `badge status-${i.status}` }, i.status)),
      ["total", "valid", "rejected", "applied"].map((k) => h("td", { class: "num", "data-column": k }, points(i.rows[k]))),
      h("td", { class: "num", "data-column": "points" }, points(i.points.total)),
      h("td", { class: "date", "data-column": "created" }, when(i.created_at)),
    ),
  );
  refill(
    view.box,
    h("h2", { id: "imports-title" }, "Recent imports"),
    rows.length ? table("imports", ["Import", "Format", "Status", "Rows", "Valid", "Rejected", "Applied", "Points", "Created"], rows) : h("p", { class: "muted" }, "No import yet."),
    h(
      "div",
      { class: "actions" },
      view.cursor ? h("button", { type: "button", class: "quiet", onclick: () => recentImports(view, true) }, "Load more") : null,
      h("button", { type: "button", class: "quiet", onclick: () => recentImports(view, false) }, "Refresh"),
    ),
  );
}

// The file, its format (guessed from its name, .jsonl or .csv) and the import's id; Upload makes the import and
// sends the file. `fixed`: the id and format of an import made already (its page offers the upload again).
function startImportForm(ticket, fixed) {
  const file = h("input", { id: "import-file", name: "file", type: "file", required: true, accept: ".jsonl,.ndjson,.csv,text/csv,application/x-ndjson" });
  const format = h("select", { id: "import-format", name: "format", disabled: fixed ? true : null }, [
    ["jsonl", "JSONL: one JSON object a line"],
    ["csv", "CSV: a header line, one balance a row"],
  ].map(([value, label]) => h("option", { value, selected: fixed && fixed.format === value }, label)));
  const guess = h("p", { class: "muted", "data-figure": "format-guess" }, fixed ? `This import reads ${fixed.format === "csv" ? "CSV" : "JSONL"}.` : "Guessed from the file's name (.jsonl or .csv): change it if it is wrong.");
  file.addEventListener("change", () => {
    const picked = file.files[0];
    if (!picked || fixed) return;
    const found = importFormatOf(picked.name);
    if (found) format.value = found;
    guess.textContent = found ? `${picked.name}: ${found === "csv" ? "CSV" : "JSONL"}, by its name.` : `${picked.name}: its name says no format; choose it.`;
  });
  const id = h("input", { id: "import-id", name: "import_id", required: true, autocomplete: "off", maxlength: "128", value: fixed ? fixed.import_id : proposedImportId(), readonly: fixed ? true : null });
  const progress = h("div", { class: "upload", "data-upload": "" });
  const form = h(
    "form",
    { class: fixed ? "nested" : "card wide", "aria-labelledby": "start-import-title", onsubmit: (e) => (e.preventDefault(), startImport(form, progress, ticket, fixed)) },
    h("h2", { id: "start-import-title" }, fixed ? "Upload the file" : "Start an import"),
    h("label", { for: "import-file" }, "File"),
    file,
    h("label", { for: "import-format" }, "Format"),
    format,
    guess,
    h("label", { for: "import-id" }, "Import id"),
    id,
    fixed ? null : h("p", { class: "muted" }, "Proposed from the date and time; keep it or give your own."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Upload")),
    progress,
  );
  return form;
}

function startImport(form, progress, ticket, fixed) {
  return submitting(form, async () => {
    const picked = form.elements.file.files[0];
    if (!picked) throw new Error("Choose a file first.");
    const body = { import_id: form.elements.import_id.value.trim(), format: form.elements.format.value };
    let made;
    try {
      made = await api("POST", "/v1/imports", body);
    } catch (error) {
      throw importProblem(error);
    }
    // The same id and format again is answered as the first time (a replay): an import that has its file
    // already keeps it, and the person is told, instead of a second file over the first.
    const now = await api("GET", importPath(made.import_id));
    if (now.status !== "awaiting_upload") {
      throw new Error(`Import ${now.import_id} exists already (${now.status}): its file is not replaced. Give another id, or open it under Recent imports.`);
    }
    await upload(made.upload, picked, progress);
    if (moved(ticket)) return;
    state.importNote = `Uploaded ${picked.name} (${bytes(picked.size)}): validate it next.`;
    const target = `#/imports/${encodeURIComponent(made.import_id)}`;
    if (fixed && window.location.hash === target) route();
    else window.location.hash = target;
  });
}

// The file with a plain PUT (no API key: the URL carries its own permission), its progress as it goes.
function upload(target, file, box) {
  const bar = h("progress", { max: Math.max(file.size, 1), value: 0, "aria-label": "Upload" });
  const words = h("p", { "data-figure": "upload", role: "status" }, `Uploading ${file.name}…`);
  box.replaceChildren(bar, words);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method || "PUT", target.url);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.max = Math.max(e.total, 1);
      bar.value = e.loaded;
      words.textContent = `Uploading ${file.name}… ${percent(e.loaded, e.total)} of ${bytes(e.total)}`;
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = bar.max;
        words.textContent = `Uploaded ${file.name} (${bytes(file.size)}).`;
        return resolve();
      }
      words.textContent = `The upload of ${file.name} was refused.`;
      reject(uploadRefused(xhr));
    });
    xhr.addEventListener("error", () => ((words.textContent = `The upload of ${file.name} did not finish.`), reject(new ApiError(0, "network", "The file could not be sent: check the connection and try again."))));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was stopped.")));
    xhr.send(file);
  });
}

// An upload's refusal in words: the contract's error shape (the local stack), S3's XML error (deployed: an
// expired URL is "Request has expired"), or the HTTP status.
function uploadRefused(xhr) {
  const text = xhr.responseText || "";
  try {
    const error = JSON.parse(text).error;
    if (error && error.message) return new ApiError(xhr.status, error.code || `http_${xhr.status}`, `The upload was refused: ${error.message}`);
  } catch (notJson) {
    // S3's answer is XML
  }
  const xml = text.trim().startsWith("<") ? new DOMParser().parseFromString(text, "application/xml") : null;
  const code = xml && xml.querySelector("Error > Code");
  const message = xml && xml.querySelector("Error > Message");
  if (message) return new ApiError(xhr.status, code ? code.textContent : `http_${xhr.status}`, `The upload was refused: ${message.textContent}`);
  return new ApiError(xhr.status, `http_${xhr.status}`, `The upload was refused: HTTP ${xhr.status} ${xhr.statusText}`.trim());
}

async function importScreen(importId) {
  const note = state.importNote;
  state.importNote = null;
  const ticket = state.ticket;
  let found;
  try {
    found = await api("GET", importPath(importId));
  } catch (error) {
    if (moved(ticket)) return;
    if (error.status !== 404) throw error;
    return show(h("h1", {}, "No such import"), problem(error), h("p", {}, h("a", { href: "#/imports" }, "Back to the imports")));
  }
  if (moved(ticket)) return;
  const view = {
    imp: found,
    ticket,
    polling: false,
    card: h("section", { class: "card wide", "aria-labelledby": "import-title" }),
    errors: h("section", { class: "card wide", "aria-labelledby": "import-errors-title", hidden: true }),
    errorsOf: null, // the validation whose errors are shown (its validated_at)
    cursor: null,
    shown: [],
  };
  drawImport(view);
  show(h("p", {}, h("a", { href: "#/imports" }, "← All imports")), h("h1", {}, `Import ${found.import_id}`), view.card, view.errors);
  if (note) toast(note);
  await followImport(view);
}

function drawImport(view) {
  const i = view.imp;
  const r = i.rows;
  const actions = h("div", { class: "actions" });
  if (i.status === "uploaded") actions.append(h("button", { type: "button", onclick: (ev) => importAction(view, ev.target, validateImport) }, "Validate"));
  if (i.status === "validated") actions.append(h("button", { type: "button", onclick: (ev) => importAction(view, ev.target, applyImport) }, "Apply"));
  actions.append(h("button", { type: "button", class: "quiet", onclick: (ev) => importAction(view, ev.target, (v) => followImport(v)) }, "Refresh"));
  const showProgress = i.status === "applying" || i.status === "applied" || r.applied + r.skipped > 0;
  refill(
    view.card,
    h("h2", { id: "import-title" }, "The import"),
    h(
      "dl",
      { class: "figures" },
      figure("Status", h("span", { class: `badge status-${i.status}` }, i.status), "import_status"),
      figure("Format", i.format === "csv" ? "CSV" : "JSONL", "format"),
      figure("Created", when(i.created_at), "created"),
      figure("Validated", when(i.validated_at), "validated"),
      figure("Applied", when(i.applied_at), "applied_at"),
    ),
    h(
      "dl",
      { class: "figures counts" },
      figure("Rows", points(r.total), "rows_total"),
      figure("Valid", points(r.valid), "rows_valid"),
      figure("Rejected", points(r.rejected), "rows_rejected"),
      figure("Applied", points(r.applied), "rows_applied"),
      figure("Skipped", points(r.skipped), "rows_skipped"),
      figure("Points", points(i.points.total), "points_total"),
    ),
    showProgress
      ? h(
          "div",
          { class: "apply-progress" },
          h("progress", { max: 100, value: appliedShare(r), "aria-label": "Applied" }),
          h("p", { "data-figure": "progress" }, `${appliedShare(r)} %: ${points(r.applied + r.skipped)} of ${points(r.valid)} valid rows applied${r.skipped ? ` (${points(r.skipped)} of them already, skipped)` : ""}.`),
        )
      : null,
    i.status === "failed" ? h("p", { class: "error", role: "alert", "data-figure": "next" }, `The import failed${i.failed_reason ? `: ${i.failed_reason}` : ""}. ${IMPORT_NEXT.failed}`) : h("p", { "data-figure": "next", class: RUNNING.includes(i.status) ? "running" : "" }, IMPORT_NEXT[i.status] || i.status),
    actions,
    i.status === "awaiting_upload" ? startImportForm(view.ticket, i) : null,
  );
}

// One action of the import's card: its button off while it runs, an error said under the card (never dropped).
async function importAction(view, button, work) {
  view.card.querySelector(":scope > .error")?.remove();
  button.disabled = true;
  try {
    await work(view);
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (!moved(view.ticket)) view.card.append(problem(importProblem(error)));
  } finally {
    button.disabled = false;
  }
}

async function validateImport(view) {
  const before = view.imp.status;
  await api("POST", `${importPath(view.imp.import_id)}/validate`);
  if (moved(view.ticket)) return;
  toast(`Validating ${view.imp.import_id}.`);
  await followImport(view, before);
}

async function applyImport(view) {
  const i = view.imp;
  const r = i.rows;
  const yes = await ask(
    `Apply import ${i.import_id}?`,
    [
      `${plural(r.valid, "member", "members")} will be created, with ${plural(i.points.total, "point", "points")} in all (their opening balances).`,
      r.rejected ? `${plural(r.rejected, "rejected row is", "rejected rows are")} left out: nothing is written for ${r.rejected === 1 ? "it" : "them"}.` : "No row was rejected.",
      "No signup bonus, earning rule or campaign applies. Applying the same import again changes nothing.",
    ],
    "Apply",
  );
  if (!yes) return toast("Not applied: nothing was sent.");
  await api("POST", `${importPath(i.import_id)}/apply`);
  if (moved(view.ticket)) return;
  toast(`Applying ${i.import_id}.`);
  await followImport(view, "validated");
}

// The import read again every second while the API validates or applies it (or, just after an action, while it
// still reads as before the action: at most 10 s), then its rejected rows once it is validated.
async function followImport(view, before) {
  if (view.polling) return; // one reader at a time: a second click joins the first
  view.polling = true;
  try {
    const started = Date.now();
    for (;;) {
      const now = await api("GET", importPath(view.imp.import_id));
      if (moved(view.ticket)) return;
      view.imp = now;
      drawImport(view);
      const waiting = before && now.status === before && Date.now() - started < 10000;
      if (!RUNNING.includes(now.status) && !waiting) break;
      await pause(1000);
      if (moved(view.ticket)) return;
    }
  } finally {
    view.polling = false;
  }
  if (view.imp.validated_at && view.errorsOf !== view.imp.validated_at) await importErrors(view, false);
}

async function importErrors(view, more) {
  const path = `${importPath(view.imp.import_id)}/errors`;
  const query = `?limit=${IMPORT_ERRORS_PAGE}` + (more && view.cursor ? `&cursor=${encodeURIComponent(view.cursor)}` : "");
  let page;
  try {
    page = await api("GET", path + query);
  } catch (error) {
    if (error.status === 401) return failed(error);
    if (moved(view.ticket)) return;
    view.errors.hidden = false;
    view.errors.querySelector(":scope > .error")?.remove();
    return view.errors.append(problem(error));
  }
  if (moved(view.ticket)) return;
  view.errorsOf = view.imp.validated_at;
  view.shown = more ? view.shown.concat(page.errors) : page.errors;
  view.cursor = page.next_cursor;
  const status = h("p", { class: "muted", role: "status" });
  const download = h("button", { type: "button", "data-download": "errors", onclick: () => downloadImportErrors(view, download, status) }, "Download errors (CSV)");
  const rows = view.shown.map((e) =>
    h(
      "tr",
      { "data-row": e.row },
      h("th", { scope: "row", class: "num", "data-column": "row" }, points(e.row)),
      h("td", { "data-column": "member_id", class: "wrap" }, e.member_id || "—"),
      h("td", { "data-column": "field" }, e.field || "—"),
      h("td", { "data-column": "code" }, e.code),
      h("td", { "data-column": "message", class: "wrap" }, e.message),
    ),
  );
  view.errors.hidden = false;
  refill(
    view.errors,
    h("h2", { id: "import-errors-title" }, "Rejected rows"),
    rows.length
      ? [
          h("p", { class: "muted" }, "By the file's line (a CSV header is line 1); nothing is written for a rejected row. Mend them in the file and import it again under a new id."),
          table("import-errors", ["Row", "Member id", "Field", "Code", "Message"], rows),
          h(
            "div",
            { class: "actions" },
            download,
            view.cursor ? h("button", { type: "button", class: "quiet", onclick: (ev) => ((ev.target.disabled = true), importErrors(view, true)) }, "Load more") : null,
            h("span", { class: "muted", "data-count": "errors" }, `${points(view.shown.length)} shown${view.cursor ? ", more to load" : ""}`),
          ),
          status,
        ]
      : h("p", { class: "muted" }, "No row was rejected."),
  );
}

// Every page of the errors, as one CSV file made in the page (the API answers them as JSON).
async function downloadImportErrors(view, button, status) {
  button.disabled = true;
  status.textContent = "Preparing the file…";
  try {
    const path = `${importPath(view.imp.import_id)}/errors?limit=${IMPORT_CSV_PAGE}`;
    const lines = [["row", "member_id", "field", "code", "message"].join(",")];
    let cursor = null;
    do {
      const page = await api("GET", path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      for (const e of page.errors) lines.push([e.row, e.member_id, e.field, e.code, e.message].map(csvCell).join(","));
      cursor = page.next_cursor;
    } while (cursor);
    saveFile(`${view.imp.import_id}-errors.csv`, lines.join("\r\n") + "\r\n");
    status.textContent = `Downloaded ${plural(lines.length - 1, "error", "errors")}.`;
  } catch (error) {
    if (error.status === 401) return failed(error);
    status.replaceChildren(problem(error));
  } finally {
    button.disabled = false;
  }
}

// A CSV cell (RFC 4180) a spreadsheet shows as it is: text that starts like a formula (=, +, -, @, a tab or a
// return) gets a leading ' (a plain number stays as it is), as the API's own CSV does.
function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text) && !/^[+-]?[0-9]+(\.[0-9]+)?$/.test(text)) text = "'" + text;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// A yes or no before a step that cannot be undone; Cancel (or Escape) sends nothing.
function ask(title, sentences, yes) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "ask-title", "aria-describedby": "ask-what" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.addEventListener("cancel", (e) => (e.preventDefault(), done(false)));
    append(dialog, [
      h("h2", { id: "ask-title" }, title),
      h("div", { id: "ask-what" }, sentences.map((s) => h("p", {}, s))),
      h("div", { class: "actions" }, h("button", { type: "button", class: "quiet", autofocus: true, onclick: () => done(false) }, "Cancel"), h("button", { type: "button", class: "danger", onclick: () => done(true) }, yes)),
    ]);
    document.body.append(dialog);
    dialog.showModal();
  });
}

// ---------------------------------------------------------------- start
document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
const saved = sessionStorage.getItem(KEY_SLOT);
if (saved) {
  state.key = saved;
  api("GET", "/v1/keys/current")
    .then((me) => (adopt(me), route()))
    .catch((error) => (error.status === 401 ? signOut("The API refused the key; sign in again.") : failed(error)));
} else {
  signInScreen();
}
