from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.cli import alembic_config
from server.db import Base, make_engine


def test_upgrade_matches_models_then_downgrade_empties(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        # A model change without its revision shows up here as a difference.
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
