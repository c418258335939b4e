"""One place builds the Logger, Tracer and Metrics that every handler imports."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="loyalty")
tracer = Tracer(service="loyalty")
metrics = Metrics(namespace="Loyalty", service="loyalty")
