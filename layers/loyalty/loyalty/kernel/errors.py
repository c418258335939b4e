"""Domain errors. Each carries the contract's HTTP status and stable error code."""

from __future__ import annotations

from typing import Any


class LoyaltyError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthorized(LoyaltyError):
    status, code = 401, "unauthorized"


class InvalidSignature(LoyaltyError):
    status, code = 401, "invalid_signature"


class Forbidden(LoyaltyError):
    status, code = 403, "forbidden"


class MemberNotFound(LoyaltyError):
    status, code = 404, "member_not_found"


class RewardNotFound(LoyaltyError):
    status, code = 404, "reward_not_found"


class OrderNotFound(LoyaltyError):
    status, code = 404, "order_not_found"


class RedemptionNotFound(LoyaltyError):
    status, code = 404, "redemption_not_found"


class RouteNotFound(LoyaltyError):
    status, code = 404, "not_found"


class MemberExists(LoyaltyError):
    status, code = 409, "member_exists"


class IdempotencyConflict(LoyaltyError):
    status, code = 409, "idempotency_conflict"


class InsufficientPoints(LoyaltyError):
    status, code = 409, "insufficient_points"


class MemberInactive(LoyaltyError):
    status, code = 409, "member_inactive"


class IdentifierInUse(LoyaltyError):
    """An email, phone or card_id that another member holds."""

    status, code = 409, "identifier_in_use"


class RewardUnavailable(LoyaltyError):
    status, code = 409, "reward_unavailable"


class InvalidState(LoyaltyError):
    """The operation does not fit the object's current state (capturing a voided hold, say)."""

    status, code = 409, "invalid_state"


class ValidationFailed(LoyaltyError):
    status, code = 422, "validation_error"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", details=[{"field": field, "message": message}])


class RefundExceedsOrder(LoyaltyError):
    status, code = 422, "refund_exceeds_order"


class ActivityLimitReached(LoyaltyError):
    status, code = 422, "activity_limit_reached"


class RewardNotEligible(LoyaltyError):
    status, code = 422, "reward_not_eligible"


class PayloadTooLarge(LoyaltyError):
    status, code = 413, "payload_too_large"


class Contention(LoyaltyError):
    """Optimistic concurrency gave up after its retries: the caller may retry safely."""

    status, code = 503, "busy"


class AccountNotFound(LoyaltyError):
    status, code = 404, "account_not_found"


class AccountExists(LoyaltyError):
    status, code = 409, "account_exists"


class MemberInAccount(LoyaltyError):
    status, code = 409, "member_in_account"


class AccountFull(LoyaltyError):
    status, code = 409, "account_full"


class TransferLimitReached(LoyaltyError):
    status, code = 422, "transfer_limit_reached"


class EndpointNotFound(LoyaltyError):
    status, code = 404, "endpoint_not_found"


class EndpointExists(LoyaltyError):
    status, code = 409, "endpoint_exists"


class DeliveryNotFound(LoyaltyError):
    status, code = 404, "delivery_not_found"


class ImportNotFound(LoyaltyError):
    status, code = 404, "import_not_found"


class ImportExists(LoyaltyError):
    status, code = 409, "import_exists"
