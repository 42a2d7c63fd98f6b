"""Alembic environment: the app's models, batch mode for SQLite, the app's engine settings."""

from alembic import context

from app import models  # noqa: F401  (registers the tables on Base.metadata)
from app.database import Base, make_engine

config = context.config


def database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    # Plain `alembic` from the shell: use the app's own configuration.
    from app import create_app
    from app.database import get_db

    return get_db(create_app()).url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url(), for_migrations=True)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
