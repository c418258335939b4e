"""Environment, read once into a validated settings model."""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, Field, ValidationError


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    event_bus_name: str = "default"
    # `bundled:demo` loads the programme shipped with the package; a path loads a YAML or JSON file;
    # `ssm:/name` reads the SSM parameter through Powertools Parameters (cached).
    program_source: str = "bundled:demo"
    program_cache_seconds: int = 60
    tier_queue_url: str | None = None
    expiry_queue_url: str | None = None
    tier_dead_letter_queue_url: str | None = None
    expiry_dead_letter_queue_url: str | None = None
    webhook_queue_url: str | None = None  # the webhook delivery queue
    webhook_secret_prefix: str = "loyalty/webhooks/"  # noqa: S105 - where endpoint secrets live, not a secret
    import_bucket: str | None = None  # where import files are uploaded (v1.2)
    import_queue_url: str | None = None  # the import worker's queue
    # Where an upload URL points (the local stack serves it); unset: S3's own endpoint, as deployed.
    upload_endpoint_url: str | None = None
    local_mode: bool = False


ENV_NAMES = {
    "table_name": "TABLE_NAME",
    "event_bus_name": "EVENT_BUS_NAME",
    "program_source": "PROGRAM_SOURCE",
    "program_cache_seconds": "PROGRAM_CACHE_SECONDS",
    "tier_queue_url": "TIER_QUEUE_URL",
    "expiry_queue_url": "EXPIRY_QUEUE_URL",
    "tier_dead_letter_queue_url": "TIER_DEAD_LETTER_QUEUE_URL",
    "expiry_dead_letter_queue_url": "EXPIRY_DEAD_LETTER_QUEUE_URL",
    "webhook_queue_url": "WEBHOOK_QUEUE_URL",
    "webhook_secret_prefix": "WEBHOOK_SECRET_PREFIX",
    "import_bucket": "IMPORT_BUCKET",
    "import_queue_url": "IMPORT_QUEUE_URL",
    "upload_endpoint_url": "UPLOAD_ENDPOINT_URL",
    "local_mode": "LOYALTY_LOCAL",
}


class ConfigurationError(RuntimeError):
    pass


@functools.cache
def settings() -> Settings:
    raw = {field: os.environ[env] for field, env in ENV_NAMES.items() if os.environ.get(env)}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        wanted = ", ".join(f"{ENV_NAMES[str(e['loc'][0])]} ({e['msg']})" for e in exc.errors())
        raise ConfigurationError(f"bad or missing environment: {wanted}") from None


def reset() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    settings.cache_clear()
