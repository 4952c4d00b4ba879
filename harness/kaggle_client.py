"""Kaggle's own client, made quiet and safe: sign-in, one-line errors, paging, download.

`import kaggle` authenticates at import time, so the client is imported only inside
`api()`. Every call to Kaggle goes through `calling()`, which keeps the client's
printing out of our output and turns its many exceptions into one-line KaggleErrors
that say what to do: credentials, rules, network, the daily limit, a rejected file.
A leaf under the data sources, which download through it; submitting, syncing and reading
Kaggle's board are in `harness.kaggle.remote`, above `run`.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from harness.errors import KaggleError

CREDENTIALS_HELP = (
    "set KAGGLE_API_TOKEN, or save your token in ~/.kaggle/access_token "
    "(or the legacy ~/.kaggle/kaggle.json)"
)
NEW_TOKEN = "create a token at https://www.kaggle.com/settings (API, Generate New Token)"
PAGE_SIZE = 100
MAX_PAGES = 500  # a safety stop when paging a board of many thousand teams
DAILY_LIMIT_RE = re.compile(r"daily|allowance|submission limit|maximum number of submissions", re.I)


def rules_url(slug: str) -> str:
    return f"https://www.kaggle.com/competitions/{slug}/rules"


# --- the client ---------------------------------------------------------------------------


def api():
    """An authenticated KaggleApi.

    It honours kagglesdk's `KAGGLE_API_ENVIRONMENT` (e.g. `TEST`: http://localhost:7777),
    which KaggleApi itself ignores except for `LOCALHOST`.

    Raises:
        KaggleError: no credentials, a token Kaggle refuses, or no network; or this shell
            points Kaggle's client at the group's server (`harness kaggle-env`).
    """
    if os.environ.get("HARNESS_KAGGLE_URL") and os.environ.get("KAGGLE_API_ENVIRONMENT"):
        raise KaggleError(
            f"this shell points Kaggle's client at the group's server "
            f"({os.environ['HARNESS_KAGGLE_URL']}, harness kaggle-env): run harness kaggle "
            "commands from another shell, where it talks to kaggle.com"
        )
    try:
        with _quiet():  # the client prints a page of help before it exits
            from kaggle.api.kaggle_api_extended import KaggleApi
            from kagglesdk import KaggleClient
            from kagglesdk.kaggle_env import get_env

            class Api(KaggleApi):
                def build_kaggle_client(self):
                    return KaggleClient(
                        env=get_env(),
                        verbose="--verbose" in self.args,
                        username=self.config_values.get(self.CONFIG_NAME_USER),
                        password=self.config_values.get(self.CONFIG_NAME_KEY),
                        api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                        response_processor=self.get_response_processor(),
                    )

            client = Api()
            client.authenticate()
    except SystemExit:
        raise _no_credentials() from None
    except ImportError as e:
        raise KaggleError(f"the kaggle package cannot be imported ({e}); pip install kaggle") from e
    except Exception as e:
        raise explain(e, None, "sign in") from e
    return client


def _no_credentials() -> KaggleError:
    from kagglesdk import get_access_token_from_env

    _, source = get_access_token_from_env()
    if source:  # a token was found, and Kaggle's introspection refused it
        where = "KAGGLE_API_TOKEN" if source == "KAGGLE_API_TOKEN" else "~/.kaggle/access_token"
        return KaggleError(
            f"Kaggle does not accept the API token in {where} (expired or revoked?); {NEW_TOKEN}"
        )
    return KaggleError(f"no Kaggle credentials: {CREDENTIALS_HELP}; {NEW_TOKEN}")


@contextmanager
def _quiet():
    """Keeps the client's prints and progress bars out of our stdout and stderr."""
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        yield


@contextmanager
def calling(slug: str | None, doing: str):
    """Runs client calls quietly; any failure becomes a one-line KaggleError."""
    try:
        with _quiet():
            yield
    except KaggleError:
        raise
    except (Exception, SystemExit) as e:
        raise explain(e, slug, doing) from e


