"""Tiers: the maths (`maths`: qualifying windows, thresholds, benefits, the upgrade after an earn), the member's
tier view (`views`), the monthly evaluation (`evaluation`) and tiers given, not earned (`grants`).
"""
