"""Packet store: store-and-forward telemetry that survives a restart of the flight process.

Packets are appended to segment files in one directory and released only after the ground
has them: `peek` hands out the oldest unreleased packets without removing them, `release`
marks them downlinked (persisted in a checkpoint file), and a segment whose records are all
released is deleted.

On-disk format (all integers big-endian)
---------------------------------------
Segment files ``seg-<first seq, 20 decimal digits>.pks``: a segment's name is the sequence
number the store was at when the segment was created (a lower bound of the seqs it holds,
and the store's high-water mark when every older segment is gone). A segment is a plain
concatenation of records, with no file header::

    offset size field
    0      4    magic  b"SKPR"
    4      1    version (1)
    5      1    flags (0)
    6      2    apid   APID or channel tag (0..65535)
    8      4    length packet bytes that follow the header
    12     8    seq    record sequence number: unique, strictly increasing across segments
                       and restarts (gaps are possible: a failed append consumes its seq)
    20     8    t_ns   the packet's time, signed int64 nanoseconds
    28     n    the packet bytes
    28+n   4    crc    zlib.crc32 (CRC-32/ISO-HDLC) of bytes 0 .. 28+n

A 32-bit CRC (zlib.crc32) rather than crc16: records reach tens of kilobytes and the CRC is
also what resynchronisation after a damaged record relies on.

Release checkpoint ``released.ckp`` (20 bytes, replaced atomically through
``released.ckp.tmp`` + fsync + os.replace + directory fsync)::

    0 4 magic b"SKRL"   4 1 version (1)   5 3 zero   8 8 released_below   16 4 crc32 of 0..16

Every seq < released_below has been downlinked and is never handed out again.

Durability per FsyncPolicy
--------------------------
Records are written with unbuffered os.write, so a crash of the flight *process* (kill -9,
an exception) loses at most the record being written (with `append_batch`, the records of the
batch being written: none of them has been acknowledged yet), under every policy: reopening
truncates a torn record. The policy decides what survives a *power loss or kernel crash*:

- EVERY_RECORD: `append` returns only once the record is on stable storage. Nothing acknowledged
  is lost.
- EVERY_N: the file is fsynced every `fsync_every_n` records, on roll, on close and before
  `peek`; at most the last n-1 appended records may be lost.
- ON_ROLL: fsynced when a segment is sealed, on close and before `peek`; at most the unsynced
  tail of the active segment (< segment_bytes) may be lost.
- NEVER: no fsync at all (files, directory, checkpoint); for tests and RAM disks only.

With every policy but NEVER: segment creation and deletion fsync the directory, the release
checkpoint is fsynced before it replaces the old one, and a packet handed out by `peek` is
durable first, so a power loss can never reissue a seq the ground has already seen.

Recovery on open
----------------
Every record's CRC is verified. Bad bytes followed by a valid record are a corrupt record:
skipped (the scan resynchronises on the next magic whose record verifies) and counted. Bad bytes
at the end of a segment are truncated away and counted: as a torn record when they are a
record cut short (an incomplete header, or a header whose length runs past the end of the
file), otherwise as a corrupt record. Recovery never raises for bad bytes.

The store reads no clock and starts no thread; time is the packet's t_ns, given by the caller.
All file access goes through a `FileSystem`, so tests can inject failures.
"""

from __future__ import annotations

import bisect
import errno
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple, Protocol

MAGIC = b"SKPR"
VERSION = 1
HEADER = struct.Struct(">4sBBHIQq")
CRC = struct.Struct(">I")
OVERHEAD = HEADER.size + CRC.size  # 32 bytes per record
MAX_SEQ = 2**64 - 1
T_MIN, T_MAX = -(2**63), 2**63 - 1

CHECKPOINT_NAME = "released.ckp"
CHECKPOINT_TMP = CHECKPOINT_NAME + ".tmp"
CHECKPOINT_MAGIC = b"SKRL"
CHECKPOINT = struct.Struct(">4sB3xQ")

_SEGMENT_RE = re.compile(r"^seg-(\d{20})\.pks$")


def segment_name(first_seq: int) -> str:
    return f"seg-{first_seq:020d}.pks"


class StoreError(Exception):
    """A file-system operation of the store failed; the message says what was kept and what to do."""


