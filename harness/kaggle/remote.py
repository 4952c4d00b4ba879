"""Kaggle's side of a competition: send a scored run or a CSV, sync Kaggle's scores, read
its public board and where the group would rank. Calls go through `harness.kaggle_client`."""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.competition import data, registry
from harness.competition.registry import Competition
from harness.competition.sources import sha256
from harness.errors import UsageError
from harness.kaggle_client import KaggleError, api, calling, one_line, pages
from harness.paths import data_dir, home
from harness.run import pipeline
from harness.store import db, kaggle
from harness.validate import SubmissionError, validate_csv

POLL_SECONDS = 3.0  # Kaggle scores a small file in seconds
STATUSES = {"PENDING": "pending", "COMPLETE": "complete", "ERROR": "error"}


# --- submit -------------------------------------------------------------------------------


def _competition(name: str) -> tuple[Competition, str]:
    comp = registry.get(name)
    if not comp.spec.kaggle:
        raise UsageError(f"{comp.name} is not a Kaggle competition (its SPEC has no kaggle slug)")
    return comp, comp.spec.kaggle


def kaggle_prepared(comp: Competition) -> data.Prepared | None:
    """The prepared data that came from Kaggle: the current one, else the newest."""
    now = data.current(comp)
    if now is not None and now.source == "kaggle":
        return now
    found = [
        data.Prepared(m.parent, json.loads(m.read_text()))
        for m in data_dir(comp.name).glob(f"v{comp.spec.version}-kaggle-*/manifest.json")
    ]
    return max(found, key=lambda p: p.manifest["prepared_at"]) if found else None


def kaggle_test(comp: Competition, prepared: data.Prepared) -> pd.DataFrame:
    """Kaggle's own unlabelled test.csv, as prepare() kept it."""
    path = prepared.path / "kaggle" / "test.csv"
    if not path.exists():
        raise KaggleError(
            f"{path} is missing; run `harness data fetch {comp.name} --source kaggle` again"
        )
    test = pd.read_csv(path)
    if comp.spec.id_col not in test:
        raise KaggleError(
            f"{path} has no {comp.spec.id_col} column: {comp.name}'s prepare() must give "
            "kaggle_test the submission's id column"
        )
    return test


def check_file(comp: Competition, path: Path, ids, name: str | None = None) -> pd.DataFrame:
    """Validates a file for Kaggle: the format, Kaggle's test ids, and integers as integers.

    Raises:
        SubmissionError: the first problem, in one line.
    """
    name = name or path.name
    frame = validate_csv(path, comp.spec.submission, ids, name=name)
    fmt = comp.spec.submission
    if fmt.kind == "int":  # we read '1.0' as 1, but Kaggle scores such a file 0
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            col = [c.strip() for c in next(reader)].index(fmt.target)
            rows = (r for r in reader if any(x.strip() for x in r))
            for n, fields in enumerate(rows, start=1):
                if not re.fullmatch(r"[+-]?\d+", fields[col].strip()):
                    raise SubmissionError(
                        f"{name}, row {n} (line {reader.line_num}), column {fmt.target}: "
                        f"{fields[col]!r} is not written as an integer; Kaggle scores such a "
                        f"file 0 (write the column with .astype(int))"
                    )
    return frame


