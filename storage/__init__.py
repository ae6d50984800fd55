"""Persistence: SQLModel tables, sessions, Alembic migrations and seed loaders."""
