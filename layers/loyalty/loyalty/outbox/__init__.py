"""The outbox: the stream processor's work for a batch of committed changes (`processor`): report counters,
business metrics, stored member events, then the domain events on the bus.
"""
