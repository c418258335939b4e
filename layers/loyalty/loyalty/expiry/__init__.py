"""Expiry: the monthly run that takes the points whose month is over and warns of the next (`job`)."""
