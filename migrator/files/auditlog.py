"""Reading API server audit logs, fast and in constant memory.

Owns `read_events`: every `audit.k8s.io/v1` Event of the given files, folders, rotated and
gzip-compressed files (recognised by their magic bytes, not their names) and `-` (stdin),
one JSON event per line as the log backend writes them, or the webhook backend's
`EventList` batches (one per line, or a whole file holding one JSON document). Files are
read in blocks; only the lines holding one of the `needles` are cut out and parsed (with
orjson), so unrelated events cost a substring search, not a JSON decode, and memory does
not grow with the log. A line that does not parse is counted and named by file and line in
`LogStats`, never fatal; a file that cannot be read (or a compressed one cut short) is
recorded there too and the others are still read.

`log_files` expands folders and orders rotated files oldest first (`audit.log.2.gz`,
`audit.log.1`, `audit.log`; lumberjack's `audit-2026-12-01T10-00-00.000.log.gz` by time).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

import orjson

from migrator.errors import ManifestError

#: Substrings a line must hold to be parsed: Pod Security's annotation keys (and the
#: namespace labels). Workload requests Pod Security judged carry them too, so the
#: ReplicaSets and Jobs that own violating pods are seen; one needle is one search per block.
NEEDLES: tuple[bytes, ...] = (b"pod-security.kubernetes.io/",)
BLOCK = 4 << 20
#: How many malformed lines are named one by one (all are counted).
NAMED_LIMIT = 50
#: A file that is one JSON document (a pretty-printed EventList) is read whole up to this.
DOCUMENT_LIMIT = 512 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_NUMBERED = re.compile(r"^(?P<base>.*)\.(?P<n>\d+)$")
_LUMBERJACK = re.compile(
    r"^(?P<base>.*)-(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(\.\d+)?)(?P<ext>\.[A-Za-z]+)?$")

Progress = Callable[[int, int | None], None]


@dataclass
class LogStats:
    """What reading the logs saw: sizes, lines parsed, malformed lines, unreadable files."""

    files: list[str] = field(default_factory=list)
    bytes_total: int | None = 0
    bytes_read: int = 0
    parsed_lines: int = 0
    events: int = 0
    malformed: int = 0
    malformed_lines: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def bad_line(self, source: str, line: int, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < NAMED_LIMIT:
            self.malformed_lines.append(f"{source}:{line}: {reason}")


def _rotation_key(path: str) -> tuple[str, str, int, str, float]:
    folder, name = os.path.split(path)
    stem = name[:-3] if name.endswith(".gz") else name
    numbered = _NUMBERED.match(stem)
    if numbered:
        return (folder, numbered["base"], 0, "", -float(numbered["n"]))
    stamped = _LUMBERJACK.match(stem)
    if stamped:
        return (folder, stamped["base"] + (stamped["ext"] or ""), 0, stamped["ts"], 0.0)
    return (folder, stem, 1, "", 0.0)


def log_files(paths: Iterable[str]) -> list[str]:
    """The files to read, oldest first per log; `-` stays where it is given (first)."""
    found: list[str] = []
    stdin = False
    for path in paths:
        if path == "-":
            stdin = True
            continue
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, n) for n in names if not n.startswith("."))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise ManifestError(path, "no such file or folder")
    ordered = sorted(dict.fromkeys(found), key=_rotation_key)
    return (["-"] if stdin else []) + ordered


def _events_of(obj: Any) -> list[dict[str, Any]] | None:
    """The events a parsed JSON value holds (an Event, an EventList, a list); None: neither."""
    if isinstance(obj, dict):
        if obj.get("kind") == "EventList" or (
                "items" in obj and isinstance(obj.get("items"), list) and "auditID" not in obj):
            return [item for item in obj.get("items") or () if isinstance(item, dict)]
        if obj.get("kind") == "Event" or "auditID" in obj:
            return [obj]
        return None
    if isinstance(obj, list):
        return [item for item in obj if isinstance(item, dict)]
    return None


def _opens_document(line: bytes) -> bool:
    """True when a file's first line opens a multi-line JSON document."""
    if line in (b"{", b"["):
        return True
    return (line.startswith(b"{") and not line.endswith(b"}")) or (
        line.startswith(b"[") and not line.endswith(b"]"))


