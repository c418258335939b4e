"""The bench runs moto with transactions that cost what they touch: see loyalty_local.moto_fast."""

from loyalty_local.moto_fast import fast_transactions

__all__ = ["fast_transactions"]
