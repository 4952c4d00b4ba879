"""The schema: a new home gets today's, a home any earlier harness made opens unchanged and
is brought up to it, a newer one is refused."""

import duckdb
import pytest

from harness.errors import StoreError
from harness.paths import db_path
from harness.store import db, migrations, submissions
from tests.store.conftest import submission_row as row


def schema(con) -> list[tuple]:
    return con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "ORDER BY table_name, column_name"
    ).fetchall()


def test_a_new_database_gets_the_latest_schema(home):
    with db.connect() as con:
        assert migrations.stored_version(con) == migrations.SCHEMA_VERSION
    assert db_path().exists()


def test_a_database_newer_than_the_harness_is_refused(home):
    with db.connect() as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema 99, newer than this harness"):
        with db.connect():
            pass


def test_a_home_of_every_earlier_schema_ends_with_the_same_tables():
    today = duckdb.connect()  # in memory: the steps, not the file (tested below)
    migrations.migrate(today)
    for version in range(1, migrations.SCHEMA_VERSION):
        con = duckdb.connect()
        for step, sql in enumerate(migrations.MIGRATIONS[:version], 1):
            con.execute(sql)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(step)])
        migrations.migrate(con)
        assert migrations.stored_version(con) == migrations.SCHEMA_VERSION, version
        assert schema(con) == schema(today), version


def test_an_old_database_is_migrated_in_place(home):
    con = duckdb.connect(str(db_path()))
    con.execute(migrations.MIGRATIONS[0])
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    sub_id = submissions.insert_submission(
        row(), [], [{"name": "a.png", "kind": "png", "path": "/x"}]
    )
    with db.connect() as con:
        assert migrations.stored_version(con) == migrations.SCHEMA_VERSION >= 2
    assert submissions.submission(sub_id)["artifacts"] == [
        {"name": "a.png", "kind": "png", "title": None, "path": "/x"}
    ]
