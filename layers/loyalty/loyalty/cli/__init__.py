"""`python -m loyalty.cli ...`: the operator CLI under the name the runbooks use (`python -m loyalty` is the same
one, `loyalty.edge.cli`); the top floor of the house, above the edge, so nothing in the product imports it."""
