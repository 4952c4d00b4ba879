"""Where a command's work is done: this machine's store, or the group's server.

Chosen once per command, from the login (`harness login`; HARNESS_SERVER overrides it):
`choose()` answers a `Local` or a `Remote`, and the commands ask either the same
questions (`Backend`) and print the answers the same way. What only the host may do
(teams, reproduce, pretrained weights) asks `host_only`, which a `Remote` refuses with
the command's own line. `executor_of` picks where a local run's code runs (this machine
or a Ray cluster).
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness.cli import remote
from harness.cli.console import err
from harness.errors import UsageError

WAITING = ("queued", "running")  # a submission in the server's queue, not recorded yet


@dataclass
class PrivateBoard:
    """A competition's private board, or why it is hidden (`rows` None then)."""

    competition: str
    metric: str
    better: str
    rows: list[dict] | None
    hidden: str | None


def say_recorded(row: dict) -> None:
    """The record the moment it is made, on stderr: its score first, its diagnostics after."""
    line = f"harness: submission {row['id']} recorded, {row['status']}"
    if row["status"] == "scored":
        line += f": {row['metric']} {row['public_score']:.4f} on the public part"
    if row.get("diagnostics") == "pending":
        line += "; its diagnostics follow"
    err(line)


class StoppedWaiting(Exception):
    """Ctrl-C while following a submission the server goes on running."""

    def __init__(self, sub_id: int):
        super().__init__(sub_id)
        self.id = sub_id


class Backend(ABC):
    """The questions a command asks, answered on this machine or by the group's server."""

    @abstractmethod
    def host_only(self, why: str) -> None:
        """Refuses (UsageError `why`, `{url}` the server's address) unless on the host."""

    @abstractmethod
    def fetch_data(self, name: str, source: str | None) -> Path:
        """A competition's files fetched (and prepared); the folder members read."""

    @abstractmethod
    def data_path(self, name: str) -> Path:
        """The folder of a competition's files, already fetched."""

    @abstractmethod
    def submit(self, args: argparse.Namespace) -> dict:
        """`harness submit`'s flags checked for this side and the file run (or sent and
        followed); the submit JSON, status queued with --no-wait.

        Raises:
            StoppedWaiting: Ctrl-C while the server still runs it.
        """

    @abstractmethod
    def better(self, name: str) -> str | None:
        """Which way is better on a competition ("higher" or "lower"), where known."""

    @abstractmethod
    def leaderboard(self, name: str) -> list[dict]:
        """The public board's rows (`harness leaderboard NAME --json`)."""

    @abstractmethod
    def print_leaderboard(self, name: str) -> None:
        """The public board as a text table."""

    @abstractmethod
    def private_board(self, name: str) -> PrivateBoard:
        """The private board and its shake-up, or why it is hidden."""

    @abstractmethod
    def rules(self, name: str, changes: dict, retroactive: bool) -> dict:
        """A competition's rules, after `changes` (only the host makes any)."""

    @abstractmethod
    def select(self, ids: list[int], user: str | None) -> dict:
        """The final picks, now these submissions."""

    @abstractmethod
    def submission(self, sub_id: int) -> dict:
        """The show JSON of a submission; while it waits in the server's queue (status
        queued or running), where it stands."""

    @abstractmethod
    def diff(self, a: int, b: int) -> dict:
        """What submission `b` changed against `a`, on the public rows."""

    @abstractmethod
    def publish(self, sub_id: int) -> dict:
        """A submission's code, log and diagnostics made public, for good."""


def choose() -> Backend:
    """The group's server this machine is logged in to, else this machine."""
    srv = remote.current()
    return Remote(srv) if srv else Local()


