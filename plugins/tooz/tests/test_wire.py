"""The package's HTTP client (``roster_tooz.wire`` and ``client.Client``) against a scripted
server: every way an HTTP/1.1 answer may end, answers it must refuse, and connections the
server closed."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator

import pytest
import tooz
from tooz import coordination

from roster_tooz import wire
from roster_tooz.client import Client


class ScriptedServer:
    """Answers each call it reads with the next scripted bytes; a script entry may also
    close the connection after answering. Records the calls it read."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self.port = self._listener.getsockname()[1]
        self._script: list[tuple[bytes, bool]] = []
        self._lock = threading.Lock()
        self.calls: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self, raw: bytes, close: bool = False) -> None:
        with self._lock:
            self._script.append((raw, close))

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self._tls is not None:
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    # A client that did not trust the certificate.
                    conn.close()
                    continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                call = head + reader.read(length)
                with self._lock:
                    self.calls.append(call)
                    raw, close = self._script.pop(0)
                try:
                    conn.sendall(raw)
                except OSError:
                    # The client stopped reading (an answer it refused part way).
                    return
                if close:
                    return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.close()


def exchange(server: ScriptedServer, raw: bytes, close: bool = False) -> tuple[int, bytes, bool]:
    """One call on a new connection, answered with ``raw`` (then closed if ``close``)."""
    server.answer(raw, close=close)
    connection = wire.Connection("127.0.0.1", server.port, None, 5.0)
    try:
        return connection.exchange(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 5.0)
    finally:
        connection.close()


def test_an_answer_with_a_length_is_read_whole_and_keeps_the_connection(server):
    answer = b'HTTP/1.1 200 OK\r\ncontent-length: 7\r\nx-other: a:b\r\n\r\n{"a":1}'
    assert exchange(server, answer) == (200, b'{"a":1}', True)


def test_an_answer_in_chunks_is_joined_and_its_trailer_skipped(server):
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n"
    )
    assert exchange(server, answer) == (200, b"abc0123456789", True)


def test_connection_close_says_the_connection_carries_no_other_call(server):
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    assert exchange(server, answer) == (200, b"ok", False)


def test_an_http_1_0_answer_closes_unless_it_keeps_alive(server):
    assert exchange(server, b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[2] is False
    kept = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
    assert exchange(server, kept)[2] is True


def test_a_body_without_length_runs_to_the_end_of_the_connection(server):
    answer = b"HTTP/1.1 200 OK\r\n\r\nall of it"
    assert exchange(server, answer, close=True) == (200, b"all of it", False)


def test_informational_answers_before_the_answer_are_skipped(server):
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"
    assert exchange(server, answer) == (201, b"{}", True)


def test_no_content_has_no_body_whatever_it_says(server):
    assert exchange(server, b"HTTP/1.1 204 No Content\r\n\r\n") == (204, b"", True)


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nx: " + b"y" * (wire.MAX_LINE + 1) + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"x: y\r\n" * (wire.MAX_HEADERS + 1) + b"\r\n",
    ],
)
def test_what_is_not_an_http_answer_is_refused(server, answer):
    with pytest.raises(wire.BadAnswer):
        exchange(server, answer)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Len",
    ],
)
def test_an_answer_cut_short_is_refused(server, answer):
    with pytest.raises(wire.BadAnswer):
        exchange(server, answer, close=True)


def test_a_connection_closed_before_answering_is_told_apart(server):
    with pytest.raises(wire.Closed):
        exchange(server, b"", close=True)


def ok(body: object) -> bytes:
    data = json.dumps(body).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)


def test_a_call_is_one_request_with_its_headers_and_body(server):
    client = Client([server.address], timeout=5.0, token="t0k3n")
    server.answer(ok({"session_id": "s"}))
    assert client.call("POST", ["sessions", "a b/c"], {"member_id": "m"}) == {"session_id": "s"}
    server.answer(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert client.call("DELETE", ["sessions", "s"]) is None
    client.close()
    post, delete = server.calls
    head, body = post.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/sessions/a%20b%2Fc HTTP/1.1"
    assert b"Host: " + server.address.encode() in lines
    assert b"Authorization: Bearer t0k3n" in lines
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: %d" % len(body) in lines
    assert json.loads(body) == {"member_id": "m"}
    assert delete.startswith(b"DELETE /v1/sessions/s HTTP/1.1\r\n")
    # Both calls went over one kept-alive connection.
    assert server.connections == 1


def test_a_connection_the_daemon_closed_while_idle_is_replaced(server):
    client = Client([server.address], timeout=5.0)
    server.answer(ok(1), close=True)
    assert client.call("GET", ["status"]) == 1
    server.answer(ok(2))
    assert client.call("GET", ["status"]) == 2
    client.close()
    assert server.connections == 2


def test_calls_go_on_through_the_next_daemon_when_one_cannot_be_reached(server):
    unused = socket.create_server(("127.0.0.1", 0))
    refusing = "127.0.0.1:%d" % unused.getsockname()[1]
    unused.close()
    client = Client([refusing, server.address], timeout=5.0)
    server.answer(ok("through the second"))
    assert client.call("GET", ["status"]) == "through the second"
    server.answer(ok("still the second"))
    assert client.call("GET", ["status"]) == "still the second"
    client.close()


def test_an_error_answer_is_the_tooz_exception_for_its_code(server):
    client = Client([server.address], timeout=5.0)
    error = {"error": {"code": "group-not-created", "message": "no", "detail": {"group_id": "g"}}}
    data = json.dumps(error).encode()
    server.answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    with pytest.raises(coordination.GroupNotCreated):
        client.call("GET", ["groups", "g"])
    client.close()


def test_no_daemon_answering_is_a_connection_error():
    unused = socket.create_server(("127.0.0.1", 0))
    refusing = "127.0.0.1:%d" % unused.getsockname()[1]
    unused.close()
    client = Client([refusing], timeout=5.0)
    with pytest.raises(coordination.ToozConnectionError):
        client.call("GET", ["status"])


@pytest.mark.parametrize("token", ["two words", "line\r\nX-Injected: 1", "caf\u00e9"])
def test_a_token_that_cannot_be_a_header_is_refused(token):
    with pytest.raises(ValueError):
        Client(["127.0.0.1:1"], timeout=5.0, token=token)


def test_a_tooz_error_is_raised_for_a_bad_answer_from_every_daemon(server):
    client = Client([server.address], timeout=5.0)
    server.answer(b"garbage\r\n\r\n", close=True)
    with pytest.raises(tooz.ToozError):
        client.call("GET", ["status"])
    client.close()


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key (made by ``openssl``)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=roster-test", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def test_calls_go_over_tls_to_a_daemon_whose_certificate_is_trusted(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ScriptedServer(tls=context)
    try:
        client = Client([server.address], timeout=5.0, tls=True, ca_file=cert)
        server.answer(ok("over TLS"))
        assert client.call("GET", ["status"]) == "over TLS"
        server.answer(ok("same connection"))
        assert client.call("GET", ["status"]) == "same connection"
        client.close()
        assert server.connections == 1
        untrusting = Client([server.address], timeout=5.0, tls=True)
        with pytest.raises(coordination.ToozConnectionError):
            untrusting.call("GET", ["status"])
    finally:
        server.close()
