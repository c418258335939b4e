"""The loyalty domain: programme rules, ledger maths and the DynamoDB access layer."""