class _Scanner:
    """Reads one stream block by block and yields the events of the lines it must parse.

    Lines are not counted as they go by (that would cost as much as the search): a
    malformed line is noted by its byte offset, and `numbered` turns the offsets into line
    numbers afterwards, by counting newlines up to them (one more pass, only for a file that
    has malformed lines). With `count_lines` (stdin, which cannot be read twice), lines are
    counted while reading instead.
    """

    def __init__(self, source: str, stats: LogStats, needles: tuple[bytes, ...],
                 count_lines: bool = False) -> None:
        self.source = source
        self.stats = stats
        self.needles = needles
        self.count_lines = count_lines
        #: (byte offset or line number, reason) of the malformed lines to name
        self.pending: list[tuple[int, str]] = []

    def _bad(self, where: int, reason: str) -> None:
        if len(self.pending) < NAMED_LIMIT:
            self.pending.append((where, reason))
        else:
            self.stats.malformed += 1

    def _parse(self, line: bytes, where: int) -> Iterator[dict[str, Any]]:
        self.stats.parsed_lines += 1
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._bad(where, f"not valid JSON ({exc.msg})")
            return
        events = _events_of(obj)
        if events is None:
            self._bad(where, "not an audit event")
            return
        self.stats.events += len(events)
        yield from events

    def _document(self, head: bytes, read: Callable[[int], bytes]) -> Iterator[dict[str, Any]]:
        """A file holding one (pretty-printed) JSON document."""
        parts = [head]
        size = len(head)
        while block := read(BLOCK):
            parts.append(block)
            size += len(block)
            if size > DOCUMENT_LIMIT:
                self._bad(0, "a multi-line JSON document larger than "
                          f"{DOCUMENT_LIMIT >> 20} MiB; write one event per line")
                return
        text = b"".join(parts)
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
        events = _events_of(obj) if obj is not None else None
        if events is None:  # not one document after all: read it line by line
            blocks = iter((text, b""))
            yield from self.scan(lambda _n: next(blocks), document=False)
            return
        self.stats.parsed_lines += 1
        self.stats.events += len(events)
        yield from events

    def scan(self, read: Callable[[int], bytes], document: bool = True
             ) -> Iterator[dict[str, Any]]:
        needles = self.needles
        offset = 0  # of buf[0] in the stream
        line_base = 1
        carry = b""
        first = document
        while True:
            block = read(BLOCK)
            buf = carry + block if carry else block
            if not block:
                end = len(buf)
                carry = b""
            else:
                end = buf.rfind(b"\n") + 1
                if end == 0:
                    carry = buf
                    continue
                carry = buf[end:]
            if first and end:
                first = False
                newline = buf.find(b"\n", 0, end)
                opening = (buf[:newline] if newline != -1 else buf[:end]).strip()
                if _opens_document(opening):
                    yield from self._document(buf, read)
                    return
            spans: set[tuple[int, int]] = set()
            for needle in needles:
                at = buf.find(needle, 0, end)
                while at != -1:
                    start = buf.rfind(b"\n", 0, at) + 1
                    stop = buf.find(b"\n", at, end)
                    if stop == -1:
                        stop = end
                    spans.add((start, stop))
                    at = buf.find(needle, stop, end)
            counted_to, number = 0, line_base
            for start, stop in sorted(spans):
                if self.count_lines:
                    number += buf.count(b"\n", counted_to, start)
                    counted_to = start
                line = buf[start:stop].strip()
                if line:
                    yield from self._parse(line, number if self.count_lines else offset + start)
            if self.count_lines:
                line_base += buf.count(b"\n", 0, end)
            offset += end
            if not block:
                return

    def named(self, numbers: dict[int, int] | None) -> None:
        """Record the pending malformed lines in the stats, by line number."""
        for where, reason in self.pending:
            number = where if numbers is None else numbers.get(where, 0)
            self.stats.bad_line(self.source, number, reason)
        self.pending = []


