"""Redemption: partner rewards, pay with points and its holds, cancellations, the catalogue (`redeem`), and
the partners' request signatures (`signatures`).
"""
