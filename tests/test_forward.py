"""The worker's forwarder: Stata's prints reach the server in order, batched, never blocking."""

from __future__ import annotations

import threading
import time

from stata_tools.stata import protocol
from stata_tools.stata.forward import OutputForwarder


def test_prints_arrive_in_order_batched_and_flush_sends_the_rest_at_once() -> None:
    sent: list[protocol.Output] = []
    forwarder = OutputForwarder(sent.append, batch_s=0.05)
    write = forwarder.writer("run-1")
    for i in range(200):
        write(f"{i}\n")
    forwarder.write("run-2", "other run\n")
    forwarder.flush()  # what the worker does before a run's reply
    texts = "".join(m.text for m in sent if m.run_id == "run-1")
    assert texts == "".join(f"{i}\n" for i in range(200))
    assert [m.text for m in sent if m.run_id == "run-2"] == ["other run\n"]
    assert len(sent) < 20  # batched, not a message per print


def test_a_print_never_waits_on_a_slow_pipe() -> None:
    release = threading.Event()
    sent: list[protocol.Output] = []

    def slow_send(message: protocol.Output) -> None:
        release.wait(5)
        sent.append(message)

    forwarder = OutputForwarder(slow_send, batch_s=0)
    began = time.monotonic()
    for _ in range(1000):
        forwarder.write("run", "x" * 100)
    assert time.monotonic() - began < 0.5  # while the sender is stuck on the pipe
    release.set()
    forwarder.flush()
    assert sum(len(m.text) for m in sent) == 100_000


def test_text_beyond_the_pending_limit_is_counted_not_kept() -> None:
    sent: list[protocol.Output] = []
    gate = threading.Event()
    forwarder = OutputForwarder(lambda m: (gate.wait(5), sent.append(m)), max_pending=10)
    forwarder.write("run", "12345")
    time.sleep(0.05)  # the sender took that and waits on the gate
    forwarder.write("run", "abcdefgh")
    forwarder.write("run", "ijklmnop")  # over the limit while the server does not read
    gate.set()
    forwarder.flush()
    assert "".join(m.text for m in sent) == "12345abcdefgh"
    assert sum(m.dropped for m in sent) == 8
