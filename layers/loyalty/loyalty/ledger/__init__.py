"""The ledger: the one funnel every point moves through (`funnel`), the ledger maths on a member (`maths`)
and the shape every write shares, one conditional transaction (`operations`).
"""
