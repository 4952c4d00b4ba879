"""Every error the harness reports to a person: one base class that carries its exit code.

`harness` prints `harness: error: <message>` and exits with the error's `exit_code`:
2 for a wrong call (nothing was recorded), 1 for everything that went wrong after the
call was understood. A message is one line that says what was wrong, where, and what
to do; a stack trace is for the run log, never for a user's mistake.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class HarnessError(Exception):
    """The base of the harness's errors; `exit_code` is what the command exits with."""

    exit_code = EXIT_FAILED


class UsageError(HarnessError):
    """The command was called wrongly (an unknown id, a missing file); nothing is recorded."""

    exit_code = EXIT_USAGE


class CompetitionError(HarnessError):
    """A competition folder that breaks the contract."""


class UnknownCompetition(CompetitionError, UsageError):
    """A name that names no competition: `Unknown competition 'titanc'. Did you mean: ...?`"""

    exit_code = EXIT_USAGE


class DataError(HarnessError):
    """Data that cannot be fetched or prepared; the message says what to do."""


class SourceError(HarnessError):
    """A data source that cannot deliver; the message says what to do about it."""


class KaggleError(SourceError):
    """Kaggle refused, failed or cannot be reached; the message is one line for people."""


class StoreError(HarnessError):
    """The DuckDB store cannot be opened or is newer than this harness."""
