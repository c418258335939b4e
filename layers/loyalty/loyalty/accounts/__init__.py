"""Accounts: companies and households. A pool of points its members' orders feed, with a tier of its own,
the people it names spending it, and transfers between members and into pools (CONTRACT.md v1.2)."""
