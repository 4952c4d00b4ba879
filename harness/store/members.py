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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

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


def check_email(email: str | None) -> str | None:
    """An e-mail address as stored (lower case), or None.

    Raises:
        UsageError: not one address.
    """
    if email is None:
        return None
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or len(email) > 254 or any(c.isspace() for c in email):
        raise UsageError(f"--email must be one e-mail address, got {email!r}")
    return email


def add(name: str, organiser: bool = False, email: str | None = None) -> str:
    """Creates a member (an organiser: sees every member's work, runs the competition from
    the board; `email`: the address an OpenID sign-in maps to them by); returns the token,
    which is stored only as a hash.

    Raises:
        UsageError: a bad name, or a member of that name exists.
    """
    name = check_name(name)
    email = check_email(email)
    token = new_token()
    with db.connect() as con:
        con.execute("BEGIN")
        if con.execute("SELECT 1 FROM members WHERE name = ?", [name]).fetchone():
            con.execute("ROLLBACK")
            raise UsageError(
                f"a member named {name!r} exists: `harness member token {name}` gives a new token"
            )
        if email and con.execute("SELECT 1 FROM members WHERE email = ?", [email]).fetchone():
            con.execute("ROLLBACK")
            raise UsageError(f"another member has the e-mail address {email!r}")
        at = db.now()
        con.execute(
            "INSERT INTO members (name, token_sha256, created_at, token_at, organiser, email) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [name, _hash(token), at, at, organiser, email],
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
    """Every member (name, organiser, created_at, token_at, submissions), by name."""
    return db.read(
        "SELECT m.name AS member, coalesce(m.organiser, false) AS organiser, m.email, "
        "m.created_at, m.token_at, "
        "(SELECT count(*) FROM submissions s WHERE s.user_name = m.name) AS submissions "
        "FROM members m ORDER BY m.name",
        table="members",
    )


def by_email(email: str | None) -> str | None:
    """The member with this e-mail address (an OpenID sign-in's), or None."""
    if not email:
        return None
    found = db.read(
        "SELECT name FROM members WHERE email = ?", [email.strip().lower()], table="members"
    )
    return found[0]["name"] if len(found) == 1 else None


def who(token: str | None) -> str | None:
    """The member a token belongs to, or None; every stored hash is compared, in constant
    time, whatever the answer."""
    if not token:
        return None
    digest = _hash(token)
    found = None
    for m in known().values():
        if hmac.compare_digest(digest, m.token_sha256):
            found = m.name
    return found


@dataclass(frozen=True)
class Member:
    """A member as the store holds them: their token only as its hash."""

    name: str
    token_sha256: str
    token_at: datetime
    organiser: bool


def known() -> Mapping[str, Member]:
    """Every member, by name (read-only). The server asks on every call (`who`; a page's
    session and organiser checks can too), so it is remembered until the store is next
    written: a new or withdrawn token and a removed member count at once."""
    return db.remembered(("members",), _members)


def _members() -> Mapping[str, Member]:
    rows = db.read(
        "SELECT name, token_sha256, token_at, coalesce(organiser, false) AS organiser FROM members",
        table="members",
    )
    return MappingProxyType({r["name"]: Member(**r) for r in rows})
