"""Storage: the only code that touches the database (one interface, SQLite and PostgreSQL backends)."""

from paperwire.storage.store import Store, open_store

__all__ = ["Store", "open_store"]