def submit_code(
    sub_id: int,
    message: str | None = None,
    wait: float = 30.0,
    on_output: Callable[[str], None] | None = None,
    log=print,
) -> dict:
    """Runs a scored code submission on Kaggle's test.csv and sends the predictions to Kaggle.

    The run is the stored one again (code, seed, device, limits, train and valid) with
    Kaggle's test features as the test; its predictions are validated against Kaggle's
    test ids and written in Kaggle's format before the upload.

    Returns:
        The stored Kaggle submission row (see `kaggle.kaggle_submissions`).

    Raises:
        UsageError: no such submission, or not a scored code submission.
        KaggleError: offline data, a failed run, or Kaggle refused the upload.
    """
    row = pipeline.scored_code(
        sub_id,
        "only scored code submissions run on Kaggle's test (send a CSV with: "
        "harness kaggle submit {competition} FILE.csv)",
    )
    comp, slug = _competition(row["competition"])
    again = f"harness submit {comp.name} {row['filename']} --user {row['user_name']}"
    if row["data_source"] != "kaggle":
        raise KaggleError(
            f"submission {sub_id} was scored on {row['data_source']} data, which has no Kaggle "
            f"test.csv: run `harness data fetch {comp.name} --source kaggle`, submit it again "
            f"(`{again}`) and send the new id"
        )
    prepared = data.by_fingerprint(comp, row["data_fingerprint"])
    if prepared is None:
        raise KaggleError(
            f"the Kaggle data submission {sub_id} was scored on ({row['data_fingerprint'][:12]})"
            f" is no longer on disk: run `harness data fetch {comp.name} --source kaggle`, "
            f"submit it again (`{again}`) and send the new id"
        )
    test = kaggle_test(comp, prepared)
    client = api()  # credentials first: a missing token must not cost a training run
    log(f"running submission {sub_id} again on Kaggle's test.csv ({len(test)} rows)")
    run = pipeline.run_on_test(comp, prepared, row, test, on_output=on_output)
    if run["status"] != "ok":
        raise KaggleError(
            f"submission {sub_id} failed on Kaggle's test.csv: {run['error']} "
            f"(log: {run['run_dir']}/log.txt)"
        )
    out = Path(run["run_dir"]) / "kaggle" / f"{comp.name}-{sub_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    ids = test[comp.spec.id_col]
    try:
        frame = validate_csv(run["predictions"], comp.spec.submission, ids, name=out.name)
        frame.to_csv(out, index=False)  # typed: integer targets are written as integers
        check_file(comp, out, ids)
    except SubmissionError as e:
        raise KaggleError(f"submission {sub_id}'s predictions for Kaggle's test: {e}") from e
    default = f"harness {sub_id} by {row['user_name']}: {row['message'] or row['filename']}"
    return _send(
        comp,
        out,
        message or default,
        wait,
        client,
        submission_id=sub_id,
        rows=len(frame),
        data_fingerprint=prepared.fingerprint,
        run_dir=str(run["run_dir"]),
    )


def submit_csv(name: str, path: Path, message: str | None = None, wait: float = 30.0) -> dict:
    """Sends a CSV to Kaggle as it is, once it passes the checks against Kaggle's test ids.

    Raises:
        UsageError: no such file, or not a Kaggle competition.
        KaggleError: no Kaggle data to check it against, an invalid file, or Kaggle refused.
    """
    comp, slug = _competition(name)
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    prepared = kaggle_prepared(comp)
    if prepared is None:
        raise KaggleError(
            f"no Kaggle data for {comp.name} to check {path.name} against Kaggle's test ids: "
            f"run `harness data fetch {comp.name} --source kaggle` first"
        )
    try:
        frame = check_file(comp, path, kaggle_test(comp, prepared)[comp.spec.id_col])
    except SubmissionError as e:
        raise KaggleError(f"not sent to Kaggle: {e}") from e
    kept = home() / "kaggle" / comp.name / f"{uuid.uuid4().hex[:12]}" / path.name
    kept.parent.mkdir(parents=True)
    shutil.copyfile(path, kept)  # the exact bytes sent, kept beside the record
    client = api()
    return _send(comp, kept, message or f"harness: {path.name}", wait, client, rows=len(frame))


