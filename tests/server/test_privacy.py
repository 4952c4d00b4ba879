"""Kaggle's privacy through the group's server, as attacks: another member and an anonymous
visitor try to read a member's work through the API, `harness show/diff` and the board's
login, and get nothing but the public part and one line saying whose it is."""

from __future__ import annotations

import re
import time

import requests

from harness.server import login as board_login
from tests.conftest import harness_here, harness_here_json, write
from tests.server.conftest import WOMEN, login, member

SECRET = "# ann's secret feature engineering\n"


def sign_in(url: str, token: str, origin: str | None = "same") -> requests.Response:
    """The board's login form, posted as a browser on the board's page would."""
    headers = {"Origin": url if origin == "same" else origin} if origin else {}
    return requests.post(
        url + "/login", data={"token": token}, headers=headers, allow_redirects=False, timeout=30
    )


def board_bytes(url: str, query: str, cookie: str | None, session: str | None = None):
    """What the board's websocket sends for a page (raw), and its Streamlit session id: as
    a browser with `cookie` (or none) opening it, or reconnecting to `session`."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    headers = {"Cookie": f"{board_login.COOKIE}={cookie}"} if cookie else {}
    stream = url.replace("http", "ws") + "/_stcore/stream"
    protocols = ["streamlit", "xsrf", *([session] if session else [])]
    with connect(
        stream, subprotocols=protocols, additional_headers=headers, origin=url, max_size=2**26
    ) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = query
        ws.send(rerun.SerializeToString())
        sid, blob = None, b""
        while True:
            raw = ws.recv(timeout=30)
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            blob += raw
            if msg.WhichOneof("type") == "new_session":
                sid = msg.new_session.initialize.session_id
            if msg.WhichOneof("type") == "script_finished":
                return sid, blob


def test_a_members_work_is_theirs_until_they_publish_it(serve, ready, tmp_path):
    ann, bob = member(ready, "ann"), member(ready, "bob")
    olga = harness_here_json("member", "add", "olga", "--organiser", home=ready)[1]["token"]
    server = serve()
    laptops = {n: tmp_path / n for n in ("ann", "bob", "olga")}
    for n, token in (("ann", ann), ("bob", bob), ("olga", olga)):
        assert login(laptops[n], server.url, token).returncode == 0
    code = write(tmp_path / "mine.py", SECRET + WOMEN)
    code_, sub = harness_here_json(
        "submit", "titanic", str(code), "--message", "ann's idea", home=laptops["ann"]
    )
    assert code_ == 0 and sub["status"] == "scored", sub
    sid = sub["id"]

    # bob: the record is refused in one line naming whose it is; the status is public only
    r = server.api("GET", f"/api/submissions/{sid}/record", bob)
    assert r.status_code == 403 and r.json()["error"].startswith(
        f"submission {sid} is ann's: its code, log and diagnostics are private to ann"
    )
    st = server.api("GET", f"/api/submissions/{sid}", bob).json()
    assert st["public_score"] == sub["public_score"] and st["user"] == "ann"
    assert st["filename"] is None and st["message"] is None and st["private"]
    shown = harness_here("show", str(sid), home=laptops["bob"])
    assert shown.returncode == 1 and len(shown.stderr.splitlines()) == 1
    assert f"submission {sid} is ann's" in shown.stderr and "secret" not in shown.stdout
    diff = harness_here("diff", str(sid), str(sid), home=laptops["bob"])
    assert diff.returncode == 1 and f"submission {sid} is ann's" in diff.stderr
    refused = harness_here_json("publish", str(sid), home=laptops["bob"])
    assert refused[0] == 1 and "only ann, their team or an organiser" in refused[1]["error"]
    # ann and the organiser read it all
    for who in ("ann", "olga"):
        code_, full = harness_here_json("show", str(sid), home=laptops[who])
        assert code_ == 0 and SECRET in full["content"] and full["message"] == "ann's idea"
    # ann publishes: everyone reads it from then on, and it says so
    code_, out = harness_here_json("publish", str(sid), home=laptops["ann"])
    assert code_ == 0 and out["already"] is False and out["published_at"]
    code_, now = harness_here_json("show", str(sid), home=laptops["bob"])
    assert code_ == 0 and SECRET in now["content"] and now["published_at"]
    assert harness_here_json("publish", str(sid), home=laptops["ann"])[1]["already"] is True

    # the board's login: a signed, httpOnly, SameSite cookie; never the token in a URL
    assert requests.get(server.url + "/login", timeout=30).status_code == 200
    r = sign_in(server.url, bob)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{board_login.COOKIE}=") and bob not in cookie
    flags = {f.strip().split("=")[0].lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "max-age", "path"} <= flags and "samesite=lax" in cookie.lower()
    value = re.match(rf"{board_login.COOKIE}=([^;]+)", cookie).group(1).strip('"')
    jar = {board_login.COOKIE: value}
    who = requests.get(server.url + "/login", cookies=jar, timeout=30).text
    assert "Signed in as bob." in who
    # another site's form, a wrong token, a forged cookie: nobody is signed in
    assert sign_in(server.url, bob, origin="http://evil.example").status_code == 403
    assert sign_in(server.url, bob, origin=None).status_code == 403
    wrong = sign_in(server.url, bob[:-3] + "xyz")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    payload, signature = value.split(".")
    forged = {
        board_login.COOKIE: payload.replace(payload[5], "A" if payload[5] != "A" else "B")
        + "."
        + signature
    }
    assert (
        "Signed in as" not in requests.get(server.url + "/login", cookies=forged, timeout=30).text
    )
    # Streamlit's file box: an anonymous visitor cannot send the host files through it
    box = server.url + "/_stcore/upload_file/some-session/some-file"
    anonymous = requests.put(box, files={"file": ("x.csv", b"a" * 1000)}, timeout=30)
    assert anonymous.status_code == 403 and anonymous.text == "sign in to upload"
    signed = requests.put(box, files={"file": ("x.csv", b"a")}, cookies=jar, timeout=30)
    assert signed.text != "sign in to upload"  # on to Streamlit (which wants its XSRF token)
    # a new token ends every session of the member at once
    time.sleep(0.01)
    assert harness_here("member", "token", "bob", home=ready).returncode == 0
    assert "Signed in as" not in requests.get(server.url + "/login", cookies=jar, timeout=30).text
    out = requests.post(
        server.url + "/logout", headers={"Origin": server.url}, allow_redirects=False, timeout=30
    )
    assert out.status_code == 303 and 'harness_session=""' in out.headers["set-cookie"]
    assert "max-age=0" in out.headers["set-cookie"].lower()
    # a board session signed in as ann, then reconnected without the cookie (signed out, or
    # its Streamlit session id taken elsewhere): nobody, as a fresh anonymous one
    private = harness_here_json(
        "submit", "titanic", str(code), "--message", "again", home=laptops["ann"]
    )
    mine = private[1]["id"]
    sid, seen = board_bytes(
        server.url, f"submission={mine}", sign_in(server.url, ann).cookies[board_login.COOKIE]
    )
    assert SECRET.strip().encode() in seen
    _, again = board_bytes(server.url, f"submission={mine}", None, session=sid)
    assert SECRET.strip().encode() not in again
    assert "hns_" not in (tmp_path / "serve.log").read_text()  # no token in the server's log
