"""Pytest plugin entry point (registered as `mailgate`); fixtures are defined in fixtures.py."""
