"""A TCP forwarder a test can cut and restore: PostgreSQL going away, as the app sees it.

The tests share one PostgreSQL server, so they cannot stop it. Pointing the app at
this proxy instead gives the same faults on the test's own port and nobody
else's connections: `stop()` cuts every open connection (what the app's pool sees
when the server dies or restarts) and refuses new ones (the server is down);
`start()` listens on the same port again (the server is back). `silence()` is a
network that swallows everything: connections stay open and new ones are
accepted, but nothing arrives on the other side and no answer comes back, so
neither the server's timeouts nor a closed socket ever end the app's wait.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target` until stopped; restartable on the same port."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.silent = False

    def start(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        # A short timeout, so that the accepting thread notices stop() soon.
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def silence(self) -> None:
        """From now on forward nothing, either way, and connect new clients to nothing."""
        self.silent = True

    def stop(self) -> None:
        """Cut every connection and refuse new ones (and end a silence)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # The accepting thread closes the listener when it sees the stop: a socket
            # closed while another thread waits in accept() keeps listening until then,
            # and start() could not listen on the port again.
            self._acceptor.join()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)
        self.silent = False

    def _accept(self, listener: socket.socket) -> None:
        try:
            self._forward(listener)
        finally:
            listener.close()

    def _forward(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            if self.silent:
                with self._lock:
                    self._sockets.add(client)
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self.silent:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)

    def _swallow(self, client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        finally:
            _close(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
