"""A gunicorn worker that reads each request's head in its event loop, never in a thread.

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive; the
thread then reads the request line and headers with blocking calls. Eight clients that send a
header line every few seconds hold the eight threads of two workers, and every scrape waits
behind them. This worker reads heads (and does the TLS handshake) with non-blocking calls from
its poller, gives a connection to a thread only once its head is complete, closes it when the
head is not complete within the header-read timeout, and, when the worker is full, drops the
oldest unfinished head (else the oldest idle kept-alive connection) to make room: slow or idle
clients never keep a complete request from a thread.

Answers go the same way back: what the kernel has not taken within 50 ms is written by the
event loop, so a client that stops reading holds no thread, and it is cut off with a reset once
the write timeout has passed (over TLS the thread writes, under that one deadline for the whole
answer). Connections closed after an answer linger in the poller, not in a blocking call:
gunicorn's graceful close waits up to 2 s for the client's end of the connection on the
worker's only event loop, so a dozen clients that ask for ``Connection: close`` and never close
stalled every other connection of the worker.

Bodies are not read ahead: the exporter reads none, and gunicorn drains an unread body within
its own deadline before reusing a connection.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import ssl
import struct
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn import http, util
from gunicorn import sock as gunicorn_sock
from gunicorn.workers.gthread import TConn, ThreadWorker

# Far above any real request head (Prometheus sends a few hundred bytes), far below what an
# attacker could make each connection cost.
MAX_HEAD_BYTES = 64 * 1024
END_OF_HEAD = b"\r\n\r\n"
_CLOSE = b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout" + _CLOSE
_TOO_LARGE_ANSWER = b"HTTP/1.1 431 Request Header Fields Too Large" + _CLOSE
# gunicorn's graceful close: how long, and how many bytes, the client's end is waited for.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024
# How long a thread goes on writing an answer itself before the event loop takes the rest.
# Handing over costs the event loop a pass per chunk the client reads; a scraper reading at its
# pace takes its answer within this, a stalled reader costs a thread no longer.
HANDOFF_SECONDS = 0.05
# SO_LINGER on, 0 s: close sends a reset and drops what the client never read.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class WriteTimeout(TimeoutError):
    """The client did not take its answer within the write timeout."""


class DeadlineSocket:
    """The socket an answer is written to.

    Over plain TCP, what the kernel has not taken within ``HANDOFF_SECONDS`` is queued on the
    connection and written by the worker's event loop (``queue`` given): the thread is free
    soon after the application returns. Over TLS, whose sends cannot be split that way, the
    thread writes, and all its writes end by one deadline: a socket timeout alone bounds each
    call, and a TLS answer is many calls, so a client reading a little now and then could
    stretch it without end.
    """

    def __init__(self, sock: socket.socket, deadline: float, queue: deque[memoryview] | None):
        self._sock = sock
        self._deadline = deadline
        self._queue = queue

    def sendall(self, data: bytes | memoryview, flags: int = 0) -> None:
        if self._queue is not None:
            self._send_or_queue(data)
            return
        with memoryview(data) as view, view.cast("B") as whole:
            rest = whole
            try:
                while rest:
                    remaining = self._deadline - time.monotonic()
                    if remaining <= 0:
                        raise WriteTimeout("write timeout")
                    self._sock.settimeout(remaining)
                    try:
                        sent = self._sock.send(rest, flags) if flags else self._sock.send(rest)
                    except TimeoutError:
                        raise WriteTimeout("write timeout") from None
                    rest = rest[sent:]
            finally:
                rest.release()
                self._sock.settimeout(None)

    def _send_or_queue(self, data: bytes | memoryview) -> None:
        assert self._queue is not None
        # The queue outlives this call: it must hold bytes nobody changes afterwards.
        rest = memoryview(data if isinstance(data, bytes) else bytes(data)).cast("B")
        if not self._queue:
            rest = rest[self._send_for_a_moment(rest) :]
        if rest:
            self._queue.append(rest)

    def _send_for_a_moment(self, data: memoryview) -> int:
        """Send for up to ``HANDOFF_SECONDS``: a client reading at its pace is done by then."""
        sent = 0
        until = time.monotonic() + HANDOFF_SECONDS
        try:
            while sent < len(data):
                remaining = until - time.monotonic()
                if remaining <= 0:
                    break
                self._sock.settimeout(remaining)
                sent += self._sock.send(data[sent:])
        except (TimeoutError, BlockingIOError, InterruptedError):
            pass
        finally:
            self._sock.settimeout(None)
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def send_some(sock: socket.socket, data: memoryview) -> int:
    """Send what the kernel takes now, without waiting; how many bytes it took."""
    sent = 0
    try:
        while sent < len(data):
            sent += sock.send(data[sent:], socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        pass
    return sent


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
        self.stalled = False  # its last answer passed the write timeout
        self.out: deque[memoryview] = deque()  # answer bytes the event loop still has to write
        self.out_deadline = 0.0
        self.linger: Any = None  # the worker's non-blocking graceful close

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

    def close(self, graceful: bool = False) -> None:
        if graceful and self.linger is not None:
            self.linger(self)
        else:
            super().close(graceful)


class HeadFirstWorker(ThreadWorker):
    """gthread, except that request heads are read without holding a thread.

    ``read_header_timeout`` and ``write_timeout`` are set by ``head_first_worker``.
    """

    read_header_timeout = 10.0
    write_timeout = 60.0

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Insertion order is deadline order: every head gets the same timeout, every lingering
        # close the same wait.
        self.reading: dict[HeadConn, None] = {}
        self.lingering: dict[socket.socket, float] = {}
        self.writing: dict[HeadConn, None] = {}

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = HeadConn(self.cfg, client_sock, client_addr, listener.getsockname())
        conn.linger = self._linger
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

    def handle_request(self, req: Any, conn: TConn) -> bool:
        """In the thread: the answer is queued for the event loop, or written under a deadline."""
        sock = conn.sock
        deadline = time.monotonic() + self.write_timeout
        queue = conn.out if isinstance(conn, HeadConn) and not self.cfg.is_ssl else None
        conn.sock = DeadlineSocket(sock, deadline, queue)
        try:
            return bool(super().handle_request(req, conn))
        except WriteTimeout:
            if isinstance(conn, HeadConn):
                conn.stalled = True
            self._log_stalled(conn)
            return False
        finally:
            conn.sock = sock
            if isinstance(conn, HeadConn):
                conn.out_deadline = deadline

    def _log_stalled(self, conn: TConn) -> None:
        self.log.info(
            "closed a connection from %s: its answer was not read within %gs",
            conn.client[0] if isinstance(conn.client, tuple) else conn.client,
            self.write_timeout,
        )

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """In the event loop, once the thread is done: write what is queued, then go on."""
        if isinstance(conn, HeadConn) and conn.stalled:
            self._reset(conn)
            return
        if isinstance(conn, HeadConn) and conn.out:
            self.writing[conn] = None
            try:
                self.poller.register(
                    conn.sock, selectors.EVENT_WRITE, partial(self._write_out, conn, fs)
                )
            except (OSError, ValueError, KeyError):
                self._reset(conn)
            return
        super().finish_request(conn, fs)

    def _write_out(self, conn: HeadConn, fs: Any, _fileobj: object = None) -> None:
        try:
            while conn.out:
                chunk = conn.out[0]
                sent = send_some(conn.sock, chunk)
                if sent < len(chunk):
                    conn.out[0] = chunk[sent:]
                    return  # the kernel is full: the poller calls again when it has room
                conn.out.popleft()
        except OSError:  # the client went away
            self._reset(conn)
            return
        self._stop_writing(conn)
        super().finish_request(conn, fs)

    def _stop_writing(self, conn: HeadConn) -> None:
        if self.writing.pop(conn, 0) is None:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)

    def _reset(self, conn: HeadConn) -> None:
        """Close at once: unread bytes would keep the socket until the kernel gives up."""
        self._stop_writing(conn)
        conn.out.clear()
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        util.close(conn.sock)

    def _linger(self, conn: HeadConn) -> None:
        """Half-close, then wait for the client's end in the poller (RFC 9112 9.6)."""
        sock = conn.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, partial(self._drain, sock, [0]))
        except (OSError, ValueError, KeyError):
            util.close(sock)
            return
        self.lingering[sock] = time.monotonic() + LINGER_SECONDS

    def _drain(self, sock: socket.socket, drained: list[int], _fileobj: object = None) -> None:
        try:
            while drained[0] < LINGER_BYTES:
                data = sock.recv(4096)
                if not data:
                    break
                drained[0] += len(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return
        except (OSError, ValueError):
            pass
        self._end_linger(sock)

    def _end_linger(self, sock: socket.socket) -> None:
        self.lingering.pop(sock, None)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(sock)
        util.close(sock)

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
        while self.writing:
            conn = next(iter(self.writing))
            if conn.out_deadline > now:
                break
            self._log_stalled(conn)
            self._reset(conn)
        while self.lingering:
            sock, until = next(iter(self.lingering.items()))
            if until > now:
                break
            self._end_linger(sock)


def head_first_worker(
    read_header_timeout: float, write_timeout: float = HeadFirstWorker.write_timeout
) -> type[HeadFirstWorker]:
    """The worker class with its timeouts (gunicorn takes a class as worker_class)."""
    return type(
        "HeadFirstWorker",
        (HeadFirstWorker,),
        {
            "read_header_timeout": float(read_header_timeout),
            "write_timeout": float(write_timeout),
            "__module__": __name__,
        },
    )
