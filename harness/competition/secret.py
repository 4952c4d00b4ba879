"""The installation's secret: what makes a generated competition's hidden test unguessable.

Pets and Rossmann are generated from a public seed, so anyone could run the generator and
read the hidden test's labels off its output. Each installation therefore mixes a secret
of its own into what decides the hidden rows:

    hidden_seed = secret_seed(SPEC.seed, "pets/test-images")   # in prepare()

The secret is `$HARNESS_HOME/secret` (32 random bytes, mode 0600, created on first need;
the harness home is never visible to a submission), or the `HARNESS_SECRET` variable.
`HARNESS_SECRET=public` means no secret: `secret_seed` returns the seed itself and the
data is the published data, byte for byte (the figures measured in the competition
READMEs and docs/). Only the secret's sha256 is ever recorded (in the prepared data's
manifest and fingerprint).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from harness.errors import DataError
from harness.paths import home

ENV = "HARNESS_SECRET"
PUBLIC = "public"  # HARNESS_SECRET=public: the published data
FILE = "secret"  # under the harness home
SIZE = 32  # random bytes in a new secret file

# the sha256 of each secret secret_seed() mixed in, while fetch_and_prepare records them
_used: ContextVar[set[str] | None] = ContextVar("harness_secret_used", default=None)


def secret_path() -> Path:
    return home() / FILE


def installation_secret() -> bytes | None:
    """The installation's secret, None for `HARNESS_SECRET=public`.

    `HARNESS_SECRET`, when set and not empty, is the secret (its UTF-8 bytes); otherwise
    `$HARNESS_HOME/secret`, created with 32 random bytes and mode 0600 when missing.

    Raises:
        DataError: the secret file is empty or cannot be read or written.
    """
    env = os.environ.get(ENV)
    if env:
        return None if env == PUBLIC else env.encode()
    path = secret_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            _create(path)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # never readable by anyone but the harness's own user
        value = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read or create the installation secret {path}: {e}") from e
    if not value:
        raise DataError(
            f"the installation secret {path} is empty: delete it (a new one is made) "
            f"or set {ENV}=public for the published data"
        )
    return value


def _create(path: Path) -> None:
    """Writes a new secret whole, then links it in place: a process racing us sees no
    file or the whole of one, and the first link wins."""
    tmp = path.with_name(f".{FILE}-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(SIZE))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)


def secret_sha256(secret: bytes | None = None) -> str | None:
    """The sha256 (hex) of the secret (the installation's by default); None when public."""
    secret = installation_secret() if secret is None else secret
    return None if secret is None else hashlib.sha256(secret).hexdigest()


def secret_seed(seed: int, purpose: str) -> int:
    """A seed for `purpose` (say "rossmann/hidden-noise") mixed with the installation's
    secret: an HMAC-SHA256 of seed and purpose under the secret, as a 64-bit integer.

    With `HARNESS_SECRET=public` it is `seed` itself, so the published data comes out.
    Different purposes give independent seeds; nobody without the secret can compute them.
    """
    secret = installation_secret()
    if secret is None:
        return seed
    used = _used.get()
    if used is not None:
        used.add(hashlib.sha256(secret).hexdigest())
    digest = hmac.new(secret, f"{seed}:{purpose}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


@contextmanager
def recording():
    """Collects the sha256 of every secret `secret_seed` mixes in within the block:
    fetch_and_prepare records them in the manifest and the fingerprint."""
    used: set[str] = set()
    token = _used.set(used)
    try:
        yield used
    finally:
        _used.reset(token)
