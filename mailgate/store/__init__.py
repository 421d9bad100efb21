"""Session stores: one interface, a memory and a Redis backend."""

from mailgate.store.interface import SessionRecord, SessionStore, StoreError

__all__ = ["SessionRecord", "SessionStore", "StoreError"]
