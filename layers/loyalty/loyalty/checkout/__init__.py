"""Checkout: the till's and the web shop's whole flow in two calls (CONTRACT.md, Checkout).

- `pricing`: the arithmetic (reward discounts, the tier's and campaigns' percentages, the points payment,
  the eligible amount the order earns on). Pure: no AWS, no clock.
- `orders`: `quote` (writes nothing) and `place_order` (one transaction: the rewards spent, the points
  paid, the order earned, idempotent on `order_id`). Their reads are `loyalty.store.checkout`.

A checkout order is refunded by `POST /v1/refunds` (`loyalty.earning.earn.refund`), which gives back the points
it spent in proportion.
"""
