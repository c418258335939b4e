"""The results as Markdown tables (what `make bench` prints, and what bench/README.md's figures show)."""

from __future__ import annotations

from typing import Any

from loyalty.jobs import registry


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _units(value: float) -> str:
    return f"{value:g}"


def _kb(size: int) -> str:
    return f"{size / 1024:,.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:,.1f} MiB"


def operations(results: dict[str, Any]) -> str:
    trips = results.get("ddb_round_trips") or {}
    capacity = results.get("capacity") or {}
    rows = []
    for key, t in trips.items():
        c = capacity.get(key) or {}
        budget = "" if t.get("budget") is None else f"{t['budget']} {'ok' if t['budget_holds'] else 'BROKEN'}"
        index = ", ".join(f"{k} {_units(v)}" for k, v in (c.get("index_write_units") or {}).items())
        rows.append(
            [
                f"`{key}`",
                t["round_trips"],
                " + ".join(t["calls"]),
                budget,
                _units(c.get("write_units", 0)) + (f" (GSI: {index})" if index else ""),
                _units(c.get("read_units", 0)),
                f"${c.get('usd_per_million', '?')}",
                _units(c.get("moto_reported_units", 0)) + ("*" if c.get("moto_unreported_calls") else ""),
            ]
        )
    prices = results.get("prices") or {}
    note = (
        f"Units computed from the items' sizes by DynamoDB's rules (bench/capacity.py); cost at "
        f"{prices.get('region', 'us-east-1')} on-demand prices as of {prices.get('as_of', '?')}: "
        f"${prices.get('usd_per_million_write_units', '?')} per million write units, "
        f"${prices.get('usd_per_million_read_units', '?')} per million read units. "
        "moto's own ConsumedCapacity is shown for comparison (* = moto reported nothing for a TransactWriteItems)."
    )
    return (
        _table(
            ["operation", "round trips", "calls", "budget", "write units", "read units", "$ per million", "moto says"],
            rows,
        )
        + "\n\n"
        + note
    )


def latency(results: dict[str, Any]) -> str:
    lat = results.get("latency_ms") or {}
    rows = []
    for name, figures in lat.items():
        if not isinstance(figures, dict):
            continue
        ratio = figures.get("ratio_p50_to_bare_put_item")
        rows.append([name, figures["p50"], figures["p95"], figures["p99"], "1" if ratio is None else f"{ratio}×"])
    return _table(["in process, against moto (ms)", "p50", "p95", "p99", "p50 ÷ bare PutItem p50"], rows) + (
        f"\n\n{lat.get('rounds', '?')} rounds, interleaved, after 5 unmeasured; absolute figures are this machine's."
    )


def imports(results: dict[str, Any]) -> str:
    cold = results.get("cold_import_ms") or {}
    boto3 = (cold.get("import_boto3") or {}).get("median_ms")
    rows = [["`import boto3`", boto3, "1", "", "", "", ""]]
    for name, figures in (cold.get("functions") or {}).items():
        heaviest = ", ".join(
            f"{h['module']} {h['ms']}" for h in (figures.get("heaviest") or {}).get("packages", [])[:3]
        )
        budget = figures.get("budget")
        rows.append(
            [
                name,
                figures.get("median_ms", figures.get("error")),
                f"{figures.get('ratio_to_boto3', '?')}×",
                f"≤ {budget}×" if budget else "",
                f"{figures['cpu_ratio_to_boto3']}×" if "cpu_ratio_to_boto3" in figures else "",
                figures.get("first_request_imports_ms", ""),
                heaviest,
            ]
        )
    return _table(
        [
            f"python3.12 -I -S, built artefacts (median of {cold.get('runs', '?')}, wall ms)",
            "import",
            "÷ import boto3",
            "budget",
            "CPU ÷ boto3's CPU",
            "+ first request's imports",
            "own time by package (ms)",
        ],
        rows,
    )


def packages(results: dict[str, Any]) -> str:
    pkg = results.get("package_bytes") or {}
    rows = [
        [f"function {n}", _kb(f["zipped_bytes"]), _kb(f["unzipped_bytes"])] for n, f in pkg.get("functions", {}).items()
    ]
    for name, layer in (pkg.get("layers") or {}).items():
        largest = ", ".join(f"{p['package']} {_kb(p['unzipped_bytes'])}" for p in layer.get("largest", [])[:3])
        rows.append(
            [
                f"layer {name}" + (f" ({largest})" if largest else ""),
                _kb(layer["zipped_bytes"]),
                _kb(layer["unzipped_bytes"]),
            ]
        )
    text = _table(["package", "zipped", "unzipped"], rows)
    if "largest_function_with_layers_unzipped_bytes" in pkg:
        total = _kb(pkg["largest_function_with_layers_unzipped_bytes"])
        text += (
            f"\n\nLargest function with both layers, unzipped: {total} of Lambda's {_kb(pkg['unzipped_limit_bytes'])}."
        )
    return text