class FsyncPolicy(IntEnum):
    EVERY_RECORD = 0
    EVERY_N = 1
    ON_ROLL = 2
    NEVER = 3


class FullPolicy(IntEnum):
    DROP_OLDEST = 0  # delete the oldest segment (its unreleased records count as dropped)
    REFUSE = 1  # refuse the new packet (counted); append returns None


# --------------------------------------------------------------------------- file-system layer


class FileSystem(Protocol):
    """The few file operations the store uses. Handles are integers (file descriptors for the OS)."""

    def make_dir(self, path: str) -> None: ...
    def list_dir(self, path: str) -> list[str]: ...
    def read_file(self, path: str) -> bytes: ...
    def read_range(self, path: str, offset: int, size: int) -> bytes: ...
    def open_append(self, path: str, *, create: bool) -> int: ...
    def open_truncate(self, path: str) -> int: ...
    def write(self, handle: int, data: bytes) -> None: ...
    def truncate(self, handle: int, size: int) -> None: ...
    def fsync(self, handle: int) -> None: ...
    def close(self, handle: int) -> None: ...
    def fsync_dir(self, path: str) -> None: ...
    def remove(self, path: str) -> None: ...
    def replace(self, src: str, dst: str) -> None: ...


class OsFileSystem:
    """The real file system through the os module (unbuffered writes)."""

    def make_dir(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def list_dir(self, path: str) -> list[str]:
        return os.listdir(path)

    def read_file(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def read_range(self, path: str, offset: int, size: int) -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def open_append(self, path: str, *, create: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        return os.open(path, flags, 0o644)

    def open_truncate(self, path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, handle: int, data: bytes) -> None:
        n = os.write(handle, data)
        if n == len(data):
            return
        view = memoryview(data)[n:]
        while view:
            n = os.write(handle, view)
            view = view[n:]

    def truncate(self, handle: int, size: int) -> None:
        os.ftruncate(handle, size)

    def fsync(self, handle: int) -> None:
        os.fsync(handle)

    def close(self, handle: int) -> None:
        os.close(handle)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove(self, path: str) -> None:
        os.remove(path)

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst)


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True)
class StoreConfig:
    segment_bytes: int = 4 * 1024 * 1024
    capacity_bytes: int = 256 * 1024 * 1024
    fsync: FsyncPolicy = FsyncPolicy.EVERY_RECORD
    fsync_every_n: int = 64  # records, for FsyncPolicy.EVERY_N
    when_full: FullPolicy = FullPolicy.DROP_OLDEST

    def __post_init__(self) -> None:
        if self.segment_bytes < OVERHEAD + 1:
            raise ValueError(f"segment_bytes must be >= {OVERHEAD + 1} (one record), got {self.segment_bytes}")
        if self.capacity_bytes < 2 * self.segment_bytes:
            raise ValueError(f"capacity_bytes ({self.capacity_bytes}) must be >= 2 x segment_bytes "
                             f"({self.segment_bytes}): the store frees space a whole segment at a time")
        if self.fsync_every_n < 1:
            raise ValueError(f"fsync_every_n must be >= 1, got {self.fsync_every_n}")

    @property
    def max_packet_bytes(self) -> int:
        return self.segment_bytes - OVERHEAD


@dataclass(frozen=True)
class StoredPacket:
    seq: int
    t_ns: int
    apid: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.seq <= MAX_SEQ:
            raise ValueError(f"seq {self.seq} is not a 64-bit unsigned integer")
        if not 0 <= self.apid <= 0xFFFF:
            raise ValueError(f"apid {self.apid} is not in 0..65535")


def _stored(seq: int, t_ns: int, apid: int, data: bytes, _new: Any = object.__new__) -> StoredPacket:
    """StoredPacket(seq, t_ns, apid, data) for values read back from a verified record (in range by
    construction): the same object without the frozen dataclass's field-by-field set and checks."""
    p: StoredPacket = _new(StoredPacket)
    d = p.__dict__
    d["seq"] = seq
    d["t_ns"] = t_ns
    d["apid"] = apid
    d["data"] = data
    return p


@dataclass(frozen=True)
class StoreStats:
    records: int  # records present in segment files (released or not)
    bytes: int  # bytes of segment files
    pending: int  # records not yet released
    released: int  # records released since open
    segments: int
    torn_records: int  # cut-short records truncated away on open
    corrupt_records: int  # records that failed their CRC (on open or when read), skipped
    dropped_records: int  # unreleased records deleted to make room (FullPolicy.DROP_OLDEST)
    refused_records: int  # packets refused because the store was full (FullPolicy.REFUSE)
    io_errors: int  # failed file-system operations
    checkpoint_errors: int  # unreadable release checkpoints found on open
    next_seq: int
    released_below: int


class _Entry(NamedTuple):
    seq: int
    t_ns: int
    apid: int
    offset: int  # of the record in its segment
    length: int  # packet bytes


@dataclass
class _Segment:
    first_seq: int
    path: str
    size: int
    entries: list[_Entry] = field(default_factory=list)

    def last_seq(self) -> int | None:
        return self.entries[-1].seq if self.entries else None

    def index_of(self, seq: int) -> int:
        # entries are tuples that start with their (increasing) seq: (seq,) sorts before every entry with that
        # seq and after every lower one, so this is bisect_left by seq, without a key call per comparison
        return bisect.bisect_left(self.entries, (seq,))


@dataclass
class _Counters:
    released: int = 0
    torn: int = 0
    corrupt: int = 0
    dropped: int = 0
    refused: int = 0
    io_errors: int = 0
    checkpoint_errors: int = 0


# --------------------------------------------------------------------------- record codec (pure)


def encode_record(seq: int, t_ns: int, apid: int, data: bytes) -> bytes:
    head = HEADER.pack(MAGIC, VERSION, 0, apid, len(data), seq, t_ns)
    return b"".join((head, data, CRC.pack(zlib.crc32(data, zlib.crc32(head)))))


def _parse_at(buf: bytes, pos: int) -> _Entry | None:
    """The record at pos if it is complete and its CRC verifies, else None."""
    end_head = pos + HEADER.size
    if end_head > len(buf):
        return None
    magic, version, _flags, apid, length, seq, t_ns = HEADER.unpack_from(buf, pos)
    if magic != MAGIC or version != VERSION:
        return None
    end = end_head + length + CRC.size
    if end > len(buf):
        return None
    (crc,) = CRC.unpack_from(buf, end - CRC.size)
    if zlib.crc32(memoryview(buf)[pos:end - CRC.size]) != crc:
        return None
    return _Entry(seq, t_ns, apid, pos, length)


def _is_cut_short(buf: bytes, pos: int) -> bool:
    """True when the bytes from pos are a record cut short by the end of the buffer (a torn write)."""
    rest = len(buf) - pos
    if rest < HEADER.size:
        return MAGIC.startswith(buf[pos:pos + len(MAGIC)])
    magic, _v, _f, _apid, length, _seq, _t = HEADER.unpack_from(buf, pos)
    return bool(magic == MAGIC and HEADER.size + length + CRC.size > rest)


class _ScanResult(NamedTuple):
    entries: list[_Entry]
    good_size: int  # bytes to keep (the end of the last valid record, or of the last skipped region)
    torn: int
    corrupt: int


def scan_segment(buf: bytes, first_seq: int, after_seq: int) -> _ScanResult:
    """Every valid record of a segment's bytes, in order, with seq >= first_seq and > after_seq.

    Damage followed by a valid record counts as one corrupt record; damage at the end is cut
    off (good_size) and counts as torn when it is a record cut short, else as corrupt.
    """
    entries: list[_Entry] = []
    torn = corrupt = 0
    last = after_seq
    pos = 0

    def valid(at: int) -> _Entry | None:
        e = _parse_at(buf, at)
        if e is None or e.seq < first_seq or e.seq <= last:
            return None
        return e

    while pos < len(buf):
        entry = valid(pos)
        if entry is not None:
            entries.append(entry)
            last = entry.seq
            pos = entry.offset + HEADER.size + entry.length + CRC.size
            continue
        nxt = buf.find(MAGIC, pos + 1)
        while nxt != -1 and valid(nxt) is None:
            nxt = buf.find(MAGIC, nxt + 1)
        if nxt == -1:
            if _is_cut_short(buf, pos):
                torn += 1
            else:
                corrupt += 1
            return _ScanResult(entries, pos, torn, corrupt)
        corrupt += 1
        pos = nxt
    return _ScanResult(entries, pos, torn, corrupt)


def encode_checkpoint(released_below: int) -> bytes:
    body = CHECKPOINT.pack(CHECKPOINT_MAGIC, VERSION, released_below)
    return body + CRC.pack(zlib.crc32(body))


def decode_checkpoint(raw: bytes) -> int | None:
    """released_below from a checkpoint file's bytes, or None when they are not a valid checkpoint."""
    if len(raw) != CHECKPOINT.size + CRC.size:
        return None
    magic, version, released_below = CHECKPOINT.unpack_from(raw)
    (crc,) = CRC.unpack_from(raw, CHECKPOINT.size)
    if magic != CHECKPOINT_MAGIC or version != VERSION or zlib.crc32(raw[:CHECKPOINT.size]) != crc:
        return None
    return int(released_below)


def _describe(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "OSError")
    return f"{name}: {exc.strerror or exc}"


# --------------------------------------------------------------------------- the store


class PacketStore:
    """A persistent FIFO of telemetry packets, released only once downlinked.

    Opening scans and repairs the directory (see the module docstring). Use as a context
    manager, or call close(). Not thread-safe (there are no threads in flight code).
    """

    def __init__(self, directory: str | os.PathLike[str], config: StoreConfig | None = None,
                 fs: FileSystem | None = None) -> None:
        self.directory = os.fspath(directory)
        self.config = config if config is not None else StoreConfig()
        cfg = self.config
        # what append() tests every time, taken from the (frozen) config once
        self._max_packet = cfg.max_packet_bytes
        self._segment_bytes = cfg.segment_bytes
        self._capacity = cfg.capacity_bytes
        self._refuse_when_full = cfg.when_full == FullPolicy.REFUSE
        self._fsync_every = 1 if cfg.fsync == FsyncPolicy.EVERY_RECORD else (
            cfg.fsync_every_n if cfg.fsync == FsyncPolicy.EVERY_N else 0)  # records between fsyncs; 0: no count
        self._fs: FileSystem = fs if fs is not None else OsFileSystem()
        self._n = _Counters()
        self._segments: list[_Segment] = []
        self._handle: int | None = None  # open handle of the writable (last) segment
        self._writable = False  # the last segment accepts appends
        self._unsynced = 0  # records written to the writable segment since its last fsync
        self._bytes = 0
        self._released_below = 0
        self._next_seq = 0
        self._closed = False
        # pending's last split of a partly released segment: (segment, released_below, index of it, corrupt
        # count); entries only leave a segment as corrupt records (counted), so the count tells a stale index
        self._split: tuple[_Segment, int, int, int] | None = None
        self._recover()

    # ------------------------------------------------------------------ open / close

    @property
    def _sync(self) -> bool:
        return self.config.fsync != FsyncPolicy.NEVER

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _recover(self) -> None:
        fs = self._fs
        try:
            fs.make_dir(self.directory)
            names = fs.list_dir(self.directory)
            if CHECKPOINT_TMP in names:  # a release interrupted before its replace: the old checkpoint stands
                fs.remove(self._path(CHECKPOINT_TMP))
            if CHECKPOINT_NAME in names:
                below = decode_checkpoint(fs.read_file(self._path(CHECKPOINT_NAME)))
                if below is None:
                    self._n.checkpoint_errors += 1  # resend everything present rather than lose it
                else:
                    self._released_below = below
            firsts = sorted(int(m.group(1)) for m in map(_SEGMENT_RE.match, names) if m)
            last_seq = -1
            high = self._released_below
            for first in firsts:
                path = self._path(segment_name(first))
                buf = fs.read_file(path)
                scan = scan_segment(buf, first, last_seq)
                self._n.torn += scan.torn
                self._n.corrupt += scan.corrupt
                if scan.good_size < len(buf):
                    self._truncate_file(path, scan.good_size)
                seg = _Segment(first, path, scan.good_size, scan.entries)
                self._segments.append(seg)
                self._bytes += seg.size
                if seg.entries:
                    last_seq = seg.entries[-1].seq
                high = max(high, first, last_seq + 1)
        except OSError as e:
            self._n.io_errors += 1
            self._close_handle_quietly()
            raise StoreError(f"packet store {self.directory}: cannot open ({_describe(e)}); "
                             "check the directory exists and is writable, then open again") from e
        self._next_seq = high
        self._writable = bool(self._segments)
        self._delete_released_segments()

    def _truncate_file(self, path: str, size: int) -> None:
        fd = self._fs.open_append(path, create=False)
        try:
            self._fs.truncate(fd, size)
            if self._sync:
                self._fs.fsync(fd)
        finally:
            self._fs.close(fd)

    def close(self) -> None:
        """Make everything durable (per policy) and release the file handle. Idempotent."""
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._close_handle_quietly()
            self._closed = True

    def __enter__(self) -> PacketStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_handle_quietly(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                self._fs.close(handle)
            except OSError:
                self._n.io_errors += 1

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"packet store {self.directory} is closed; open a new PacketStore")

    def sync(self) -> None:
        """fsync the writable segment if it holds unsynced records (no-op under FsyncPolicy.NEVER)."""
        if self._handle is None or self._unsynced == 0 or not self._sync:
            return
        try:
            self._fs.fsync(self._handle)
        except OSError as e:
            self._n.io_errors += 1
            raise StoreError(f"packet store: fsync of {self._segments[-1].path} failed ({_describe(e)}); "
                             "recent records may not survive a power loss") from e
        self._unsynced = 0

    # ------------------------------------------------------------------ append

    def append(self, data: bytes, t_ns: int, apid: int) -> int | None:
        """Store a packet; returns its seq, or None when the store is full and refuses it.

        Raises StoreError when the file system fails: the packet is then not stored (its seq
        is consumed) and the store stays consistent and usable.
        """
        if self._closed:
            self._check_open()
        n = len(data)
        if n > self._max_packet:
            raise ValueError(f"packet of {n} bytes exceeds the {self._max_packet} a segment "
                             "holds; raise StoreConfig.segment_bytes or split the packet")
        if not 0 <= apid <= 0xFFFF:
            raise ValueError(f"apid {apid} is not in 0..65535")
        if not T_MIN <= t_ns <= T_MAX:
            raise ValueError(f"t_ns {t_ns} does not fit a signed 64-bit integer")
        seq = self._next_seq
        if seq > MAX_SEQ:
            raise StoreError("packet store: 64-bit sequence numbers exhausted; start a new store directory")
        size = n + OVERHEAD
        need_roll = not self._writable or self._segments[-1].size + size > self._segment_bytes
        if self._bytes + size > self._capacity:
            if self._refuse_when_full:
                self._n.refused += 1
                return None
            if need_roll:
                self._roll()
            while self._bytes + size > self._capacity and len(self._segments) > 1:
                self._delete_segment(self._segments[0], dropping=True)
        elif need_roll:
            self._roll()

        seg = self._segments[-1]
        self._next_seq = seq + 1  # consumed even if the write fails: a partly written record must not share a seq
        if type(data) is not bytes:
            data = bytes(data)
        head = HEADER.pack(MAGIC, VERSION, 0, apid, n, seq, t_ns)  # encode_record(), inlined
        record = b"".join((head, data, CRC.pack(zlib.crc32(data, zlib.crc32(head)))))
        before = seg.size
        handle = self._handle
        if handle is None:
            try:
                handle = self._handle = self._fs.open_append(seg.path, create=False)
            except OSError as e:
                self._n.io_errors += 1
                raise StoreError(f"packet store: cannot open {seg.path} for seq {seq} ({_describe(e)}); "
                                 "the packet was not stored; check the storage, then retry") from e
        try:
            self._fs.write(handle, record)
            every = self._fsync_every
            if every and self._unsynced + 1 >= every:
                self._fs.fsync(handle)
                self._unsynced = 0
            else:
                self._unsynced += 1
        except OSError as e:
            self._n.io_errors += 1
            kept = self._undo_write(seg, before, size)
            raise StoreError(f"packet store: writing seq {seq} to {seg.path} failed ({_describe(e)}); "
                             f"the packet was not stored{kept}; free space or release packets, then retry") from e
        seg.entries.append(tuple.__new__(_Entry, (seq, t_ns, apid, before, n)))  # _Entry(...), as in append_batch
        seg.size = before + size
        self._bytes += size
        return seq

    def append_batch(self, items: Sequence[tuple[bytes, int, int]]) -> list[int] | None:
        """Store several packets, (data, t_ns, apid) each, with one write: what append() one by one would
        store, when that takes nothing but the write (every packet valid, all of them fitting the writable
        segment and the capacity, and a policy that does not fsync by record count: ON_ROLL or NEVER).
        Returns their seqs, consecutive. Otherwise returns None having done nothing: append() them one by one.

        Raises StoreError when the write fails: none of them is stored (their seqs are consumed), and the
        store stays consistent and usable, as after a failed append()."""
        if self._closed:
            self._check_open()
        handle = self._handle
        if self._fsync_every or not self._writable or handle is None or not items:
            return None
        seg = self._segments[-1]
        first = self._next_seq
        parts: list[bytes] = []
        entries: list[_Entry] = []
        pack, pack_crc, crc32, max_packet, new = HEADER.pack, CRC.pack, zlib.crc32, self._max_packet, tuple.__new__
        before = pos = seg.size
        seq = first
        for data, t_ns, apid in items:  # the records made, nothing changed until they all qualify
            n = len(data)
            if n > max_packet or not 0 <= apid <= 0xFFFF or not T_MIN <= t_ns <= T_MAX:
                return None
            if type(data) is not bytes:
                data = bytes(data)
            head = pack(MAGIC, VERSION, 0, apid, n, seq, t_ns)  # encode_record(), inlined
            parts += (head, data, pack_crc(crc32(data, crc32(head))))
            entries.append(new(_Entry, (seq, t_ns, apid, pos, n)))  # _Entry(...), without its Python-level __new__
            pos += n + OVERHEAD
            seq += 1
        total = pos - before
        if seq - 1 > MAX_SEQ or pos > self._segment_bytes or self._bytes + total > self._capacity:
            return None
        self._next_seq = seq  # consumed even if the write fails
        try:
            self._fs.write(handle, b"".join(parts))
        except OSError as e:
            self._n.io_errors += 1
            kept = self._undo_write(seg, before, total)
            raise StoreError(f"packet store: writing seqs {first}..{seq - 1} to {seg.path} failed ({_describe(e)}); "
                             f"the packets were not stored{kept}; free space or release packets, then retry") from e
        self._unsynced += len(items)
        seg.entries += entries
        seg.size = pos
        self._bytes += total
        return list(range(first, seq))

    def _undo_write(self, seg: _Segment, before: int, length: int) -> str:
        """Cut a failed record off the writable segment; if that fails too, seal the segment."""
        if self._handle is not None:
            try:
                self._fs.truncate(self._handle, before)
                return ""
            except OSError:
                self._n.io_errors += 1
        # Unknown tail: stop appending here. Reopening truncates a torn tail, or keeps a whole record.
        self._close_handle_quietly()
        self._writable = False
        seg.size = before + length
        self._bytes += length
        return " (its bytes may remain in the sealed segment)"

    def _roll(self) -> None:
        """Seal the writable segment and create a new one named after the next seq."""
        if self._handle is not None:
            if self._sync and self._unsynced:
                try:
                    self._fs.fsync(self._handle)
                except OSError as e:
                    self._n.io_errors += 1
                    raise StoreError(f"packet store: fsync of {self._segments[-1].path} failed "
                                     f"({_describe(e)}); nothing was appended, retry") from e
            self._close_handle_quietly()
        self._unsynced = 0
        self._writable = False
        path = self._path(segment_name(self._next_seq))
        try:
            self._handle = self._fs.open_append(path, create=True)
        except OSError as e:
            self._n.io_errors += 1
            raise StoreError(f"packet store: cannot create segment {path} ({_describe(e)}); "
                             "nothing was appended, retry once space is free") from e
        self._segments.append(_Segment(self._next_seq, path, 0))
        self._writable = True
        if self._sync:
            try:
                self._fs.fsync_dir(self.directory)
            except OSError as e:
                self._n.io_errors += 1
                raise StoreError(f"packet store: fsync of directory {self.directory} failed ({_describe(e)}); "
                                 "nothing was appended, retry") from e

    def _delete_segment(self, seg: _Segment, *, dropping: bool) -> None:
        if seg is self._segments[-1]:
            raise AssertionError("the newest segment holds the seq high-water mark and is never deleted")
        try:
            self._fs.remove(seg.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            self._n.io_errors += 1
            raise StoreError(f"packet store: cannot delete segment {seg.path} ({_describe(e)}); "
                             "nothing was appended, retry") from e
        self._segments.remove(seg)
        self._bytes -= seg.size
        if dropping:
            self._n.dropped += len(seg.entries) - seg.index_of(self._released_below)
        if self._sync:
            try:
                self._fs.fsync_dir(self.directory)
            except OSError:
                self._n.io_errors += 1  # the deletion may reappear after a power loss: harmless

    # ------------------------------------------------------------------ downlink

    def _pending_entries(self, after_seq: int = -1) -> Iterator[tuple[_Segment, _Entry]]:
        below = max(self._released_below, after_seq + 1)
        for seg in self._segments:
            last = seg.last_seq()
            if last is None or last < below:
                continue
            entries = seg.entries
            for k in range(seg.index_of(below), len(entries)):  # not a slice: a segment holds thousands
                yield seg, entries[k]

    @property
    def capacity_bytes(self) -> int:
        return self._capacity

    @property
    def free_bytes(self) -> int:
        """Room left before the store is full: capacity_bytes less the bytes of its segment files."""
        return max(self._capacity - self._bytes, 0)

    def peek(self, max_records: int | None = None, max_bytes: int | None = None,
             after_seq: int = -1) -> list[StoredPacket]:
        """The oldest unreleased packets with a seq above after_seq, in seq order, without removing them.

        At most max_records packets and max_bytes packet bytes (None: no limit). A packet larger
        than max_bytes is not split: size max_bytes to at least the largest packet. Packets are
        made durable (per policy) before they are handed out.
        """
        self._check_open()
        self.sync()
        picked: list[tuple[_Segment, _Entry]] = []
        if max_bytes is None:  # by count only: whole runs of a segment's index at a time
            want = -1 if max_records is None else max(max_records, 0)  # -1: no limit
            below = max(self._released_below, after_seq + 1)
            for seg in self._segments:
                if not want:
                    break
                entries = seg.entries
                if not entries or entries[-1].seq < below:
                    continue
                start = seg.index_of(below)
                end = len(entries) if want < 0 else min(len(entries), start + want)
                picked += [(seg, entries[k]) for k in range(start, end)]
                want -= end - start
            return self._read(picked)
        total = 0
        for seg, entry in self._pending_entries(after_seq):
            if max_records is not None and len(picked) >= max_records:
                break
            if total + entry.length > max_bytes:
                break
            picked.append((seg, entry))
            total += entry.length
        return self._read(picked)

    def dump(self, t_start_ns: int, t_end_ns: int, max_records: int | None = None,
             max_bytes: int | None = None) -> list[StoredPacket]:
        """Present records (released or not) with t_start_ns <= t_ns < t_end_ns, in seq order, for playback;
        at most max_records of them and max_bytes of packet data (the first that would pass it is left out).

        Read-only: it does not change what peek/release will hand out. Only records still on disk
        can be played back: released records survive only until their segment is fully released.
        """
        self._check_open()
        picked: list[tuple[_Segment, _Entry]] = []
        room = max_bytes if max_bytes is not None else -1
        full = False
        for seg in self._segments:
            for entry in seg.entries:
                if not t_start_ns <= entry.t_ns < t_end_ns:
                    continue
                if (max_records is not None and len(picked) >= max_records) or (max_bytes is not None
                                                                                 and entry.length > room):
                    full = True
                    break
                picked.append((seg, entry))
                room -= entry.length
            if full:
                break
        return self._read(picked)

    def _read(self, picked: list[tuple[_Segment, _Entry]]) -> list[StoredPacket]:
        """Read and re-verify the picked records; a record that no longer verifies is counted and dropped."""
        out: list[StoredPacket] = []
        bad: list[tuple[_Segment, _Entry]] = []
        unpack_header, unpack_crc, crc32 = HEADER.unpack_from, CRC.unpack_from, zlib.crc32
        i = 0
        while i < len(picked):
            seg = picked[i][0]
            j = i
            while j < len(picked) and picked[j][0] is seg:
                j += 1
            start = picked[i][1].offset
            last = picked[j - 1][1]
            end = last.offset + HEADER.size + last.length + CRC.size
            try:
                buf = self._fs.read_range(seg.path, start, end - start)
            except OSError as e:
                self._n.io_errors += 1
                raise StoreError(f"packet store: cannot read {seg.path} ({_describe(e)}); retry the peek") from e
            view, size = memoryview(buf), len(buf)
            for k in range(i, j):
                entry = picked[k][1]
                # _parse_at(buf, pos), inlined: the whole record there, its magic, version and CRC
                pos = entry.offset - start
                body = pos + HEADER.size
                ok = False
                if body <= size:
                    magic, version, _flags, _apid, length, seq, _t = unpack_header(buf, pos)
                    end = body + length
                    if magic == MAGIC and version == VERSION and seq == entry.seq and end + CRC.size <= size:
                        ok = crc32(view[pos:end]) == unpack_crc(buf, end)[0]
                if not ok:
                    bad.append((seg, entry))
                    continue
                out.append(_stored(entry.seq, entry.t_ns, entry.apid, buf[body:body + entry.length]))
            i = j
        for seg, entry in bad:
            self._n.corrupt += 1
            seg.entries.remove(entry)
        return out

    def release(self, up_to_seq: int) -> None:
        """Mark every packet with seq <= up_to_seq as downlinked; persisted before it returns.

        Fully released segments are then deleted (a deletion that fails is counted and retried
        on the next release or open). Raises StoreError, with nothing released, when the
        checkpoint cannot be written.
        """
        self._check_open()
        if up_to_seq >= self._next_seq:
            raise ValueError(f"cannot release up to seq {up_to_seq}: the store has only handed out "
                             f"seqs below {self._next_seq}")
        below = up_to_seq + 1
        if below <= self._released_below:
            return
        self._write_checkpoint(below)
        for seg in self._segments:
            self._n.released += seg.index_of(below) - seg.index_of(self._released_below)
        self._released_below = below
        self._delete_released_segments()

    def _write_checkpoint(self, released_below: int) -> None:
        fs = self._fs
        tmp, final = self._path(CHECKPOINT_TMP), self._path(CHECKPOINT_NAME)
        try:
            fd = fs.open_truncate(tmp)
            try:
                fs.write(fd, encode_checkpoint(released_below))
                if self._sync:
                    fs.fsync(fd)
            finally:
                fs.close(fd)
            fs.replace(tmp, final)
            if self._sync:
                fs.fsync_dir(self.directory)
        except OSError as e:
            self._n.io_errors += 1
            raise StoreError(f"packet store: cannot write release checkpoint {final} ({_describe(e)}); "
                             "nothing was released, retry the release") from e

    def _delete_released_segments(self) -> None:
        for seg in list(self._segments[:-1]):
            last = seg.last_seq()
            if last is not None and last >= self._released_below:
                break
            try:
                self._delete_segment(seg, dropping=False)
            except StoreError:
                break  # counted; retried on the next release or open

    # ------------------------------------------------------------------ state

    @property
    def pending(self) -> int:
        """Records not yet released (stats.pending, without the rest of the stats)."""
        below = self._released_below
        corrupt = self._n.corrupt
        n = 0
        for seg in self._segments:
            entries = seg.entries
            if not entries or entries[-1].seq < below:
                continue  # all released
            if entries[0].seq >= below:
                n += len(entries)  # none released
                continue
            split = self._split  # the partly released segment: seg.index_of(below), kept while it holds
            if split is not None and split[0] is seg and split[1] == below and split[3] == corrupt:
                k = split[2]
            else:
                k = seg.index_of(below)
                self._split = (seg, below, k, corrupt)
            n += len(entries) - k
        return n

    @property
    def pending_bytes(self) -> int:
        """Bytes of the records not yet released (headers and CRCs included), from the segments' sizes."""
        below = self._released_below
        total = 0
        for seg in self._segments:
            entries = seg.entries
            if not entries or entries[-1].seq < below:
                continue
            if entries[0].seq >= below:
                total += seg.size
                continue
            total += seg.size - entries[seg.index_of(below)].offset
        return total

    @property
    def stats(self) -> StoreStats:
        records = sum(len(s.entries) for s in self._segments)
        pending = self.pending
        n = self._n
        return StoreStats(records=records, bytes=self._bytes, pending=pending, released=n.released,
                          segments=len(self._segments), torn_records=n.torn, corrupt_records=n.corrupt,
                          dropped_records=n.dropped, refused_records=n.refused, io_errors=n.io_errors,
                          checkpoint_errors=n.checkpoint_errors, next_seq=self._next_seq,
                          released_below=self._released_below)
