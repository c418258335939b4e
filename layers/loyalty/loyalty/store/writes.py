"""Typed side writes (loyalty.domain.writes) as DynamoDB transaction items: the only place that knows their
items and conditions."""

from __future__ import annotations

from typing import Any

from loyalty.domain import writes as w
from loyalty.store import accounts, expiry, identity, orders, redemptions, tiers


def op(write: w.SideWrite) -> dict[str, Any]:
    match write:
        case w.PendingMarker(member_id, order_id, available_on):
            return orders.put_pending_marker_op(member_id, order_id, available_on)
        case w.PendingMarkerDone(member_id, order_id):
            return orders.delete_pending_marker_op(member_id, order_id)
        case w.RefundState(state, expected_version):
            return orders.put_refunds_op(state, expected_version)
        case w.StockTaken(reward_id, initial):
            return redemptions.take_stock_op(reward_id, initial)
        case w.StockReturned(reward_id):
            return redemptions.return_stock_op(reward_id)
        case w.HoldOpened(hold):
            return redemptions.put_hold_op(hold)
        case w.HoldSettled(redemption_id, status, settled_at, response):
            return redemptions.settle_hold_op(redemption_id, status, settled_at, response)
        case w.ExpiryWarningSent(member_id, month, fields):
            return expiry.put_warning_op(expiry.warning_item(member_id, month, fields))
        case w.TierWarningSent(holder_id, period, fields):
            return tiers.new_record_op(tiers.tier_warning_item(holder_id, period, fields))
        case w.Subscription(member_id, subscription_id, fields):
            return tiers.new_record_op(tiers.subscription_item(member_id, subscription_id, fields))
        case w.TierAudit(member_id, sort_key, fields):
            return tiers.new_record_op(tiers.audit_item(member_id, sort_key, fields))
        case w.StatusAudit(member_id, sort_key, fields):
            return tiers.new_record_op(tiers.status_audit_item(member_id, sort_key, fields))
        case w.IdentifierClaimed(kind, value, member_id):
            return identity.claim_op(kind, value, member_id)
        case w.IdentifierReleased(kind, value, member_id):
            return identity.release_op(kind, value, member_id)
        case w.IdentifierHeld(kind, value, member_id):
            return identity.holds_op(kind, value, member_id)
        case w.EnrolmentRecorded(enrolment):
            return identity.put_enrolment_op(enrolment)
        case w.EnrolmentErased(member_id):
            return identity.delete_enrolment_op(member_id)
        case w.AccountCreated(account_id, request_hash, response):
            return accounts.put_creation_op(account_id, request_hash, response)
        case w.MembershipSaved(membership):
            return accounts.put_membership_op(membership)
        case w.MembershipCounted(account_id, member_id, contributed, spent):
            return accounts.count_membership_op(account_id, member_id, contributed, spent)
    raise TypeError(f"not a side write: {write!r}")  # pragma: no cover - the union is closed
