"""Request models of the public contract (../shared/CONTRACT.md), by capability: what clients may send.

Bodies are strict (`common.Request`): a field a route does not define is a 422 naming it."""
