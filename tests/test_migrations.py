"""The migrations build exactly the schema that schema.py declares, on SQLite and PostgreSQL, and end in one head."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from paperwire.storage import Store, open_store
from paperwire.storage.postgres import engine_url
from paperwire.storage.schema import metadata
from paperwire.storage.store import HEAD_REVISION


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(resources.files("paperwire.storage") / "migrations"))
    return ScriptDirectory.from_config(config)


def test_the_migrations_have_exactly_one_head() -> None:
    # A new head needs a merge revision, and storage.store.HEAD_REVISION set to it (else every open
    # runs Alembic to find out that nothing is pending).
    assert script_directory().get_heads() == [HEAD_REVISION] == ["0102"], "merge new heads into one revision"


def two_empty_databases(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> tuple[str, str]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}", f"sqlite:///{tmp_path / 'declared.db'}"
    cluster = request.getfixturevalue("postgres_cluster")
    names = [f"schema_{os.getpid()}_{tmp_path.name}_{kind}"[-60:] for kind in ("migrated", "declared")]
    for name in names:
        cluster.create_database(name)
        request.addfinalizer(lambda name=name: cluster.drop_database(name))
    return cluster.url(names[0]), cluster.url(names[1])


def reflect(url: str) -> dict[str, dict[str, object]]:
    """Each table's columns (name, type, nullability, default), primary key, indexes and foreign keys."""
    engine = sa.create_engine(engine_url(url) if url.startswith("postgresql") else url)
    try:
        inspector = sa.inspect(engine)
        tables = {}
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            tables[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
                ),
                "foreign keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                    for f in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            }
        return tables
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migrations_build_exactly_what_schema_py_declares(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    migrated_url, declared_url = two_empty_databases(request, tmp_path, backend)
    migrator = Store(migrated_url)
    try:
        assert migrator.upgrade(use_migrations=True)[-1] == HEAD_REVISION  # every migration, one by one
    finally:
        migrator.close()
    # what a new install gets: schema.py's tables at once, marked at the head revision
    created = Store(declared_url)
    try:
        assert created.upgrade() == [HEAD_REVISION]
    finally:
        created.close()

    migrated = reflect(migrated_url)
    assert set(migrated) == set(metadata.tables)
    assert migrated == reflect(declared_url)

    # Alembic's own comparison: what `alembic revision --autogenerate` would still have to write.
    engine = sa.create_engine(engine_url(migrated_url) if backend == "postgresql" else migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert context.get_current_heads() == (HEAD_REVISION,)
    finally:
        engine.dispose()
    # ... which Alembic takes as up to date, and which opens without migrating again
    created = open_store(declared_url)
    try:
        assert created.pending_migrations() == [] and created.upgrade() == []
    finally:
        created.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_papers_stored_before_the_title_index_changed_are_found_by_title(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from alembic import command

    from paperwire.models import Paper, normalise_title

    url, _unused = two_empty_databases(request, tmp_path, backend)
    store = Store(url)
    try:
        with store.engine.connect() as connection:  # a database as 0099 left it, with papers in it
            command.upgrade(store._alembic_config(connection), "0099")
            connection.commit()
            titles = {"2501.00001": "Sparse Mixtures of Experts, Revisited", "2501.00002": "Über Ränder: Edge Cases"}
            for paper_id, title in titles.items():
                connection.execute(
                    sa.text("INSERT INTO papers (id, title, title_key, changed_at) VALUES (:id, :title, :key, 'x')"),
                    {"id": paper_id, "title": title, "key": normalise_title(title)},
                )
            connection.commit()
        assert store.upgrade() == [HEAD_REVISION]
        for paper_id, title in titles.items():
            assert store.paper_ids_with_title_key(normalise_title(title)) == [paper_id]
        assert store.paper_ids_by_title_keys([normalise_title(t) for t in titles.values()]) == {
            normalise_title(title): paper_id for paper_id, title in titles.items()
        }
        # a record known only by its title joins the stored paper instead of becoming a second one
        store.upsert_papers([Paper(id="t-0123456789abcdef", title="sparse mixtures of experts revisited")])
        assert store.paper_ids_with_title_key(normalise_title(titles["2501.00001"])) == ["2501.00001"]
    finally:
        store.close()
