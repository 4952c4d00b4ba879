"""The group's members and their tokens.

A token is shown once, when it is made; the store keeps only its SHA-256 (a token is 256
random bits, so a plain hash is enough to make a stolen database useless for logging in).
Checking a token compares its hash with every member's in constant time and never says
which member, if any, came close.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from harness.errors import UsageError
from harness.store import db

TOKEN_PREFIX = "hns_"
MAX_NAME_LEN = 64


def check_name(name: str) -> str:
    """A member name: 1 to 64 printable characters, no spaces at either end.

    Raises:
        UsageError: anything else.
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LEN or any(not c.isprintable() for c in name):
        raise UsageError(
            f"a member name must be 1 to {MAX_NAME_LEN} printable characters, got {name!r}"
        )
    return name


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add(name: str) -> str:
    """Creates a member; returns the token, which is stored only as a hash.

    Raises:
        UsageError: a bad name, or a member of that name exists.
    """
    name = check_name(name)
    token = new_token()
    with db.connect() as con:
        con.execute("BEGIN")
        if con.execute("SELECT 1 FROM members WHERE name = ?", [name]).fetchone():
            con.execute("ROLLBACK")
            raise UsageError(
                f"a member named {name!r} exists: `harness member token {name}` gives a new token"
            )
        at = db.now()
        con.execute(
            "INSERT INTO members (name, token_sha256, created_at, token_at) VALUES (?, ?, ?, ?)",
            [name, _hash(token), at, at],
        )
        con.execute("COMMIT")
    return token


def replace_token(name: str) -> str:
    """A new token for a member; the old one stops working at once.

    Raises:
        UsageError: no such member.
    """
    token = new_token()
    with db.connect() as con:
        found = con.execute(
            "UPDATE members SET token_sha256 = ?, token_at = ? WHERE name = ? RETURNING name",
            [_hash(token), db.now(), name],
        ).fetchall()
    if not found:
        raise UsageError(f"no member named {name!r} (harness member list)")
    return token


def remove(name: str) -> None:
    """Forgets a member and their token; their submissions stay.

    Raises:
        UsageError: no such member.
    """
    with db.connect() as con:
        found = con.execute("DELETE FROM members WHERE name = ? RETURNING name", [name]).fetchall()
    if not found:
        raise UsageError(f"no member named {name!r} (harness member list)")


def listing() -> list[dict]:
    """Every member (name, created_at, token_at, submissions), by name."""
    return db.read(
        "SELECT m.name AS member, m.created_at, m.token_at, "
        "(SELECT count(*) FROM submissions s WHERE s.user_name = m.name) AS submissions "
        "FROM members m ORDER BY m.name",
        table="members",
    )


def who(token: str | None) -> str | None:
    """The member a token belongs to, or None; every stored hash is compared, in constant
    time, whatever the answer."""
    if not token:
        return None
    digest = _hash(token)
    rows = db.read("SELECT name, token_sha256 FROM members", table="members")
    found = None
    for r in rows:
        if hmac.compare_digest(digest, r["token_sha256"]):
            found = r["name"]
    return found
