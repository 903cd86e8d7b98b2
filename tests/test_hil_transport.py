"""Transports by URL, the tap file format, and the pump on a port without a file descriptor."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest

from hil.link import Link, LinkState
from hil.messages import ErrorCode, ErrorMsg, Kind, Role
from hil.pump import LinkPump
from hil.transport import TAP_MAGIC, Direction, Tap, TapFormatError, TapRecord, TransportError, open_port, read_tap


def test_open_port_failure_is_one_clear_error() -> None:
    with pytest.raises(TransportError, match=r"cannot open /nonexistent/tty at 115200 baud: .*dialout"):
        open_port("/nonexistent/tty")
    with pytest.raises(TransportError, match="far end is listening"):
        open_port("socket://127.0.0.1:1")
    with pytest.raises(ValueError):
        open_port("loop://", 0)


def test_tap_records_both_directions_in_the_documented_format() -> None:
    port = open_port("loop://")
    buf = io.BytesIO()
    ticks = iter(range(100, 1000, 100))
    tap = Tap(port, buf, clock=lambda: next(ticks))
    assert tap.write(b"\x01\x02\x03") == 3
    assert tap.read(2) == b"\x01\x02"
    assert tap.read(10) == b"\x03"
    assert tap.read(10) == b""  # nothing moved: no record
    assert tap.bytes_written == 3 and tap.bytes_read == 3
    assert buf.getvalue() == (TAP_MAGIC
                              + struct.pack(">qBI", 100, 0x57, 3) + b"\x01\x02\x03"
                              + struct.pack(">qBI", 200, 0x52, 2) + b"\x01\x02"
                              + struct.pack(">qBI", 300, 0x52, 1) + b"\x03")
    port.close()


def test_read_tap(tmp_path: Path) -> None:
    path = tmp_path / "link.tap"
    rec = struct.pack(">qBI", 5, 0x57, 2) + b"ab"
    path.write_bytes(TAP_MAGIC + rec + rec[:9])  # the second record cut short
    assert list(read_tap(path)) == [TapRecord(5, Direction.WRITE, b"ab")]
    path.write_bytes(b"NOTATAP!" + rec)
    with pytest.raises(TapFormatError, match="not a tap file"):
        list(read_tap(path))
    path.write_bytes(TAP_MAGIC + struct.pack(">qBI", 5, 0x41, 0))
    with pytest.raises(TapFormatError, match="direction 0x41"):
        list(read_tap(path))


def test_a_host_hearing_itself_on_loop_reports_a_role_conflict() -> None:
    """loop:// has no file descriptor: the pump polls it. A host wired to itself sees its own HELLO."""
    link = Link(Role.HOST, session_id=1)
    pump = LinkPump(link, open_port("loop://"))
    assert pump.fd is None
    got = []
    t_end = time.monotonic() + 5
    while link.state is not LinkState.FAILED and time.monotonic() < t_end:
        got += pump.service(0.01)
    assert link.failure is not None and "both ends are the host" in link.failure
    errors = [m.decode() for m in got if m.kind is Kind.ERROR]
    assert len(errors) == 1 and isinstance(errors[0], ErrorMsg) and errors[0].code is ErrorCode.ROLE_CONFLICT
    pump.port.close()
