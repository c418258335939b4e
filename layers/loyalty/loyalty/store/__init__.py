"""The data-access layer: every boto3 call of the product lives in this package.

Keys (one table, `LoyaltyTable` in template.yaml; the README has the access-pattern table):

| item                | PK                          | SK        | indexes                                  |
|---------------------|-----------------------------|-----------|------------------------------------------|
| member              | `MEMBER#<member_id>`        | `MEMBER`  | `expiry`: EXPPK=`EXP#<shard>`, EXPSK=`<earliest expiry month>#<member_id>` |
| ledger entry        | `ENTRY#<idempotency key>`   | `ENTRY`   | `ledger`: GSI1PK=`MEMBER#<member_id>`, GSI1SK=`<seq, 12 digits>` |
| API key             | `APIKEYS`                   | `<sha256 of the key>` |                              |
| order refunds       | `ORDER#<order_id>`          | `REFUNDS` |                                          |
"""
