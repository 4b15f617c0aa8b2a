"""The one implementation of the storage ports: `SqlStorage` (store.py), SQLAlchemy Core in a module per domain."""
