"""The worker protocol: what may cross from the worker, and how failures come back."""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

import pytest

from stata_tools.inspection.stored import StoredResults, matrix_from
from stata_tools.run.data_change import DataState
from stata_tools.stata import protocol
from stata_tools.stata.discovery import StataInitError, StataNotFound
from stata_tools.stata.engine import Execution, StataInfo
from stata_tools.stata.queries.graphs import export_graph


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned",))


def test_plain_answers_cross_and_keep_their_types() -> None:
    stored = StoredResults(
        "e",
        {"e(N)": 74.0},
        {"e(cmd)": "regress"},
        (matrix_from("e(b)", ["y1"], ["mpg", "_cons"], [[-238.9, 11253.1]]),),
    )
    for value in (
        stored,
        StataInfo("/stata", "mp", "18", "0.1.1"),
        Execution(0, None, False, 1.0, 2.0),
        Execution(0, None, False, 1.0, 2.0, data_before=DataState(74, ("a",)), data_after=None),
        [Path("/a/b"), Path("c")],
        {"x": (1, 2.5, None, "s")},
    ):
        reply = protocol.decode_answer(protocol.encode(protocol.reply_of(7, value)))
        assert isinstance(reply, protocol.Reply) and reply.ident == 7
        assert protocol.checked_loads(reply.payload) == value


def test_the_server_refuses_anything_that_would_run_code() -> None:
    with pytest.raises(
        pickle.UnpicklingError, match=r"(posix|nt|os)\.system, which is not allowed"
    ):
        protocol.checked_loads(pickle.dumps(_Evil()))
    with pytest.raises(pickle.UnpicklingError):
        protocol.decode_answer(protocol.encode(protocol.reply_of(1, 2)).replace(b"Reply", b"Start"))
    with pytest.raises(pickle.UnpicklingError, match=r"protocol\.Query, which is not allowed"):
        protocol.decode_answer(protocol.encode(protocol.query_of(export_graph)))


def test_failures_come_back_as_the_same_exception_where_we_know_it() -> None:
    def back(error: BaseException) -> BaseException:
        failure = protocol.decode_answer(protocol.encode(protocol.failure_of(3, error)))
        assert isinstance(failure, protocol.Failure)
        return protocol.as_exception(failure)

    system = back(SystemError("variable nope not found\nr(111);"))
    assert type(system) is SystemError and "r(111);" in str(system)
    init = back(StataInitError("licence expired", RuntimeError("x")))
    assert isinstance(init, StataInitError) and str(init) == "licence expired"
    assert type(back(StataNotFound("no Stata"))) is StataNotFound
    other = back(ZeroDivisionError("division by zero"))
    assert isinstance(other, protocol.RemoteError)
    assert str(other) == "ZeroDivisionError in Stata's worker: division by zero"


def test_queries_must_cross_by_reference() -> None:
    protocol.query_of(functools.partial(export_graph, name="g", path=Path("g.png"), fmt="png"))
    with pytest.raises(TypeError, match=r"module-level function or functools\.partial"):
        protocol.query_of(lambda pystata, sfi: 1)


def test_streamed_output_crosses_as_plain_text() -> None:
    message = protocol.decode_answer(protocol.encode(protocol.Output("r1", "1\n. display 2\n", 3)))
    assert message == protocol.Output("r1", "1\n. display 2\n", 3)
    sneaky = pickle.dumps(protocol.Output("r1", os.system, 0))  # type: ignore[arg-type]
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|nt)\.system"):
        protocol.decode_answer(sneaky)
