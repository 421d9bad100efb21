"""Pytest fixtures and helpers for testing a webmail UI or deployment against mailgate."""
