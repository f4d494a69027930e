"""A gunicorn worker that reads each request's head in its event loop, never in a thread.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive; the
thread then reads the request line and headers with blocking calls. Eight clients that send a
header line every few seconds hold the eight threads of two workers, and every scrape waits
behind them. This worker reads heads (and does the TLS handshake) with non-blocking calls from
its poller, gives a connection to a thread only once its head is complete, closes it when the
head is not complete within the header-read timeout, and, when the worker is full, drops the
oldest unfinished head (else the oldest idle kept-alive connection) to make room: slow or idle
clients never keep a complete request from a thread.

Bodies are not read ahead: the exporter reads none, and gunicorn drains an unread body within
its own deadline before reusing a connection.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import ssl
import time
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn import sock as gunicorn_sock
from gunicorn.workers.gthread import TConn, ThreadWorker

# Far above any real request head (Prometheus sends a few hundred bytes), far below what an
# attacker could make each connection cost.
MAX_HEAD_BYTES = 64 * 1024
END_OF_HEAD = b"\r\n\r\n"
_CLOSE = b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout" + _CLOSE
_TOO_LARGE_ANSWER = b"HTTP/1.1 431 Request Header Fields Too Large" + _CLOSE


class HeadConn(TConn):
    """A connection whose request head is read by the poller before a thread takes it."""

    initialized: bool
    parser: Any

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any):
        super().__init__(cfg, sock, client, server)
        self.head = bytearray()
        self.head_ready = False
        self.deadline = 0.0
        self.handshaken = not cfg.is_ssl
        self.watching = 0  # selector events registered for the head, 0 when not registered

    def init(self) -> None:
        """In the thread: the parser reads the head already received, then the socket."""
        if self.initialized:
            return
        self.initialized = True
        self.sock.setblocking(True)
        if self.parser is None:
            # The TLS socket (if any) was wrapped and its handshake done by the poller.
            self.parser = http.get_parser(self.cfg, self.sock, self.client)
        self.hand_over_head()

    def hand_over_head(self) -> None:
        """Give the bytes read so far to the parser, which reads them before the socket."""
        if self.head and self.parser is not None:
            self.parser.unreader.unread(bytes(self.head))
            self.head = bytearray()


class HeadFirstWorker(ThreadWorker):
    """gthread, except that request heads are read without holding a thread.

    ``read_header_timeout`` is set by ``head_first_worker``.
    """

    read_header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Insertion order is deadline order: every head gets the same timeout.
        self.reading: dict[HeadConn, None] = {}

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = HeadConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl:
            try:
                conn.sock = gunicorn_sock.ssl_context(self.cfg).wrap_socket(
                    client_sock,
                    server_side=True,
                    suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                    do_handshake_on_connect=False,
                )
            except (OSError, ValueError):
                self._drop(conn)
                return
            # The parser must not wrap it a second time.
            conn.sock.setblocking(False)
        self._make_room()
        self.enqueue_req(conn)

    def enqueue_req(self, conn: TConn) -> None:
        """Every path to a thread comes here: only a complete head goes on to the pool."""
        if not isinstance(conn, HeadConn) or conn.head_ready:
            if isinstance(conn, HeadConn):
                conn.head_ready = False
            super().enqueue_req(conn)
            return
        if conn.parser is not None:
            # Kept alive: bytes the parser read ahead belong to the next head.
            conn.head += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.read_header_timeout
        self.reading[conn] = None
        if END_OF_HEAD in conn.head:
            self._dispatch(conn)
        else:
            self._read_head(conn)

    def _read_head(self, conn: HeadConn, _fileobj: object = None) -> None:
        try:
            if not conn.handshaken:
                conn.sock.do_handshake()
                conn.handshaken = True
            while True:
                data = conn.sock.recv(8192)
                if not data:
                    self._drop(conn)
                    return
                conn.head += data
                if END_OF_HEAD in conn.head:
                    self._dispatch(conn)
                    return
                if len(conn.head) > MAX_HEAD_BYTES:
                    self._drop(conn, _TOO_LARGE_ANSWER)
                    return
        except ssl.SSLWantWriteError:
            self._watch(conn, selectors.EVENT_WRITE)
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            self._watch(conn, selectors.EVENT_READ)
        except (OSError, ValueError):  # reset, TLS failure, closed socket
            self._drop(conn)

    def _watch(self, conn: HeadConn, events: int) -> None:
        if conn.watching == events:
            return
        callback = partial(self._read_head, conn)
        if conn.watching:
            self.poller.modify(conn.sock, events, callback)
        else:
            self.poller.register(conn.sock, events, callback)
        conn.watching = events

    def _unwatch(self, conn: HeadConn) -> None:
        self.reading.pop(conn, None)
        if conn.watching:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            conn.watching = 0

    def _dispatch(self, conn: HeadConn) -> None:
        self._unwatch(conn)
        conn.data_ready = True
        conn.head_ready = True
        conn.hand_over_head()  # kept alive: the parser exists; a new one gets it in init()
        self.enqueue_req(conn)

    def _drop(self, conn: HeadConn, answer: bytes = b"") -> None:
        self._unwatch(conn)
        if answer and conn.handshaken:
            with contextlib.suppress(OSError, ValueError):
                conn.sock.send(answer)  # best effort: the socket is non-blocking
        self.nr_conns -= 1
        conn.close()

    def _make_room(self) -> None:
        """Keep room for complete requests: drop the oldest unfinished head, else idle one."""
        limit = self.worker_connections - self.cfg.threads
        while self.nr_conns > limit:
            if self.reading:
                self._drop(next(iter(self.reading)))
            elif self.keepalived_conns:
                conn = self.keepalived_conns.popleft()
                with contextlib.suppress(OSError, KeyError, ValueError):
                    self.poller.unregister(conn.sock)
                self.nr_conns -= 1
                conn.close()
            else:
                return

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.reading:
            conn = next(iter(self.reading))
            if self.alive and conn.deadline > now:
                return
            # A stopping worker takes no new request: unfinished heads go at once.
            self._drop(conn, _TIMEOUT_ANSWER if conn.head else b"")


def head_first_worker(read_header_timeout: float) -> type[HeadFirstWorker]:
    """The worker class with its header-read timeout (gunicorn takes a class as worker_class)."""
    return type(
        "HeadFirstWorker",
        (HeadFirstWorker,),
        {"read_header_timeout": float(read_header_timeout), "__module__": __name__},
    )
