"""Reports: the counters a manager reads (`summary`: members per tier, activity by month), the points
liability (`liability`) and the reconciliation of a member's figures with its ledger (`reconcile`).
"""