class Local(Backend):
    """This machine's store: the host's shell (the organiser), or a member on their own."""

    def host_only(self, why: str) -> None:
        pass

    def fetch_data(self, name: str, source: str | None) -> Path:
        from harness.competition import data, registry

        return data.fetch_and_prepare(registry.get(name), source, log=err).files

    def data_path(self, name: str) -> Path:
        from harness.competition import data, registry

        return data.ensure(registry.get(name), log=err).files

    def submit(self, args: argparse.Namespace) -> dict:
        from harness.cli.console import echo
        from harness.run import pipeline
        from harness.run.kaggle_way import check_output
        from harness.store import quotas
        from harness.store.records import summary

        if args.user is None:
            raise UsageError("--user is required (or harness login to a group's server)")
        if args.no_wait:
            raise UsageError("--no-wait is for a group's server (harness login); a local run waits")
        for flag, value in (("--timeout", args.timeout), ("--memory-mb", args.memory_mb)):
            if value is not None and not value > 0:
                raise UsageError(f"{flag} must be a positive number, got {value:g}")
        limits = pipeline.Limits(
            seed=args.seed,
            device=args.device or "auto",
            timeout=args.timeout or pipeline.DEFAULT_TIMEOUT,
            memory_mb=args.memory_mb,
            output=check_output(args.output),
            portable=portable(args),
        )
        row = pipeline.submit(
            args.name,
            Path(args.file),
            args.user,
            args.message,
            limits,
            is_baseline=args.baseline,
            on_output=echo(args.verbose),
            log=err,
            executor=executor_of(args),
            on_scored=say_recorded,
        )
        return summary(row) | quotas.left(row["competition"], row["user_name"])

    def better(self, name: str) -> str | None:
        from harness.competition import registry

        return registry.get(name).metric.better

    def leaderboard(self, name: str) -> list[dict]:
        from harness.competition import registry
        from harness.store import leaderboards

        return leaderboards.ranking(registry.get(name))[1]

    def print_leaderboard(self, name: str) -> None:
        from harness.cli.console import print_board

        print_board(name)

    def private_board(self, name: str) -> PrivateBoard:
        from harness.competition import registry
        from harness.store import leaderboards, rules

        comp = registry.get(name)
        rows = leaderboards.private_board(comp)
        hidden = rules.hidden_until(comp.name) if rows is None else None
        return PrivateBoard(comp.name, comp.spec.metric, comp.metric.better, rows, hidden)

    def rules(self, name: str, changes: dict, retroactive: bool) -> dict:
        from harness.competition import registry
        from harness.store import db, rules

        comp = registry.get(name)
        now = rules.change(comp.name, retroactive=retroactive, **changes) if changes else None
        with db.connect(read_only=True) as con:
            if now is None:
                now = rules.current(con, comp.name)
            shown = rules.shown_at(con, comp.name, comp.spec.version)
        return rules.describe(now) | {
            "private_shown": shown is not None,
            "history": rules.history(comp.name),
        }

    def select(self, ids: list[int], user: str | None) -> dict:
        from harness.store import picks

        return picks.select(ids, member=user)

    def submission(self, sub_id: int) -> dict:
        from harness.server import status
        from harness.store import records, submissions

        row = submissions.submission(sub_id)
        if row is None and (st := status.of(sub_id)) is not None:  # in the server's queue
            return st
        if row is None:
            raise UsageError(f"no submission with id {sub_id}")
        return records.record(row)

    def diff(self, a: int, b: int) -> dict:
        from harness.run import compare

        return compare.prediction_diff(a, b)

    def publish(self, sub_id: int) -> dict:
        from harness.store import privacy

        return privacy.publish(sub_id, privacy.HOST)  # the host's shell: the organiser


