"""The data-access layer: every boto3 call of the product lives in this package.

Keys (one table, `LoyaltyTable` in template.yaml; docs/design.md has the access-pattern table):

- member: `MEMBER#<member_id>` / `MEMBER`; indexes `expiry` (`EXP#<shard>`, `<earliest month>#<id>`,
  only members with points that can expire) and `members` (`MEMBERS#<shard>`, `PK`, keys only)
- ledger entry: `ENTRY#<idempotency key>` / `ENTRY`; index `ledger` (`MEMBER#<member_id>`, `<seq:012d>`)
- API key: `APIKEYS` / `<sha256 of the key>`
- order refunds: `ORDER#<order_id>` / `REFUNDS`
"""
