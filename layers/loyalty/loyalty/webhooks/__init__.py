"""Outbound webhooks (v1.2): endpoints, signed messages, delivery with retries, the delivery log."""
