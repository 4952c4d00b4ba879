"""The server as an internet-facing service: a real `harness serve --host 0.0.0.0` attacked
with raw sockets (half-open connections, request heads a byte short, huge bodies, strange
Hosts), wrong tokens, `²` for numbers and broken JSON. Each attack must be refused in one
line and change nothing."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import requests

from harness.server import guard
from tests.conftest import cli, cli_json, write
from tests.server.conftest import member
from tests.server.test_server import queue_rows

BIG = 500 * 10**6  # bytes a body claims: none of it is ever sent


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (a recv that returns nothing or resets);
    it does not wait."""
    sock.setblocking(False)
    try:
        return sock.recv(1 << 16) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def ask(port: int, head: str, source: str = "127.0.0.1") -> tuple[int, str]:
    """One raw request head (no body sent), its answer's status and text; the server must
    answer before any body arrives."""
    with connect(port, source) as sock:
        sock.sendall(head.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(1 << 16):
            answer += chunk
            if b"\r\n\r\n" in answer:
                top, _, body = answer.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":")[1])
                    for line in top.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= length[0]:
                    break
    top, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    return int(top.split()[1]), body


@contextmanager
def board_session(url: str, token: str):
    """A browser signed in to the board with its websocket open: the HTTP session (its
    cookies, the XSRF token in its header) and Streamlit's session id."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect as ws_connect

    browser = requests.Session()
    r = browser.post(url + "/login", data={"token": token}, headers={"Origin": url})
    assert r.status_code == 200 and "harness_session" in browser.cookies, r.text
    browser.get(url + "/_stcore/health")  # Streamlit's XSRF cookie
    browser.headers["X-Xsrftoken"] = browser.cookies["_streamlit_xsrf"]
    cookies = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    stream = url.replace("http", "ws") + "/_stcore/stream"
    with ws_connect(
        stream, subprotocols=["streamlit"], additional_headers={"Cookie": cookies}, origin=url
    ) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=30))
            if msg.WhichOneof("type") == "new_session":
                break
        yield browser, msg.new_session.initialize.session_id


def test_the_server_holds_against_half_open_connections_big_bodies_and_strange_requests(
    serve, ready
):
    alice = member(ready, "alice")
    server = serve("--host", "0.0.0.0", "--allowed-host", "board.example.org")
    port, url = server.port, server.url
    assert server.log.read_text().startswith("harness: warning: this server speaks plain HTTP")
    before = cli_json("leaderboard", "titanic", home=ready)[1]

    # half-open connections: from one address, those past its limit are closed at once;
    # others a byte short of a whole head, from elsewhere; the API answers meanwhile
    opened = time.monotonic()
    crowd = [connect(port, "127.0.0.2") for _ in range(guard.PER_ADDRESS + 50)]
    slow = [connect(port, "127.0.0.3") for _ in range(100)]
    for sock in slow:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.5)
    assert sum(closed(s) for s in crowd) >= 50
    assert not any(closed(s) for s in slow)
    t = time.monotonic()
    assert server.api("GET", "/api/whoami", alice).json() == {"member": "alice"}
    assert time.monotonic() - t < 2

    # a body over its route's limit: 413 from the head alone, on every route that reads one
    h = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {alice}\r\n"
    for route in (
        "POST /api/competitions/titanic/submissions",
        "POST /api/picks",
        "POST /api/submissions/1/publish",
        "POST /login",
        "POST /logout",
        "PUT /_stcore/upload_file/s/f",
        "GET /api/competitions",
    ):
        code, text = ask(port, f"{route} HTTP/1.1\r\n{h}Content-Length: {BIG}\r\n\r\n")
        assert code == 413 and "over this route's limit" in text, (route, text)
    code, text = ask(port, f"POST /api/picks HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\n\r\n")
    assert code == 411, text
    r = server.api("POST", "/api/picks", alice, data=b"[" * (guard.SMALL_BODY + 1))
    assert r.status_code == 413 and list(r.json()) == ["error"]

    # a Host that is not this server's (DNS rebinding), none at all, or one it was told of
    for host in ("evil.example", "127.0.0.1.evil.example", "board.example.org.evil"):
        code, text = ask(port, f"GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n")
        assert code == 400 and "--allowed-host" in text, (host, text)
    code, _ = ask(port, "GET / HTTP/1.0\r\n\r\n")
    assert code == 400
    code, _ = ask(
        port,
        "GET /_stcore/stream HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
    )
    assert code == 403  # the board's websocket is closed before it opens
    for host in ("board.example.org", "BOARD.example.org:443", socket.gethostname()):
        code, text = ask(port, f"GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n")
        assert code == 200, (host, text)

    # Streamlit's metrics: not from the outside, not from here either
    for path in ("/_stcore/metrics", "//_stcore/metrics/", "/_stcore//metrics"):
        r = requests.get(url + path, timeout=10)
        assert r.status_code == 404 and "cache" not in r.text, path

    # `²` is a digit to Python but no number: 400 for an id or a seed, never a 500
    for path in ("/api/submissions/²", "/api/submissions/²/record", "/api/diff/1/٣"):
        r = server.api("GET", path, alice)
        assert r.status_code == 400 and "whole number" in r.json()["error"], (path, r.text)
    r = server.api("POST", "/api/submissions/²/publish", alice)
    assert r.status_code == 400, r.text
    r = server.api(
        "POST",
        "/api/competitions/titanic/submissions",
        alice,
        files={"file": ("a.csv", b"PassengerId,Survived\n")},
        data={"seed": "²"},
    )
    assert r.status_code == 400 and "seed" in r.json()["error"], r.text
    for body in (b"{", b"\xff\xfe", b"[" * 60_000, b'{"ids": [1e400]}', b"null"):
        r = server.api("POST", "/api/picks", alice, data=body)
        assert r.status_code == 400 and list(r.json()) == ["error"], (body[:20], r.text)

    # the board's file box: a signed-in browser holds a few files at a time, then 429
    with board_session(url, alice) as (browser, session):
        box = f"{url}/_stcore/upload_file/{session}"
        sent = [browser.put(f"{box}/f{i}", files={"file": ("a.csv", b"x\n")}) for i in range(6)]
        codes = [r.status_code for r in sent]
        assert codes == [204] * guard.SESSION_FILES + [429] * (6 - guard.SESSION_FILES), codes
        # another page of the same member shares the allowance: sessions are free to open
        with board_session(url, alice) as (other, second):
            more = other.put(
                f"{url}/_stcore/upload_file/{second}/g0", files={"file": ("c.csv", b"z\n")}
            )
            assert more.status_code == 429 and "your pages hold 4 files" in more.text
        assert browser.delete(f"{box}/f0").status_code == 204
        assert browser.put(f"{box}/f9", files={"file": ("b.csv", b"y\n")}).status_code == 204

    # the board's websocket from a page of another origin (another port of this host, a
    # notebook server's): closed before it opens, as for no Origin at all
    for origin in ("http://127.0.0.1:9999", "http://localhost:3000", None):
        code, _ = ask(
            port,
            f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n" + (f"Origin: {origin}\r\n" if origin else "") + "\r\n",
        )
        assert code == 403, origin

    # wrong tokens from one address: five are answered, then each next one waits longer,
    # a right one too; another address is not held up
    wrong = "hns_" + "B" * 43
    assert [server.api("GET", "/api/whoami", wrong).status_code for _ in range(5)] == [401] * 5
    slowed = server.api("GET", "/api/whoami", wrong)
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1", slowed.text
    assert server.api("GET", "/api/whoami", alice).status_code == 429
    code, text = ask(
        port,
        f"GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {alice}\r\n\r\n",
        source="127.0.0.4",
    )
    assert code == 200 and "alice" in text
    time.sleep(1.1)
    assert server.api("GET", "/api/whoami", wrong).status_code == 401  # checked, and wrong
    assert server.api("GET", "/api/whoami", alice).headers["Retry-After"] == "2"
    time.sleep(2.1)
    assert server.api("GET", "/api/whoami", alice).json() == {"member": "alice"}

    # the heads that never came whole are closed HEAD_TIMEOUT after they began
    time.sleep(max(0.0, opened + guard.HEAD_TIMEOUT + 1 - time.monotonic()))
    assert all(closed(s) for s in slow) and all(closed(s) for s in crowd)
    for sock in crowd + slow:
        sock.close()
    assert server.api("GET", "/api/health").status_code == 200
    index = server.api("GET", "/api/")  # the serve banner's link: the routes, no token needed
    assert index.status_code == 200 and "GET /api/health" in index.json()["routes"]

    server.stop()
    assert queue_rows(ready) == [] and not list((ready / "uploads").glob("*"))
    assert cli_json("leaderboard", "titanic", home=ready)[1] == before


def test_serve_refuses_half_a_certificate_and_a_url_for_a_name(home, tmp_path):
    cert = write(tmp_path / "cert.pem", "not really")
    for args, said in (
        (["--ssl-certfile", str(cert)], "--ssl-certfile and --ssl-keyfile go together"),
        (["--allowed-host", "http://board.example.org/"], "--allowed-host takes a host name"),
    ):
        r = cli("serve", "--port", "1", *args, home=home)
        assert r.returncode == 2 and said in r.stderr and len(r.stderr.splitlines()) == 1, r
    assert not (home / "server.lock").exists()  # refused before the home was taken
