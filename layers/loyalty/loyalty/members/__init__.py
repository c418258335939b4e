"""Members: enrolment and identity, the member view, ledger and recent events, lifecycle and privacy, adjustments.

- `enrolment`: enrol (idempotent, identifiers claimed race-free in the same transaction);
- `identity`: find a member by email, phone or card; edit the profile;
- `lifecycle`: suspend, reactivate, close, erase, export;
- `records`: the member (404 when missing), its ledger pages and recent events, an admin's adjustment;
- `views`: the member view, its profile, ledger lines (the tier's view is `loyalty.tiers.views`).

What each status allows is the domain's (`loyalty.domain.status`): every capability checks it.
"""
