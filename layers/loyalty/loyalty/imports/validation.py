"""Checking an import's file: every row, nothing written but the rejected rows and the apply's plan.

One pass over the stream, a line at a time (`loyalty.imports.rows.lines`):
- each line is parsed and checked (`rows.parse`); a rejected row's error is written (25 a BatchWriteItem);
- the rows that pass are checked against the table a hundred keys at a time (BatchGetItem; deployed, `parallel`
  calls in flight while the reading goes on): a member id that exists is `member_exists`, an identifier a member
  holds is `identifier_in_use`;
- what must be unique in the file (member ids, identifiers) is remembered as a 64-bit hash and its row, in
  arrays (16 bytes a key, not a Python object: a million rows with two identifiers each hold about 50 MB);
- every `CHUNK_ROWS` rows the plan gets a chunk: the byte range of those rows and the first one's line.
Then the hashes are sorted a 256th at a time; only when two rows share one is the file read again, for those rows
alone, to compare the values themselves (a hash collision rejects nothing): every row sharing a member id or an
identifier with another is `duplicate_in_file`, unless it was rejected for another reason already.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from loyalty.domain.imports import CHUNK_ROWS, Chunk, ImportFormat, ImportRow, RowError
from loyalty.imports import rows as reading
from loyalty.program.rules import Program

Pending = tuple[ImportRow, list[tuple[str, str]]]  # a row that passed its own checks, and its keys
Taken = Callable[[list[str], list[tuple[str, str]]], tuple[set[str], set[tuple[str, str]]]]
KEYS_PER_CHECK = 100
ERRORS_PER_WRITE = 25
BUCKETS = 256


@dataclass
class Summary:
    total: int = 0
    valid: int = 0
    rejected: int = 0
    points: int = 0
    chunks: list[Chunk] = field(default_factory=list)


class Validator:
    """One validation of one file. `taken` asks the table which member ids and identifiers are held;
    `put_errors` writes rejected rows."""

    def __init__(
        self,
        fmt: ImportFormat,
        program: Program,
        now: datetime,
        *,
        taken: Taken,
        put_errors: Callable[[list[RowError]], None],
        parallel: int = 1,
    ) -> None:
        self.fmt = fmt
        self.program = program
        self.now = now
        self.taken = taken
        self.put_errors = put_errors
        self.summary = Summary()
        self._errors: list[RowError] = []
        self._pending: list[Pending] = []
        self._pending_keys = 0
        self._hashes = [array("q") for _ in range(BUCKETS)]
        self._rows = [array("l") for _ in range(BUCKETS)]
        self._rejected = bytearray()
        self._chunk: list[int] | None = None  # start byte, first row, rows
        # the table's answers asked `parallel` at a time (deployed: each is a network round trip)
        self._pool = ThreadPoolExecutor(parallel) if parallel > 1 else None
        self._asked: deque[tuple[Future[tuple[set[str], set[tuple[str, str]]]], list[Pending]]] = deque()
        self._parallel = parallel

    # -- the pass ------------------------------------------------------------------------------------------
    def run(self, stream: Iterable[bytes], again: Callable[[], Iterable[bytes]]) -> Summary:
        """Check every row of `stream`; `again` reads the file once more (only when two rows may share a key)."""
        header = self.fmt == "csv"
        last_end = 0
        for line in reading.lines(stream):
            last_end = line.end
            if header:
                reading.check_header(line)
                header = False
                continue
            if reading.blank(line):
                continue
            self._row(line)
        self._close_chunk(last_end)
        self._check_pending()
        while self._asked:
            self._settle(*self._asked.popleft())
        if self._pool is not None:
            self._pool.shutdown()
        self._flush_errors(force=True)
        suspects = self._suspects()
        if suspects:
            self._duplicates(again(), suspects)
        return self.summary

    def _row(self, line: reading.Line) -> None:
        summary = self.summary
        summary.total += 1
        if self._chunk is None:
            self._chunk = [line.start, line.row, 0]
        self._chunk[2] += 1
        if self._chunk[2] >= CHUNK_ROWS:
            self._close_chunk(line.end)
        found = reading.parse(line, self.fmt, self.program, self.now)
        if isinstance(found, RowError):
            if found.member_id:
                self._remember(found.row, [("member_id", found.member_id)])
            self._reject(found)
            return
        keys = reading.keys(found)
        self._remember(found.row, keys)
        self._pending.append((found, keys))
        self._pending_keys += len(keys)
        if self._pending_keys >= KEYS_PER_CHECK:
            self._check_pending()

    def _close_chunk(self, end: int) -> None:
        if self._chunk is not None and self._chunk[2]:
            start, first, count = self._chunk
            self.summary.chunks.append(Chunk(len(self.summary.chunks), start, end, first, count))
        self._chunk = None

    def _remember(self, row: int, keys: list[tuple[str, str]]) -> None:
        for kind, value in keys:
            h = hash((kind, value))
            bucket = h & (BUCKETS - 1)
            self._hashes[bucket].append(h)
            self._rows[bucket].append(row)

    def _reject(self, error: RowError) -> None:
        self.summary.rejected += 1
        byte, bit = divmod(error.row, 8)
        if byte >= len(self._rejected):
            self._rejected.extend(bytes(byte - len(self._rejected) + 4096))
        self._rejected[byte] |= 1 << bit
        self._errors.append(error)
        self._flush_errors()

    def was_rejected(self, row: int) -> bool:
        """Whether this validation rejected the row on line `row`."""
        return self._was_rejected(row)

    def _was_rejected(self, row: int) -> bool:
        byte, bit = divmod(row, 8)
        return byte < len(self._rejected) and bool(self._rejected[byte] & (1 << bit))

    def _flush_errors(self, *, force: bool = False) -> None:
        if self._errors and (force or len(self._errors) >= ERRORS_PER_WRITE):
            self.put_errors(self._errors)
            self._errors = []

    def _check_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_keys = self._pending, [], 0
        member_ids = [row.member_id for row, _ in pending]
        identifiers = [k for _, keys in pending for k in keys if k[0] != "member_id"]
        if self._pool is None:
            self._settle_with(self.taken(member_ids, identifiers), pending)
            return
        self._asked.append((self._pool.submit(self.taken, member_ids, identifiers), pending))
        while len(self._asked) > 2 * self._parallel:  # a bounded number of rows wait for their answer
            self._settle(*self._asked.popleft())

    def _settle(self, asked: Future[tuple[set[str], set[tuple[str, str]]]], pending: list[Pending]) -> None:
        self._settle_with(asked.result(), pending)

    def _settle_with(self, answer: tuple[set[str], set[tuple[str, str]]], pending: list[Pending]) -> None:
        members, held = answer
        for row, keys in pending:
            if row.member_id in members:
                self._reject(
                    RowError(row.row, "member_exists", f"member {row.member_id!r} exists", "member_id", row.member_id)
                )
                continue
            used = next((kind for kind, value in keys if kind != "member_id" and (kind, value) in held), None)
            if used is not None:
                self._reject(
                    RowError(row.row, "identifier_in_use", f"{used}: belongs to another member", used, row.member_id)
                )
                continue
            self.summary.valid += 1
            self.summary.points += row.points

    # -- duplicates ----------------------------------------------------------------------------------------
    def _suspects(self) -> set[int]:
        """Rows that share a hash with another row (a shared key, or a collision the second read rules out)."""
        suspects: set[int] = set()
        for bucket in range(BUCKETS):
            pairs = sorted(zip(self._hashes[bucket], self._rows[bucket], strict=True))
            self._hashes[bucket] = array("q")
            self._rows[bucket] = array("l")
            i = 0
            while i < len(pairs):
                j = i + 1
                while j < len(pairs) and pairs[j][0] == pairs[i][0]:
                    j += 1
                if j - i > 1 and len({r for _, r in pairs[i:j]}) > 1:
                    suspects.update(r for _, r in pairs[i:j])
                i = j
        return suspects

    def _duplicates(self, stream: Iterable[bytes], suspects: set[int]) -> None:
        by_key: dict[tuple[str, str], list[int]] = {}
        parsed: dict[int, ImportRow | RowError] = {}
        header = self.fmt == "csv"
        for line in reading.lines(stream):
            if header:
                header = False
                continue
            if line.row not in suspects:
                continue
            found = reading.parse(line, self.fmt, self.program, self.now)
            parsed[line.row] = found
            keys = reading.keys(found) if isinstance(found, ImportRow) else [("member_id", found.member_id or "")]
            for k in keys:
                if k[1]:
                    by_key.setdefault(k, []).append(line.row)
        shared: dict[int, tuple[str, str, list[int]]] = {}
        for (kind, value), rows in by_key.items():
            if len(set(rows)) > 1:
                for row in rows:
                    shared.setdefault(row, (kind, value, rows))
        for row in sorted(shared):
            if self._was_rejected(row):
                continue
            kind, _, rows = shared[row]
            found = parsed[row]
            assert isinstance(found, ImportRow)  # a rejected row was marked in the first pass
            others = ", ".join(str(r) for r in sorted(set(rows)) if r != row)
            self.summary.valid -= 1
            self.summary.points -= found.points
            self._reject(RowError(row, "duplicate_in_file", f"{kind}: also on row {others}", kind, found.member_id))
        self._flush_errors(force=True)