class Remote(Backend):
    """The group's server, as the member whose token this machine logged in with."""

    def __init__(self, srv: remote.Server):
        self.srv = srv
        self.url = srv.url

    def host_only(self, why: str) -> None:
        raise UsageError(why.format(url=self.url))

    def fetch_data(self, name: str, source: str | None) -> Path:
        if source:
            raise UsageError("--source is for the host; the server's files are fetched as is")
        return remote.fetch(self.srv, name, log=err)

    def data_path(self, name: str) -> Path:
        folder = remote.fetched_dir(self.srv, name)
        if not (folder / remote.MANIFEST).exists():
            raise UsageError(
                f"{name}'s files are not fetched from {self.url} yet: harness data fetch {name}"
            )
        return folder

    def submit(self, args: argparse.Namespace) -> dict:
        member = self.srv.get("/api/whoami")["member"]
        if args.user is not None and args.user != member:
            raise UsageError(
                f"--user {args.user!r} is not you: the server records your token's member, "
                f"{member!r}"
            )
        local = [
            f
            for f in ("device", "timeout", "memory_mb", "ray_address", "numerics")
            if getattr(args, f) is not None
        ]
        if args.executor != "local":
            local.insert(0, "executor")
        if local or args.baseline:
            flag = "--" + (local[0].replace("_", "-") if local else "baseline")
            raise UsageError(f"{flag} is for local runs; the server sets its runs' limits")
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        queued = self.srv.upload(args.name, path, args.message, args.seed, args.output)
        if queued["status"] == "rejected":  # over the daily limit: nothing runs
            return queued
        err(
            f"harness: submission {queued['id']} queued on {self.url}: "
            f"place {queued['place']} in line"
        )
        if args.no_wait:
            return queued
        try:
            return remote.wait(self.srv, queued["id"], log=err)
        except KeyboardInterrupt:
            raise StoppedWaiting(queued["id"]) from None

    def better(self, name: str) -> str | None:
        return None  # the server's submit JSON and board do not say

    def leaderboard(self, name: str) -> list[dict]:
        return self.srv.get(f"/api/competitions/{quote(name)}/leaderboard")

    def print_leaderboard(self, name: str) -> None:
        from harness.cli.console import board_table

        rows = self.leaderboard(name)
        if not rows:
            print(f"no scored submissions on {name} yet")
            return
        print(board_table(rows))

    def private_board(self, name: str) -> PrivateBoard:
        got = self.srv.get(f"/api/competitions/{quote(name)}/private")
        return PrivateBoard(
            got["competition"], got["metric"], got["better"], got["rows"], got.get("hidden")
        )

    def rules(self, name: str, changes: dict, retroactive: bool) -> dict:
        if changes:
            raise UsageError("the organiser sets the rules, on the host (harness rules there)")
        return self.srv.get(f"/api/competitions/{quote(name)}/rules")

    def select(self, ids: list[int], user: str | None) -> dict:
        if user is not None:
            raise UsageError("--user is for the host; the server picks for your token's member")
        return self.srv.post("/api/picks", json={"ids": ids})

    def submission(self, sub_id: int) -> dict:
        st = self.srv.get(f"/api/submissions/{sub_id}")
        if st["status"] in WAITING:
            return st
        return self.srv.get(f"/api/submissions/{sub_id}/record")

    def diff(self, a: int, b: int) -> dict:
        return self.srv.get(f"/api/diff/{a}/{b}")  # the server checks both are the member's

    def publish(self, sub_id: int) -> dict:
        return self.srv.post(f"/api/submissions/{sub_id}/publish", json={})


def executor_flags(s: argparse.ArgumentParser) -> None:
    """`--executor` and `--ray-address`, on a command that runs members' code."""
    s.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where code runs: this machine (default) or a Ray cluster (RAY_ADDRESS, "
        "--ray-address, else a local Ray for this command)",
    )
    s.add_argument("--ray-address", help="the Ray cluster to join (default: RAY_ADDRESS)")
    s.add_argument(
        "--numerics",
        choices=["portable", "native"],
        help="portable: AVX2 kernels and two threads on every x86-64 machine, the same bits "
        "anywhere (the default on a group's server and on Ray); native: this machine's fastest "
        "(the default of a local submit; reproduce defaults to the run's own)",
    )


def portable(args: argparse.Namespace, serving: bool = False) -> bool:
    """Whether runs use portable numerics: as asked, else on a server or Ray."""
    if args.numerics is not None:
        return args.numerics == "portable"
    return serving or args.executor == "ray"


def executor_of(args: argparse.Namespace, **kwargs):
    """The executor `--executor` names: None (the local default), or a Ray one."""
    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address goes with --executor ray")
        return None
    from harness.run.ray_executor import RayExecutor, connect

    connect(args.ray_address)  # now: a missing ray or a cluster that does not answer stops here
    return RayExecutor(args.ray_address, **kwargs)
