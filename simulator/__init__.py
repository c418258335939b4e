"""The loyalty simulator: a synthetic year of members driven over HTTP against a local stack.

`make simulate PROGRAM=programs/demo.yaml MEMBERS=200 MONTHS=13` (or `python -m simulator --help`):
enrolments, orders, refunds, activities, partner redemptions, pay-with-points and paid subscriptions,
with the local clock moved week by week and the monthly jobs (expiry, tier evaluation) run on the 1st.
It ends with a summary (members per tier, points earned, redeemed and expired, the outstanding
liability, the breakage rate) and a PNG chart under `sim-out/`.

Modules: `plan` (who does what when: pure, seeded), `client` (HTTP, partner signatures, retries),
`stack` (start a local stack or use SIM_URL), `run` (the year, on a thread pool), `report` (summary
and chart), `progress` (the progress bar).
"""
