"""Outbound network policy: which addresses the server may connect to on a user's behalf."""
