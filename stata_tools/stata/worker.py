"""The worker process: Stata (an Engine and its execution thread) in a process of its own.

Started by the server as `python -m stata_tools.stata.worker ADDRESS` with stdout and stderr on
a log file and the connection key on stdin. The first request (Start, with the sandbox) is read
on the main thread while it is the only one; then a thread reads requests and the main thread is
the engine's and runs them; replies go back as they finish, so a Break arrives while a job runs.
When the server goes away the connection ends and so does the worker, whatever Stata is doing.
"""

from __future__ import annotations

import faulthandler
import functools
import os
import signal
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Client, Connection
from typing import Any

from stata_tools.safety import sandbox
from stata_tools.stata import protocol
from stata_tools.stata.discovery import Installation
from stata_tools.stata.engine import Engine
from stata_tools.stata.forward import OutputForwarder


class _Installation:
    """Where Stata is, as the server's Start said; the engine asks when it initialises."""

    def __init__(self) -> None:
        self.value: Installation | None = None

    def __call__(self) -> Installation:
        if self.value is None:
            raise RuntimeError("the server asked for Stata before saying where it is")
        return self.value


class Worker:
    """Requests in, replies out; the engine keeps Stata's rules (one thread, one break a run)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._send_lock = threading.Lock()
        self._installation = _Installation()
        self.engine = Engine(self._installation, stdout_fallback=sys.stderr, native_stdout=True)
        self._refusal: BaseException | None = None  # the sandbox failed: nothing runs unlocked
        self._forwarder: OutputForwarder | None = None  # its thread starts after the lock

    @property
    def _output(self) -> OutputForwarder:
        if self._forwarder is None:
            self._forwarder = OutputForwarder(self._send)
        return self._forwarder

    def begin(self) -> None:
        """Hello, then the server's first request (Start) on this, the only thread: Landlock locks
        the calling thread and the threads it starts later, so the lock comes before any other."""
        self._send(protocol.Hello(os.getpid()))
        try:
            data = self._connection.recv_bytes()
        except (EOFError, OSError):
            os._exit(0)  # the server is gone
        request = protocol.decode_request(data)
        self._dispatch(request.ident, request.body)

    def serve(self) -> None:
        while True:
            try:
                data = self._connection.recv_bytes()
            except (EOFError, OSError):
                return  # the server is gone
            request = protocol.decode_request(data)
            self._dispatch(request.ident, request.body)

    def _dispatch(self, ident: int, body: object) -> None:
        if isinstance(body, protocol.Break):
            self.engine.request_break(body.run_id)
            return
        if self._refusal is not None:
            self._send(protocol.failure_of(ident, self._refusal))
            return
        if isinstance(body, protocol.Start):
            self._installation.value = body.installation
            if not self._lock_down(body.sandbox):
                self._send(protocol.failure_of(ident, self._refusal))  # type: ignore[arg-type]
                return
            future: Future[Any] = self.engine.start()
        elif isinstance(body, protocol.Execute):
            future = self.engine.execute(body.job, self._output.writer(body.job.run_id))
        elif isinstance(body, protocol.Query):
            try:
                fn = body.function()
            except Exception as error:  # e.g. its module cannot be imported here
                self._send(protocol.failure_of(ident, error))
                return
            future = self.engine.query(fn)
        else:
            self._send(protocol.Failure(ident, "TypeError", f"unknown request {body!r}"))
            return
        future.add_done_callback(functools.partial(self._answer, ident))

    def _lock_down(self, spec: sandbox.SandboxSpec | None) -> bool:
        """Apply the sandbox before Stata's thread exists; on failure refuse every request."""
        try:
            state = sandbox.apply(spec)
        except Exception as error:  # fail closed, whatever went wrong
            self._refusal = (
                error
                if isinstance(error, sandbox.SandboxError)
                else (sandbox.SandboxError(f"the OS sandbox could not be applied: {error}"))
            )
            print(f"stata-tools worker: {self._refusal}", file=sys.stderr, flush=True)
            return False
        print(f"stata-tools worker: {state.describe()}", file=sys.stderr, flush=True)
        return True

    def _answer(self, ident: int, future: Future[Any]) -> None:
        if self._forwarder is not None:
            self._forwarder.flush()  # the run's stream reaches the server before its end
        error = future.exception()
        if error is not None:
            self._send(protocol.failure_of(ident, error))
            return
        try:
            reply: object = protocol.reply_of(ident, future.result())
        except Exception as failed:  # a value pickle cannot carry
            reply = protocol.Failure(
                ident, "TypeError", f"the result cannot cross to the server: {failed}"
            )
        self._send(reply)

    def _send(self, message: object) -> None:
        data = protocol.encode(message)
        with self._send_lock:
            try:
                self._connection.send_bytes(data)
            except OSError:
                os._exit(0)  # the server is gone


def _private_stdout() -> None:
    """fd 1 goes where stderr goes (the worker's log), so no native write can reach a terminal
    or a wire; Python's stdout likewise."""
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stata_tools.stata.worker ADDRESS (key on stdin)", file=sys.stderr)
        return 2
    _private_stdout()
    faulthandler.enable()  # a crash in Stata's native code leaves its traceback in the log
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides about breaks
    key = bytes.fromhex(sys.stdin.readline().strip())
    connection = Client(argv[0], authkey=key)
    worker = Worker(connection)
    reader = threading.Thread(target=_serve, args=(worker,), name="stata-worker-requests")

    def then() -> None:
        worker.begin()  # Start and the sandbox while this is the worker's only thread
        reader.start()

    worker.engine.run_here(then)  # Stata on the main thread, requests on another
    return 0  # pragma: no cover - run_here serves until _serve ends the process


def _serve(worker: Worker) -> None:
    worker.serve()
    sys.stderr.flush()
    os._exit(0)  # Stata's shutdown can hang (pystata.md §1.2); nothing is left to save


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
