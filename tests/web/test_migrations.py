from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from server.cli import alembic_config
from server.db import Base, make_engine
from server.models import Event


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


def test_events_made_before_the_marking_keep_every_submission_public(database_url):
    config = alembic_config(database_url)
    command.upgrade(config, "0003")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (name, title, state, kit_dir, public_data_dir,"
                " hidden_data_dir, use_gpu, min_gap_seconds, max_per_day, timeout_seconds,"
                " memory_limit_mb, max_retries, created_at) VALUES ('school', 'School', 'OPEN',"
                " 'kit', 'kit', 'hidden', false, 300, 10, 1800, 8192, 2, '2026-01-05 10:00:00')"
            )
        )
    command.upgrade(config, "head")
    with Session(engine) as session:
        assert session.scalars(select(Event)).one().public_submissions is None
    command.downgrade(config, "0003")
    assert "public_submissions" not in {
        column["name"] for column in inspect(engine).get_columns("events")
    }
    engine.dispose()
