"""The gateway's database: SQLAlchemy 2 models, engine set-up, Alembic migrations and data import."""
