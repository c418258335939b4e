"""What a failed AWS call says, in one line, for a command-line tool (no traceback for a wrong endpoint)."""

from __future__ import annotations


def aws_failure(exc: BaseException) -> str | None:
    """One line for an AWS call that failed (nothing answers at the endpoint, no credentials, an error answer
    such as a 404 from a server that is not AWS), or None when `exc` is not a failed AWS call."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        said = _one_line(error.get("Message") or "")
        return f"{exc.operation_name} answered {error.get('Code') or status}{': ' + said if said else ''}"
    if isinstance(exc, BotoCoreError):
        return _one_line(str(exc))
    return None


def _one_line(text: str, limit: int = 200) -> str:
    """A message on one line, cut: an error page from a server that is not AWS comes as its whole HTML."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
