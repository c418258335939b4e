"""Earning: the rules (`rules`: what an order earns, what a refund takes back; pure) and the operations
(`earn`: purchases, previews, refunds, activities, pending activation).
"""
