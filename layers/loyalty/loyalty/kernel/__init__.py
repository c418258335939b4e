"""The kernel every other part stands on: the clock, calendar months, the domain errors, the settings and
observability (Logger, Tracer, Metrics). Imports nothing of the product above it.
"""
