"""The data-access layer: every boto3 call of the product lives in this package.

Keys (one table, `LoyaltyTable` in template.yaml; the README has the access-pattern table):

| item                | PK                          | SK        | indexes                                  |
|---------------------|-----------------------------|-----------|------------------------------------------|
| member              | `MEMBER#<member_id>`        | `MEMBER`  | `expiry`: `EXP#<shard>`, `<earliest month>#<id>`; `members`: `MEMBERS#<shard>`, `PK` |
| ledger entry        | `ENTRY#<idempotency key>`   | `ENTRY`   | `ledger`: `MEMBER#<member_id>`, `<seq:012d>`  |
| API key             | `APIKEYS`                   | `<sha256 of the key>` |                              |
| order refunds       | `ORDER#<order_id>`          | `REFUNDS` |                                          |
"""
