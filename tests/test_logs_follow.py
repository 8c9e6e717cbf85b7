"""Tests for stata_tools.run.logs.follow: the byte → line decoder and the live log follower."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stata_tools.run.logs import follow as follow_module
from stata_tools.run.logs.follow import LineDecoder, LogFollower


def decode_all(chunks: list[bytes], *, max_line: int = 1 << 20) -> list[str]:
    decoder = LineDecoder(max_line=max_line)
    lines: list[str] = []
    for chunk in chunks:
        lines += decoder.feed(chunk)
    return lines + decoder.flush()


# --------------------------------------------------------------------------------------------
# LineDecoder

SAMPLE = "naïve → ok\r\nr(111);\r\n\r\nend of do-file\nπ=3.14 — “quoted”".encode()
SAMPLE_LINES = ["naïve → ok", "r(111);", "", "end of do-file", "π=3.14 — “quoted”"]


def test_every_single_split_point() -> None:
    for i in range(len(SAMPLE) + 1):
        assert decode_all([SAMPLE[:i], SAMPLE[i:]]) == SAMPLE_LINES, i


def test_every_pair_of_split_points() -> None:
    n = len(SAMPLE)
    for i in range(n + 1):
        for j in range(i, n + 1):
            assert decode_all([SAMPLE[:i], SAMPLE[i:j], SAMPLE[j:]]) == SAMPLE_LINES, (i, j)


def test_byte_by_byte() -> None:
    assert decode_all([bytes([b]) for b in SAMPLE]) == SAMPLE_LINES


def test_feed_returns_only_complete_lines() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"one\r") == []
    assert decoder.pending == 4
    assert decoder.feed(b"\ntw") == ["one"]
    assert decoder.feed(b"o\n") == ["two"]
    assert decoder.pending == 0
    assert decoder.flush() == []


def test_partial_last_line_and_trailing_cr_at_flush() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"a\nb\r") == ["a"]
    assert decoder.flush() == ["b"]
    assert decoder.flush() == []


def test_bare_cr_inside_a_line_is_kept() -> None:
    assert decode_all([b"50%\r100%\n"]) == ["50%\r100%"]


def test_cp1252_and_latin1_fallback() -> None:
    # 0x92 is cp1252's right quote (old Windows do-files); 0xB3 is "³" in both code pages.
    assert decode_all([b"it\x92s \xb3\n", b"caf\xe9\n"]) == ["it’s ³", "café"]
    # 0x81 is undefined in cp1252: latin-1 always succeeds.
    assert decode_all([b"\x81\x92\n"]) == ["\x81\x92"]
    # Decoding is per line: a UTF-8 line next to a cp1252 one keeps its characters.
    assert decode_all([b"\xc3\xa9\n\xe9\n"]) == ["é", "é"]


def test_long_lines_are_cut_at_character_boundaries() -> None:
    line = "é" * 10  # 20 bytes
    assert decode_all([line.encode() + b"\n"], max_line=5) == ["éé", "éé", "éé", "éé", "éé"]
    decoder = LineDecoder(max_line=8)
    decoder.feed(b"x" * 100)
    assert decoder.pending <= 9


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=300)
    | st.lists(
        st.sampled_from([b"\r", b"\n", b"\r\n", b"\xc3\xa9", b"\xe2\x80\x94", b"a", b"\x92"])
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=12),
    max_line=st.sampled_from([4, 5, 7, 16, 1 << 20]),
)
def test_any_chunking_gives_the_same_lines(data: bytes, cuts: list[int], max_line: int) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert b"".join(chunks) == data
    assert decode_all(chunks, max_line=max_line) == decode_all([data], max_line=max_line)


@pytest.mark.parametrize(
    "name",
    [
        "logs/labordynamicsinstitute__ssc-mirror__artbin_examples.log",
        "logs/labordynamicsinstitute__ssc-mirror__ky_example.log",
        "smcl/ecn310__course-project-parent__Master_Log.smcl",  # mixed CRLF / LF
        "sthlp/labordynamicsinstitute__ssc-mirror__lianxh_cn.sthlp",  # CRLF + multibyte UTF-8
    ],
)
def test_corpus_file_in_random_chunks_equals_its_lines(name: str, corpus_dir: Path) -> None:
    data = (corpus_dir / name).read_bytes()
    assert b"\r\n" in data
    expected = data.decode("utf-8").splitlines()
    rng = random.Random(name)
    for _ in range(5):
        chunks, i = [], 0
        while i < len(data):
            step = rng.randint(1, 700)
            chunks.append(data[i : i + step])
            i += step
        assert decode_all(chunks) == expected


# --------------------------------------------------------------------------------------------
def test_peek_shows_the_partial_line_without_a_cut_character() -> None:
    decoder = LineDecoder()
    decoder.feed(b"done\n.....")
    assert decoder.peek() == "....."
    decoder.feed("…".encode()[:2])  # a UTF-8 character cut by the write
    assert decoder.peek() == "....."
    decoder.feed("…".encode()[2:] + b"\r")
    assert decoder.peek() == ".....…"  # a CR that may be half of CRLF is not text
    decoder.feed(b"\n")
    assert decoder.peek() == ""


# LogFollower

FAST = {"poll_interval_s": 0.05}


class Collector:
    """Runs a follower in the background and records every batch with its arrival time."""

    def __init__(self, follower: LogFollower) -> None:
        self.follower = follower
        self.stop = anyio.Event()
        self.batches: list[list[str]] = []
        self.arrivals: list[tuple[float, str]] = []
        self.finished_at: float | None = None
        self.count = 0

    @property
    def lines(self) -> list[str]:
        return [line for batch in self.batches for line in batch]

    async def run(self) -> None:
        async for batch in self.follower.follow(self.stop):
            now = time.perf_counter()
            self.batches.append(batch)
            self.arrivals += [(now, line) for line in batch]
            self.count += len(batch)
        self.finished_at = time.perf_counter()

    async def wait_for(self, count: int, timeout: float = 1.5) -> None:
        with anyio.fail_after(timeout):
            while self.count < count:
                await anyio.sleep(0.005)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


async def test_lines_arrive_in_order_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_bytes(b"already here\n")
    expected = ["already here"] + [f". display {i} — “ok”" for i in range(60)]

    def writer() -> None:
        rng = random.Random(7)
        data = "".join(line + "\r\n" for line in expected[1:]).encode()
        i = 0
        while i < len(data):
            step = rng.randint(1, 40)  # splits lines, CRLF pairs and UTF-8 sequences
            append(path, data[i : i + step])
            i += step
            time.sleep(rng.choice([0, 0, 0.001, 0.004]))

    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        thread = in_thread(writer)
        await anyio.to_thread.run_sync(thread.join)
        await collector.wait_for(len(expected))
        collector.stop.set()
    assert collector.lines == expected
    assert collector.follower.offset == path.stat().st_size
    assert collector.follower.restarts == 0
    assert not collector.follower.polling


async def test_file_that_appears_late(tmp_path: Path) -> None:
    path = tmp_path / "late.log"
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await anyio.sleep(0.15)
        assert collector.lines == []
        path.write_bytes(b"-------\n      name:  _mcp\n")
        await collector.wait_for(2)
        append(path, b". sysuse auto\n")
        await collector.wait_for(3)
        collector.stop.set()
    assert collector.lines == ["-------", "      name:  _mcp", ". sysuse auto"]
    assert collector.follower.restarts == 0


async def test_truncation_restarts_at_zero(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_bytes(b"first run line 1\nfirst run line 2\nunfinished")
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(2)
        path.write_bytes(b"second\n")  # "w" truncates in place: same inode, smaller
        await collector.wait_for(4)
        collector.stop.set()
    # The old file's partial last line is delivered before reading restarts.
    assert collector.lines == ["first run line 1", "first run line 2", "unfinished", "second"]
    assert collector.follower.restarts == 1
    assert collector.follower.offset == len(b"second\n")


async def test_rewrite_in_place_that_grows_past_the_offset_restarts(tmp_path: Path) -> None:
    # A `log using, replace` between two polls: same inode, and already larger than the offset.
    path = tmp_path / "t.log"
    path.write_bytes(b"old 1\nold 2\n")
    collector = Collector(LogFollower(path, force_polling=True, poll_interval_s=0.3))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(2)
        ino = path.stat().st_ino
        path.write_bytes(b"new header line\nnew body\n")
        assert path.stat().st_ino == ino
        await collector.wait_for(4)
        collector.stop.set()
    assert collector.lines == ["old 1", "old 2", "new header line", "new body"]
    assert collector.follower.restarts == 1


async def test_replacement_by_a_new_file_restarts_at_zero(tmp_path: Path) -> None:
    # The new file starts with the same bytes, so only its new inode can tell it apart.
    path = tmp_path / "r.log"
    path.write_bytes(b"a\nb\n")
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(2)
        fresh = tmp_path / "fresh.tmp"
        fresh.write_bytes(b"a\nb\nc\n")
        os.replace(fresh, path)
        await collector.wait_for(5)
        collector.stop.set()
    assert collector.lines == ["a", "b", "a", "b", "c"]
    assert collector.follower.restarts == 1


async def test_deleted_mid_run_then_recreated(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    path.write_bytes(b"before\n")
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(1)
        path.unlink()
        await anyio.sleep(0.2)  # several polls of a missing file: nothing, and no error
        assert collector.lines == ["before"]
        path.write_bytes(b"after 1\nafter 2\n")
        await collector.wait_for(3)
        collector.stop.set()
    assert collector.lines == ["before", "after 1", "after 2"]
    assert collector.follower.restarts == 1


async def test_partial_last_line_is_delivered_at_stop(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    path.write_bytes(b". di 1\n1\n\n. log close")
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(3)
        await anyio.sleep(0.1)
        assert collector.lines == [". di 1", "1", ""]
        append(path, b" _mcp")  # still no newline
        collector.stop.set()
    assert collector.lines == [". di 1", "1", "", ". log close _mcp"]
    assert collector.batches[-1] == [". log close _mcp"]


async def test_final_drain_reads_what_was_written_just_before_stop(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"")
    collector = Collector(LogFollower(path, force_polling=True, poll_interval_s=5))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await anyio.sleep(0.05)
        append(path, b"r(111);\n\nend of do-file\n")
        collector.stop.set()  # long before the next poll
    assert collector.lines == ["r(111);", "", "end of do-file"]


@pytest.mark.parametrize("force_polling", [False, True], ids=["watch", "poll"])
async def test_stop_returns_promptly(tmp_path: Path, force_polling: bool) -> None:
    path = tmp_path / "idle.log"
    path.write_bytes(b"x\n")
    follower = LogFollower(path, poll_interval_s=5, force_polling=force_polling)
    collector = Collector(follower)
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(1)
        await anyio.sleep(0.1)  # the watcher (or the poll sleep) is now waiting
        stopped_at = time.perf_counter()
        collector.stop.set()
    assert collector.finished_at is not None
    elapsed = collector.finished_at - stopped_at
    print(f"stop → return: {elapsed * 1000:.1f} ms ({'poll' if force_polling else 'watch'})")
    assert elapsed < 0.5
    assert collector.lines == ["x"]


async def test_forced_polling_still_delivers(tmp_path: Path) -> None:
    path = tmp_path / "fp.log"
    collector = Collector(LogFollower(path, force_polling=True, poll_interval_s=0.02))
    assert collector.follower.polling
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        for i in range(5):
            append(path, f"line {i}\n".encode())
            await anyio.sleep(0.03)
        await collector.wait_for(5)
        collector.stop.set()
    assert collector.lines == [f"line {i}" for i in range(5)]


@pytest.mark.parametrize("when", ["call", "first_iteration"])
async def test_polling_fallback_when_the_watcher_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    calls: list[Path] = []

    def broken_awatch(*paths: Path, **kwargs: object) -> AsyncIterator[set[object]]:
        calls.append(Path(paths[0]))
        if when == "call":
            raise OSError(28, "inotify watch limit reached")

        async def changes() -> AsyncIterator[set[object]]:
            raise OSError(28, "OS file watch limit reached")
            yield set()  # an async generator, like awatch

        return changes()

    monkeypatch.setattr(follow_module, "awatch", broken_awatch)
    path = tmp_path / "fb.log"
    follower = LogFollower(path, **FAST)
    assert not follower.polling
    collector = Collector(follower)
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        append(path, b"one\n")
        await collector.wait_for(1)
        append(path, b"two\n")
        await collector.wait_for(2)
        collector.stop.set()
    assert calls == [tmp_path]
    assert follower.polling
    assert collector.lines == ["one", "two"]


async def test_io_errors_are_retried_at_the_next_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.log"
    path.write_bytes(b"visible once unlocked\n")
    failures = {"left": 3}
    real_open = open

    def locked_open(file: object, *args: object, **kwargs: object) -> object:
        if Path(str(file)) == path and failures["left"] > 0:
            failures["left"] -= 1
            raise PermissionError(13, "The process cannot access the file", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(follow_module, "open", locked_open, raising=False)
    collector = Collector(LogFollower(path, poll_interval_s=0.02))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(1)
        collector.stop.set()
    assert failures["left"] == 0
    assert collector.lines == ["visible once unlocked"]


async def test_large_file_streams_in_bounded_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    lines = [f"{i:07d} " + "x" * 40 for i in range(20_000)]  # ~1 MB
    path.write_bytes("".join(line + "\n" for line in lines).encode())
    chunk = 4096
    collector = Collector(LogFollower(path, read_chunk=chunk, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await collector.wait_for(len(lines), timeout=5)
        collector.stop.set()
    assert collector.lines == lines
    assert max(len(batch) for batch in collector.batches) <= chunk // 49 + 1
    assert len(collector.batches) >= path.stat().st_size // chunk


async def test_latency_of_one_appended_line(tmp_path: Path) -> None:
    path = tmp_path / "lat.log"
    path.write_bytes(b"")
    collector = Collector(LogFollower(path))
    samples: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await anyio.sleep(0.1)  # let the watcher start
        for i in range(5):
            written = time.perf_counter()
            append(path, f"tick {i}\n".encode())
            await collector.wait_for(i + 1)
            samples.append(collector.arrivals[-1][0] - written)
            await anyio.sleep(0.02)
        collector.stop.set()
    samples.sort()
    print(
        f"append → yield latency: p50 {samples[2] * 1000:.1f} ms, max {samples[-1] * 1000:.1f} ms"
    )
    assert collector.lines == [f"tick {i}" for i in range(5)]
    assert samples[2] < 1.0


async def test_a_flood_switches_to_polling_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flood.log"
    path.write_bytes(b"")
    expected = [f"line {i} " + "x" * 90 for i in range(20_000)]  # ~2 MB as fast as it can go

    def writer() -> None:
        with open(path, "ab") as f:
            for line in expected[:100]:  # a trickle first: the watcher serves it
                f.write(line.encode() + b"\n")
                f.flush()
                time.sleep(0.001)
            for line in expected[100:]:
                f.write(line.encode() + b"\n")

    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await anyio.sleep(0.05)
        thread = in_thread(writer)
        await anyio.to_thread.run_sync(thread.join)
        await collector.wait_for(len(expected), timeout=10)
        collector.stop.set()
    assert collector.lines == expected
    assert collector.follower.flooded
    assert not collector.follower.polling  # polling by choice, not because the watcher failed


async def test_a_steady_stream_of_small_writes_counts_as_a_flood(tmp_path: Path) -> None:
    """Each tick well under flood_bytes, but the rate kept up over the window: polling, and
    nothing lost (a fake Stata of short `display` lines writes this way)."""
    path = tmp_path / "steady.log"
    path.write_bytes(b"")
    expected = [f"line {i} " + "x" * 90 for i in range(8000)]

    def writer() -> None:
        with open(path, "ab") as f:
            for n in range(0, len(expected), 10):  # ~1 KB a millisecond: 1 MB/s
                f.write("".join(line + "\n" for line in expected[n : n + 10]).encode())
                f.flush()
                time.sleep(0.001)

    follower = LogFollower(path, flood_bytes=1 << 30, flood_rate=100_000, **FAST)
    collector = Collector(follower)
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        await anyio.sleep(0.05)
        thread = in_thread(writer)
        await anyio.to_thread.run_sync(thread.join)
        await collector.wait_for(len(expected), timeout=10)
        collector.stop.set()
    assert collector.lines == expected
    assert follower.flooded and not follower.polling


async def test_a_trickle_never_counts_as_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "trickle.log"
    collector = Collector(LogFollower(path, **FAST))
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        for i in range(20):
            append(path, f"line {i} {'x' * 200}\n".encode())
            await anyio.sleep(0.005)
        await collector.wait_for(20)
        collector.stop.set()
    assert not collector.follower.flooded


async def test_report_partial_yields_an_empty_batch_as_the_last_line_grows(tmp_path: Path) -> None:
    path = tmp_path / "dots.log"
    path.write_bytes(b"Bootstrap replications (100)\n")
    follower = LogFollower(path, report_partial=True, **FAST)
    seen: list[tuple[list[str], str]] = []
    stop = anyio.Event()

    async def run() -> None:
        async for batch in follower.follow(stop):
            seen.append((batch, follower.partial))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        for k in range(1, 4):
            await anyio.sleep(0.12)
            append(path, b".")
            with anyio.fail_after(1.5):
                while not seen or seen[-1][1] != "." * k:
                    await anyio.sleep(0.005)
        append(path, b"..   5\n")
        with anyio.fail_after(1.5):
            while not any(batch == ["...." + "." + "   5"] for batch, _ in seen):
                await anyio.sleep(0.005)
        stop.set()
    assert seen[0] == (["Bootstrap replications (100)"], "")
    assert ([], "...") in seen  # a batch without lines: only the partial line grew
    assert seen[-1] == ([".....   5"], "")
