"""mailgate: a privacy-respecting webmail session backend."""

__version__ = "0.1.0"