def jobs(results: dict[str, Any]) -> str:
    data = results.get("jobs") or {}
    runs = [(size, job, job) for size in data.get("sizes", []) for job in registry.MONTHLY_NAMES[::-1]]
    if data.get("control"):
        expiry = registry.EXPIRY.name
        runs.append((data["control"], expiry, f"{expiry} (control)"))
    rows = []
    for size, job, label in runs:
        j = size[job]
        written = sum(j["items_written"].values())
        kinds = ", ".join(f"{k} {v:,}" for k, v in j["items_written"].items())
        rows.append(
            [
                label,
                f"{size['members']:,}",
                f"{size['affected']:,}",
                f"{j['round_trips']:,}",
                f"{j['items_read']:,} ({j['items_read_per_affected']})",
                f"{written:,} ({j['items_written_per_affected']}): {kinds}",
                _units(j["read_units"]),
                _units(j["write_units"]),
                f"${j['usd_per_run']}",
            ]
        )
    headers = ["job", "members", "affected", "round trips", "items read (per affected)", "items written (per affected)"]
    text = _table([*headers, "read units", "write units", "$ per run"], rows)
    growth = data.get("growth")
    if growth:
        parts = ", ".join(f"{k} ×{v}" for k, v in growth.items() if k != "members")
        text += f"\n\nGrowth for ×{growth['members']:g} members (and ×{growth['members']:g} affected): {parts}."
    if data.get("control_vs_small"):
        parts = ", ".join(f"{k} ×{v}" for k, v in data["control_vs_small"].items())
        text += (
            f"\n\nControl ({data['control']['affected']:,} affected in a table of {data['control']['members']:,}) "
            f"against the same affected count in a table of {data['sizes'][0]['members']:,}: {parts}."
        )
    for problem in data.get("problems") or []:
        text += f"\n\nPROBLEM: {problem}"
    return text


