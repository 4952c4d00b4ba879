"""Members and tokens: shown once, stored as a hash, replaced at once."""

import duckdb
import pytest

from harness.errors import UsageError
from harness.paths import db_path
from harness.store import members


def test_a_token_is_stored_only_as_its_hash_and_names_its_member(home):
    token = members.add("alice")
    assert token.startswith("hns_") and len(token) > 40
    assert members.who(token) == "alice"
    assert members.who(token + "x") is None and members.who("") is None
    assert members.who(None) is None
    con = duckdb.connect(str(db_path()), read_only=True)
    stored = con.execute("SELECT * FROM members").fetchall()
    con.close()
    assert token not in repr(stored)


def test_a_new_token_ends_the_old_one_and_removal_ends_both(home):
    old = members.add("bob")
    new = members.replace_token("bob")
    assert members.who(old) is None and members.who(new) == "bob"
    members.remove("bob")
    assert members.who(new) is None and members.listing() == []
    with pytest.raises(UsageError, match="no member named 'bob'"):
        members.remove("bob")


def test_names_are_checked_and_unique(home):
    members.add("ann")
    with pytest.raises(UsageError, match="exists"):
        members.add("ann")
    for bad in ("", "   ", "a" * 65, "tab\there"):
        with pytest.raises(UsageError, match="printable"):
            members.add(bad)
    assert [m["member"] for m in members.listing()] == ["ann"]