def _line_numbers(stream: IO[bytes], offsets: list[int]) -> dict[int, int]:
    """offset -> line number (1-based), counting the newlines of `stream` before each."""
    wanted = sorted(set(offsets))
    found: dict[int, int] = {}
    position, lines = 0, 1
    while wanted:
        block = stream.read(BLOCK)
        if not block:
            break
        end = position + len(block)
        cut = 0
        while wanted and wanted[0] < end:
            target = wanted.pop(0)
            lines += block.count(b"\n", cut, target - position)
            cut = target - position
            found[target] = lines
        lines += block.count(b"\n", cut)
        position = end
    return found


class _Prepended:
    """A read-only stream: `head`, then the rest of `stream`."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.stream.read(n)
        if n < 0:
            block, self.head = self.head + self.stream.read(), b""
            return block
        block, self.head = self.head[:n], self.head[n:]
        return block + (self.stream.read(n - len(block)) if len(block) < n else b"")

    def tell(self) -> int:
        return 0


def _open(path: str, stdin: IO[bytes] | None) -> tuple[IO[bytes], IO[bytes]]:
    """(stream to read, raw stream for the position): gzip is recognised by its magic."""
    raw: IO[bytes]
    if path == "-":
        if stdin is None:
            raise ManifestError("-", "no standard input")
        peek = getattr(stdin, "peek", None)
        if peek is not None:
            raw, head = stdin, peek(2)[:2]
        else:  # a stream that cannot peek: read the magic and put it back in front
            head = stdin.read(2)
            raw = cast(IO[bytes], _Prepended(head, stdin))
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        head = raw.read(2)
        raw.seek(0)
    if head == _GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return raw, raw


class _Reader:
    """Reads blocks of one stream and reports the bytes read so far (on disk, for gzip)."""

    def __init__(self, stream: IO[bytes], raw: IO[bytes] | None, stats: LogStats,
                 before: int, progress: Progress | None) -> None:
        self.stream, self.raw, self.stats = stream, raw, stats
        self.before, self.progress, self.here = before, progress, 0

    def read(self, n: int) -> bytes:
        block = self.stream.read(n)
        self.here = self.raw.tell() if self.raw is not None else self.here + len(block)
        self.stats.bytes_read = self.before + self.here
        if self.progress is not None:
            self.progress(self.stats.bytes_read, self.stats.bytes_total)
        return block


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None  # unreadable: said so when it is opened


def _numbers_of(path: str, pending: list[tuple[int, str]]) -> dict[int, int] | None:
    """Line numbers of the pending offsets, reading `path` once more."""
    try:
        stream, raw = _open(path, None)
        with raw:
            return _line_numbers(stream, [where for where, _reason in pending])
    except (OSError, EOFError, zlib.error):
        return {}


def read_events(
    paths: Iterable[str],
    stats: LogStats,
    *,
    stdin: IO[bytes] | None = None,
    progress: Progress | None = None,
    needles: tuple[bytes, ...] = NEEDLES,
) -> Iterator[dict[str, Any]]:
    """Every audit event in `paths` on a line holding one of `needles`, in file order.

    `stats` is filled as the files are read; `progress(bytes_read, bytes_total)` is called
    after each block (total None when stdin is read). ManifestError for a path that does
    not exist (before anything is read).
    """
    files = log_files(paths)
    stats.files = files
    sizes = [None if f == "-" else _size(f) for f in files]
    stats.bytes_total = None if None in sizes else sum(s or 0 for s in sizes)
    done_before = 0
    for path, size in zip(files, sizes, strict=True):
        source = "stdin" if path == "-" else path
        try:
            stream, raw = _open(path, stdin)
        except OSError as exc:
            stats.unreadable.append(f"{source}: {exc.strerror or exc}")
            continue
        reader = _Reader(stream, None if path == "-" else raw, stats, done_before, progress)
        scanner = _Scanner(source, stats, needles, count_lines=path == "-")
        try:
            yield from scanner.scan(reader.read)
        except (OSError, EOFError, zlib.error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            stats.unreadable.append(f"{source}: {reason} (read up to there)")
        finally:
            if path != "-":
                raw.close()
        if scanner.pending:
            scanner.named(None if path == "-" else _numbers_of(path, scanner.pending))
        done_before += size if size is not None else reader.here
        stats.bytes_read = done_before
