"""The store's schema: every step from an empty file to today's, in order, kept forever.

A step is never edited once released: a home an older harness made is brought up to date
by running the steps it lacks, each in its own transaction, and its number is the
schema version `meta` records. A new column or table is a new step at the end.
"""

from __future__ import annotations

import duckdb

from harness.errors import StoreError

MIGRATIONS: list[str] = [
    # 1: submissions, their epochs, and re-runs that check reproducibility
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE SEQUENCE submission_ids START 1;
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY DEFAULT nextval('submission_ids'),
        competition VARCHAR NOT NULL,
        competition_version INTEGER NOT NULL,
        data_source VARCHAR,
        data_fingerprint VARCHAR,
        user_name VARCHAR NOT NULL,
        message VARCHAR,
        is_baseline BOOLEAN NOT NULL DEFAULT false,
        kind VARCHAR NOT NULL CHECK (kind IN ('code', 'csv')),
        entry VARCHAR,
        filename VARCHAR NOT NULL,
        content VARCHAR,
        file_sha256 VARCHAR NOT NULL,
        docstring VARCHAR,
        config JSON,
        status VARCHAR NOT NULL CHECK (status IN ('scored', 'failed', 'rejected')),
        error VARCHAR,
        metric VARCHAR NOT NULL,
        higher_is_better BOOLEAN NOT NULL,
        public_score DOUBLE,
        private_score DOUBLE,
        predictions_sha256 VARCHAR,
        seed INTEGER,
        device VARCHAR,
        versions JSON,
        harness_git VARCHAR,
        timeout_seconds DOUBLE,
        memory_limit_mb DOUBLE,
        wall_seconds DOUBLE,
        peak_memory_mb DOUBLE,
        seconds JSON,
        log VARCHAR,
        run_dir VARCHAR,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE epochs (
        submission_id INTEGER NOT NULL,
        fit INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        seconds DOUBLE,
        train_loss DOUBLE,
        valid_loss DOUBLE,
        metrics JSON
    );
    CREATE SEQUENCE reproduction_ids START 1;
    CREATE TABLE reproductions (
        id INTEGER PRIMARY KEY DEFAULT nextval('reproduction_ids'),
        submission_id INTEGER NOT NULL,
        identical BOOLEAN NOT NULL,
        status VARCHAR NOT NULL,
        error VARCHAR,
        public_score DOUBLE,
        private_score DOUBLE,
        predictions_sha256 VARCHAR,
        device VARCHAR,
        wall_seconds DOUBLE,
        created_at TIMESTAMP NOT NULL
    );
    """,
    # 2: diagnostic artifacts (plots, tables) of each submission
    """
    CREATE TABLE artifacts (
        submission_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        title VARCHAR,
        path VARCHAR NOT NULL
    );
    """,
    # 3: the metrics a competition shows beside its own (e.g. mse beside rmse)
    """
    ALTER TABLE submissions ADD COLUMN extra_scores JSON;
    """,
    # 4: competition versions whose private scores the organiser has revealed
    """
    CREATE TABLE reveals (
        competition VARCHAR NOT NULL,
        competition_version INTEGER NOT NULL,
        revealed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, competition_version)
    );
    """,
    # 5: files sent to Kaggle with Kaggle's verdict on each, and Kaggle's public leaderboard
    """
    CREATE SEQUENCE kaggle_submission_ids START 1;
    CREATE TABLE kaggle_submissions (
        id INTEGER PRIMARY KEY DEFAULT nextval('kaggle_submission_ids'),
        submission_id INTEGER,
        competition VARCHAR NOT NULL,
        kaggle_competition VARCHAR NOT NULL,
        kaggle_ref BIGINT NOT NULL,
        filename VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        file_path VARCHAR,
        rows INTEGER,
        message VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN ('pending', 'complete', 'error')),
        error VARCHAR,
        public_score DOUBLE,
        private_score DOUBLE,
        data_fingerprint VARCHAR,
        run_dir VARCHAR,
        submitted_at TIMESTAMP NOT NULL,
        kaggle_date TIMESTAMP,
        synced_at TIMESTAMP
    );
    CREATE TABLE kaggle_leaderboard (
        competition VARCHAR NOT NULL,
        kaggle_competition VARCHAR NOT NULL,
        fetched_at TIMESTAMP NOT NULL,
        rank INTEGER NOT NULL,
        team_id BIGINT,
        team_name VARCHAR,
        score DOUBLE,
        submitted_at TIMESTAMP
    );
    """,
    # 6: the trained model (architecture, parameter counts) and the GPU's peak memory
    """
    ALTER TABLE submissions ADD COLUMN model JSON;
    ALTER TABLE submissions ADD COLUMN gpu_peak_mb DOUBLE;
    """,
    # 7: whether a code run was sandboxed (NULL for a CSV submission, which runs nothing)
    """
    ALTER TABLE submissions ADD COLUMN sandboxed BOOLEAN;
    """,
    # 8: the group's members (a hash of each one's token) and the server's queue: work
    # uploaded and not yet recorded; its id becomes the submission's once it has run
    """
    CREATE TABLE members (
        name VARCHAR PRIMARY KEY,
        token_sha256 VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        token_at TIMESTAMP NOT NULL
    );
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        message VARCHAR,
        filename VARCHAR NOT NULL,
        upload VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        state VARCHAR NOT NULL CHECK (state IN ('queued', 'running')),
        attempts INTEGER NOT NULL DEFAULT 0,
        queued_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP
    );
    """,
    # 9: why a reproduction disagreed: what differed from the recorded run, how far it moved
    """
    ALTER TABLE reproductions ADD COLUMN differences JSON;
    ALTER TABLE reproductions ADD COLUMN verdict VARCHAR;
    """,
    # 10: the competitions' rules (every change kept), teams, final picks; when each
    # submission was made (the daily limit and the deadline judge that moment, not the
    # end of its run); its score on the valid set; local runs under way (the daily limit
    # counts them, so two at once cannot both take the last one)
    """
    ALTER TABLE submissions ADD COLUMN submitted_at TIMESTAMP;
    UPDATE submissions SET submitted_at = created_at;
    ALTER TABLE submissions ADD COLUMN valid_score DOUBLE;
    CREATE TABLE rules (
        competition VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        daily_limit INTEGER,
        final_picks INTEGER NOT NULL,
        deadline TIMESTAMP,
        team_size INTEGER NOT NULL,
        changed VARCHAR NOT NULL
    );
    CREATE TABLE teams (
        competition VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, name)
    );
    CREATE TABLE team_members (
        competition VARCHAR NOT NULL,
        member VARCHAR NOT NULL,
        team VARCHAR NOT NULL,
        joined_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, member)
    );
    CREATE TABLE team_changes (
        competition VARCHAR NOT NULL,
        team VARCHAR NOT NULL,
        member VARCHAR,
        change VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL
    );
    CREATE TABLE picks (
        submission_id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        picked_at TIMESTAMP NOT NULL
    );
    CREATE TABLE pending (
        id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        submitted_at TIMESTAMP NOT NULL,
        host VARCHAR NOT NULL,
        pid INTEGER NOT NULL
    );
    """,
    # 11: where a code run ran: the executor (local or ray), the machine, its GPU
    """
    ALTER TABLE submissions ADD COLUMN executor VARCHAR;
    ALTER TABLE submissions ADD COLUMN node VARCHAR;
    ALTER TABLE submissions ADD COLUMN gpu VARCHAR;
    """,
    # 12: the course's way in: the CSV a Kaggle-style run handed in (--output), the
    # pretrained weights a run loaded, and what the run decided or warns about
    """
    ALTER TABLE submissions ADD COLUMN output VARCHAR;
    ALTER TABLE submissions ADD COLUMN weights JSON;
    ALTER TABLE submissions ADD COLUMN warnings JSON;
    ALTER TABLE submissions ADD COLUMN decisions JSON;
    ALTER TABLE queue ADD COLUMN output VARCHAR;
    """,
    # 13: a group the members can trust (Kaggle's privacy, quotas, the host's own
    # measurements): organisers, and members' e-mail addresses (an OpenID sign-in, where
    # the group has one, maps to a member by it); a submission its member published; the
    # size of what was sent (kept when the file is not); what a run said of itself, apart
    # from what the host measured; rules that open all code after the deadline, a run's
    # timeout, and caps on an entrant's queued uploads and stored bytes
    """
    ALTER TABLE members ADD COLUMN organiser BOOLEAN DEFAULT false;
    ALTER TABLE members ADD COLUMN email VARCHAR;
    ALTER TABLE submissions ADD COLUMN published_at TIMESTAMP;
    ALTER TABLE submissions ADD COLUMN upload_bytes BIGINT;
    ALTER TABLE submissions ADD COLUMN reported JSON;
    ALTER TABLE rules ADD COLUMN open_code BOOLEAN;
    ALTER TABLE rules ADD COLUMN timeout_seconds INTEGER;
    ALTER TABLE rules ADD COLUMN max_queued INTEGER;
    ALTER TABLE rules ADD COLUMN max_stored_mb INTEGER;
    ALTER TABLE queue ADD COLUMN bytes BIGINT;
    """,
    # 14: the score first: a code run is recorded with its score, and its diagnostics
    # (the competition's report, what the model learned) follow: pending, drawn, failed
    """
    ALTER TABLE submissions ADD COLUMN diagnostics VARCHAR;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def stored_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a database holds (0: none yet)."""
    try:  # asked on every open: no catalog listing (has_table), one small read
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:  # no meta table: nothing migrated it yet
        return 0
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Brings the schema up to SCHEMA_VERSION, each step in its own transaction."""
    current = stored_version(con)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema {current}, newer than this harness ({SCHEMA_VERSION}); "
            "update the harness"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN")
        con.execute(MIGRATIONS[version - 1])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
        con.execute("COMMIT")