def explain(e: BaseException, slug: str | None, doing: str) -> KaggleError:
    """The one line a person needs for an exception the kaggle client raised."""
    import requests

    if isinstance(e, SystemExit):
        return _no_credentials()
    if isinstance(e, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        where = _host(e)
        return KaggleError(
            f"cannot reach Kaggle{where} to {doing} ({_reason(e)}); "
            "check the network connection and try again"
        )
    response = getattr(e, "response", None)
    if isinstance(e, requests.exceptions.HTTPError) and response is not None:
        status, text = response.status_code, _kaggle_message(e)
        if status == 401:
            return KaggleError(
                f"Kaggle refused your credentials (401: {text}); they may have expired: {NEW_TOKEN}"
            )
        if status == 403 and slug:
            return KaggleError(
                f"Kaggle refused to {doing} (403: {text}); accept the competition's rules at "
                f"{rules_url(slug)}, signed in as your token's account, then try again"
            )
        if status in (400, 403, 429) and DAILY_LIMIT_RE.search(text):
            where = f" for {slug}" if slug else ""
            return KaggleError(
                f"Kaggle's daily submission limit{where} is reached ({text}); "
                "it resets at 00:00 UTC, send it again then"
            )
        if status == 404 and slug:
            return KaggleError(
                f"Kaggle has no competition {slug!r} open to you (404: {text}); "
                f"check https://www.kaggle.com/competitions/{slug}"
            )
        return KaggleError(f"Kaggle answered {status} when asked to {doing}: {text}")
    return KaggleError(
        f"the kaggle client could not {doing}: {type(e).__name__}: {one_line(str(e))}"
    )


def _kaggle_message(e) -> str:
    """Kaggle's own words: the JSON `message` when there is one."""
    try:
        return one_line(str(e.response.json()["message"]))
    except Exception:
        return one_line(str(e))


def _host(e) -> str:
    from urllib.parse import urlsplit

    request = getattr(e, "request", None)
    url = getattr(request, "url", None)
    return f" at {urlsplit(url).netloc}" if url else ""


def _reason(e) -> str:
    """'Connection refused', 'Name or service not known', ... out of urllib3's long text."""
    found = re.findall(r"\[Errno -?\d+\] ([^'\"\)]+)", str(e))
    return found[-1].strip() if found else type(e).__name__


def one_line(text: str, limit: int = 300) -> str:
    """Text on one line, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pages(client, slug: str, call: str, request) -> Iterator[tuple[list, bool]]:
    """(items, more) for every page of a paged competitions call, e.g. get_leaderboard."""
    with client.build_kaggle_client() as kaggle:
        method = getattr(kaggle.competitions.competition_api_client, call)
        request.competition_name = slug
        request.page_size = PAGE_SIZE
        for _ in range(MAX_PAGES):
            response = method(request)
            more = bool(response.next_page_token)
            yield response.submissions, more
            if not more:
                return
            request.page_token = response.next_page_token


# --- download -----------------------------------------------------------------------------


def download(slug: str, raw_dir: Path, names: tuple[str, ...]) -> None:
    """Kaggle's competition files in raw_dir: kept if already there, else downloaded.

    The zip lands in a temporary folder beside raw_dir and is checked before any file
    moves in, so a failed download leaves raw_dir as it was.

    Raises:
        KaggleError: the download failed or lacks a file; the message says what to do,
            or where to put the files by hand.
    """
    if all((raw_dir / n).exists() for n in names):
        return
    by_hand = (
        f"download them from https://www.kaggle.com/competitions/{slug}/data and put "
        f"{', '.join(names)} in {raw_dir}"
    )
    raw_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=raw_dir.parent, prefix=".kaggle-") as tmp:
        try:
            client = api()
            with calling(slug, f"download {slug}'s files"):
                client.competition_download_files(slug, path=tmp, force=True, quiet=True)
        except KaggleError as e:
            raise KaggleError(f"{e}; or {by_hand}") from e
        files = Path(tmp) / "files"
        try:
            for archive in Path(tmp).glob("*.zip"):
                _unzip(archive, files)
            for n in names:  # some competitions zip each file again (train.csv.zip)
                if not (files / n).exists() and (files / f"{n}.zip").exists():
                    _unzip(files / f"{n}.zip", files)
        except zipfile.BadZipFile as e:
            raise KaggleError(
                f"Kaggle's download of {slug} is not a readable zip ({e}); try again, or {by_hand}"
            ) from e
        missing = [n for n in names if not (files / n).exists()]
        if missing:
            got = (
                ", ".join(sorted(p.name for p in files.iterdir())) if files.exists() else "nothing"
            )
            raise KaggleError(
                f"Kaggle's download of {slug} lacks {', '.join(missing)} (it holds {got}); {by_hand}"
            )
        # the expected files move last: until all are in, the next fetch downloads again
        for f in sorted(files.iterdir(), key=lambda p: p.name in names):
            os.replace(f, raw_dir / f.name)


def _unzip(archive: Path, dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(dest)  # extractall drops absolute paths and '..' of member names