def local_stack(results: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    local = results.get("local_stack") or {}
    current = local["current"]
    before = (previous or {}).get("local_stack") or {}
    base = local.get("baseline")

    def row(label: str, now: Any, then: Any = None, last: Any = None) -> list[Any]:
        return [label, "" if then is None else then, now, "" if last is None else last]

    def last(*keys: str) -> Any:
        value: Any = before
        for key in keys:
            value = (value or {}).get(key) if isinstance(value, dict) else None
        return value

    first, after = current["first_events"], current["after_events"]
    rows = [
        row(
            "one client, requests/s (fresh stack)",
            first["requests_per_s"],
            base and base["requests_per_s"],
            last("current", "first_events", "requests_per_s"),
        ),
        row(
            "p50 ms (all / enrol / earn / read)",
            " / ".join(str(round(first["latency_ms"][k]["p50"], 1)) for k in ("all", "enrol", "earn", "read")),
            base and " / ".join(str(round(base["latency_ms"][k]["p50"], 1)) for k in ("all", "enrol", "earn", "read")),
        ),
        row(
            f"requests/s after {after['events_before']:,} events",
            after["requests_per_s"],
            None,
            last("current", "after_events", "requests_per_s"),
        ),
        row("after ÷ fresh", local["after_vs_first"], None, last("after_vs_first")),
    ]
    for query, figures in current["events_get"].items():
        label = "GET /_local/events" + ("" if query == "all" else f"?{query}")
        rows.append(row(f"{label} ms ({figures['events']:,} events)", figures["ms"], None, None))
    if base:
        events = base["events_get"]
        rows.append(row(f"GET /_local/events ms, baseline ({events['events']:,} events)", "", events["ms"]))
    headers = ["local stack over HTTP", f"baseline {base['ref']}" if base else "baseline", "this run", "previous run"]
    text = _table(headers, rows)
    if "speedup" in local:
        text += f"\n\nOne client: {local['speedup']}× the baseline's requests/s, side by side in this run."
    text += (
        f"\n\nMix: {local['mix']}; median of {local['settings']['windows']} windows of "
        f"{local['settings']['window_rounds']} rounds; the fill to {local['settings']['fill_events']:,} events ran at "
        f"{current['fill']['requests_per_s']} requests/s, events published as it went."
    )
    return text


def mutation(results: dict[str, Any]) -> str:
    """The last mutation run (bench/mutation.py): per file the mutants and the score, then each survivor."""
    data = results.get("mutation") or {}
    rows = []
    survivors: list[str] = []
    for name, f in (data.get("files") or {}).items():
        if "error" in f:
            rows.append([name, "error", "", "", "", "", f["error"][:80]])
            continue
        rows.append(
            [name, f["mutants"], f["killed"], f["survived"], f["timeout"], f["incompetent"], f["score"], f["seconds"]]
        )
        for s in f["survivors"]:
            change = " / ".join(line.strip() for line in s["diff"].splitlines())
            survivors.append(f"- `{name}:{s['line']}` {s['operator']}: `{change[:160]}`")
    text = _table(["cosmic-ray", "mutants", "killed", "survived", "timeout", "incompetent", "score", "s"], rows)
    sample = f" (a sample: the first {data['sample']} of each file)" if data.get("sample") else ""
    text += f"\n\nSurvivors{sample}: each is a test to write or a line to delete.\n" + ("\n".join(survivors) or "none")
    return text


def hot_pool(results: dict[str, Any]) -> str:
    data = results["hot_pool"]
    rows = []
    for side, label in (("one_pool", "into one account's pool"), ("separate_members", "for separate members")):
        d = data[side]
        rows.append(
            [
                f"{data['clients']} tills {label}",
                str(d["earns"]),
                str(d["earns_per_s"]),
                str(d["ms"]["p50"]),
                str(d["ms"]["p99"]),
                str(d["ms"]["max"]),
                str(d["retries_per_earn"]),
                ", ".join(f"{k}: {v}" for k, v in d["statuses"].items()),
            ]
        )
    text = _table(["side by side", "earns", "earns/s", "p50 ms", "p99 ms", "max ms", "retries/earn", "answers"], rows)
    check = data["pool_check"]
    held = "holds" if check["holds"] else "DOES NOT HOLD"
    return (
        f"{text}\n\nThe pool's balance {check['balance']} = its ledger's sum {check['ledger_sum']} = the pool "
        f"parts answered {check['answered_parts']}: {held}."
    )


def webhooks(results: dict[str, Any]) -> str:
    data = results["webhooks"]
    rows = []
    for side, label in (("all_healthy", "5 healthy"), ("one_failing", "4 healthy, 1 answering 500")):
        d = data[side]
        rows.append(
            [
                label,
                str(d["events"]),
                str(d["events_per_s"]),
                str(d["healthy_messages"]),
                str(d["missing"]),
                str(d["delay_ms"]["p50"]),
                str(d["delay_ms"]["p99"]),
                str(d["delay_ms"]["max"]),
                str(d["all_delivered_s"]),
                str(d["failing_attempts"]),
            ]
        )
    head = ["endpoints", "events", "events/s", "healthy msgs", "missing", "p50 ms", "p99 ms", "max ms"]
    text = _table([*head, "all in (s)", "failing attempts"], rows)
    ratio = data["ratio"]
    return (
        f"{text}\n\nThe healthy endpoints' delay with one failing endpoint, against all healthy: p50 "
        f"{ratio['p50']}x, p99 {ratio['p99']}x (at most {data['ratio_max']}x)."
    )


def migration(results: dict[str, Any]) -> str:
    data = results["migration"]
    rows = []
    for v in data["validations"]:
        rows.append(
            [
                f"{v['rows']:,}",
                v["table"],
                str(v["file_mb"]),
                str(v["seconds"]),
                f"{v['rows_per_second']:,}",
                str(v["memory_growth_mb"]),
                f"{v['rejected']:,}",
            ]
        )
    head = ["rows", "the table's answers", "file MB", "s", "rows/s", "memory growth MB", "rejected"]
    a = data["apply"]
    phases = ", ".join(f"{k} {v} s" for k, v in a["phases_seconds"].items())
    applied = a["upload_to_applied_seconds"]
    return (
        f"Validation:\n\n{_table(head, rows)}\n\nApply of {a['rows']:,} rows over HTTP on the local stack: "
        f"{a['applied']:,} members, {a['points']:,} points; {phases} (upload to applied {applied} s). "
        f"Reconcile after it: {a['reconcile']}."
    )


def _replay(results: dict[str, Any]) -> str:
    from bench import replay

    return replay.render(results)


SECTIONS = {
    "ops": ("DynamoDB per operation (warm handlers, events/, moto)", operations),
    "latency": ("Latency", latency),
    "imports": ("Cold import", imports),
    "packages": ("Package sizes (as SAM zips them)", packages),
    "jobs": ("Monthly jobs", jobs),
    "local": ("The local stack (`make run`) over HTTP", local_stack),
    "pool": ("The hot pool (one account, 20 tills at once) over HTTP", hot_pool),
    "webhooks": ("Webhooks: a burst to 5 endpoints, one failing, over HTTP", webhooks),
    "replay": ("The what-if replay, by group size", _replay),
    "migration": ("Bringing a programme here: validating a file, importing it", migration),
    "mutation": ("Mutation testing of the money code (`make mutate`)", mutation),
}

RESULT_KEYS = {
    "ops": "ddb_round_trips",
    "latency": "latency_ms",
    "imports": "cold_import_ms",
    "packages": "package_bytes",
    "jobs": "jobs",
    "local": "local_stack",
    "pool": "hot_pool",
    "webhooks": "webhooks",
    "replay": "replay",
    "migration": "migration",
    "mutation": "mutation",
}


def render(results: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    parts = []
    for section, (title, fn) in SECTIONS.items():
        if results.get(RESULT_KEYS[section]):
            body = local_stack(results, previous) if section == "local" else fn(results)
            parts.append(f"### {title}\n\n{body}")
    return "\n\n".join(parts) + "\n"