def _send(comp: Competition, path: Path, message: str, wait: float, client, **fields) -> dict:
    """Uploads a checked file, records it, and waits up to `wait` s for Kaggle's verdict."""
    slug = comp.spec.kaggle
    with calling(slug, f"submit to {slug}"):
        response = client.competition_submit(str(path), message, slug, quiet=True)
    if not response.ref:
        raise KaggleError(f"Kaggle did not take {path.name}: {one_line(response.message)}")
    now = db.now()
    kaggle_id = kaggle.insert_kaggle_submission(
        {
            "competition": comp.name,
            "kaggle_competition": slug,
            "kaggle_ref": response.ref,
            "filename": path.name,
            "file_sha256": sha256(path.read_bytes()),
            "file_path": str(path),
            "message": message,
            "status": "pending",
            "submitted_at": now,
            **fields,
        }
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            found = _statuses(client, slug, {response.ref})
        except KaggleError:
            break  # it was sent; `harness kaggle sync` will find out how it did
        if found:
            kaggle.update_kaggle_submissions(found)
        if (found and found[0]["status"] != "pending") or time.monotonic() >= deadline:
            break
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return next(r for r in kaggle.kaggle_submissions(comp.name) if r["id"] == kaggle_id)


def _statuses(client, slug: str, refs: set[int]) -> list[dict]:
    """Kaggle's status and scores of the given submission refs, newest pages first."""
    from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

    found, now = [], db.now()
    with calling(slug, f"list your {slug} submissions"):
        for page, _ in pages(client, slug, "list_submissions", ApiListSubmissionsRequest()):
            for s in page:
                if s.ref in refs:
                    found.append(_verdict(s, slug, now))
            if len(found) == len(refs):
                break
    return found


def _verdict(s, slug: str, now) -> dict:
    status = STATUSES.get(getattr(s.status, "name", str(s.status)), "pending")
    error = (s.error_description or "Kaggle gave no reason") if status == "error" else None
    return {
        "kaggle_competition": slug,
        "kaggle_ref": s.ref,
        "status": status,
        "error": error,
        "public_score": _score(s.public_score),
        "private_score": _score(s.private_score),
        "kaggle_date": s.date,
        "synced_at": now,
    }


def _score(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# --- sync and leaderboard -----------------------------------------------------------------


def sync(name: str) -> list[dict]:
    """Pulls Kaggle's status and public score of every submission the harness sent.

    Returns:
        The stored rows, oldest first, each with its local public score beside Kaggle's.
    """
    comp, slug = _competition(name)
    rows = kaggle.kaggle_submissions(comp.name)
    if rows:
        found = _statuses(api(), slug, {r["kaggle_ref"] for r in rows})
        kaggle.update_kaggle_submissions(found)
        rows = kaggle.kaggle_submissions(comp.name)
    return rows


def leaderboard(name: str) -> dict:
    """Reads Kaggle's public leaderboard, stores it, and ranks the group's best Kaggle score.

    Pages are read best first until one ends below the group's best score (only the first
    page when the group has no Kaggle score yet), so a board of thousands of teams takes
    few calls and the rank is still exact.

    Returns:
        fetched_at, teams (the rows read and stored), complete (whether that is the whole
        board), best (the group's best scored Kaggle submission, or None) and rank (where
        its score ranks among the teams read: 1 + the number that score better).
    """
    from kagglesdk.competitions.types.competition_api_service import ApiGetLeaderboardRequest

    comp, slug = _competition(name)
    metric = comp.metric
    best = kaggle.kaggle_best(comp.name, metric)
    client = api()
    teams, complete = [], False
    with calling(slug, f"read {slug}'s leaderboard"):
        for page, more in pages(client, slug, "get_leaderboard", ApiGetLeaderboardRequest()):
            for s in page:
                teams.append(
                    {
                        "rank": len(teams) + 1,
                        "team_id": s.team_id,
                        "team_name": s.team_name,
                        "score": _score(s.score),
                        "submitted_at": s.submission_date,
                    }
                )
            complete = not more
            last = teams[-1]["score"] if teams else None
            if best is None or (last is not None and metric.is_better(best["public_score"], last)):
                break  # the board is sorted best first: every later team ranks lower
    fetched_at = db.now()
    kaggle.replace_kaggle_leaderboard(comp.name, slug, fetched_at, teams)
    rank = kaggle.kaggle_rank(comp.name, best["public_score"], metric) if best else None
    return {
        "competition": comp.name,
        "kaggle_competition": slug,
        "metric": comp.spec.metric,
        "higher_is_better": metric.higher_is_better,
        "fetched_at": fetched_at,
        "teams": teams,
        "complete": complete,
        "best": best,
        "rank": rank,
    }
