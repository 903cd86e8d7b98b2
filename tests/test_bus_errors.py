"""Malformed transfers and bad arguments: a BusError (or ValueError / TypeError
for advance), never a crash, and no change to the emulator's state."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator import Emulator
from flight.interfaces import BusError

NS = 1_000_000_000
MS = 1_000_000

# gpu-node: bus 0 devices, and the one device on bus 1
BUS0 = {0x20: "gpio", 0x36: "fuel_gauge", 0x40: "ina_battery", 0x41: "ina_array", 0x42: "ina_payload",
        0x43: "ina_radio", 0x44: "ina_avionics", 0x48: "temp_payload", 0x49: "temp_battery",
        0x4A: "temp_radiator", 0x4B: "temp_avionics", 0x50: "payload_ctrl"}
WIDE = [a for a in BUS0 if a != 0x20]  # 16-bit register chips


def fresh() -> Emulator:
    emu = Emulator("gpu-node")
    emu.advance(2000 * NS)
    return emu


def fingerprint(emu: Emulator) -> tuple[int, bytes]:
    return emu.t_ns, emu.state.tobytes()


def noisy_trace(emu: Emulator) -> list[bytes]:
    """Readings that consume random numbers: equal traces mean equal RNG streams and chip states."""
    out = []
    for _ in range(5):
        emu.advance(1100 * MS)
        out += [emu.bus.transfer(0x40, b"\x01", 2), emu.bus.transfer(0x48, b"\x00", 2),
                emu.bus.transfer(0x36, b"\x04", 2), emu.bus.transfer(0x50, b"\x0a", 2)]
    return out


# (bus, addr, write, read_len, text expected in the message)
BAD: list[tuple[int, Any, bytes, int, str]] = [
    (0, 0x10, b"", 0, "NACK"),                  # nobody there
    (0, 0x10, b"\x00", 2, "NACK"),
    (2, 0x40, b"\x00", 2, "NACK"),              # right address, wrong bus
    (1, 0x40, b"\xfe", 2, "NACK"),
    (0, 0x7F, b"", 1, "NACK"),
    (0, 0x40, b"\x08", 2, "NACK"),              # INA226 has no register 0x08
    (0, 0x48, b"\x10", 2, "NACK"),              # TMP117 has no register 0x10
    (0, 0x36, b"\x03", 2, "NACK"),              # MAX17048 odd address
    (0, 0x36, b"\x00", 2, "NACK"),              # MAX17048 has no register 0x00
    (0, 0x50, b"\x0f", 2, "NACK"),              # payload controller ends at 0x0E
    (0, 0x20, b"\x04", 1, "NACK"),              # TCA9534 ends at 0x03
    (0, 0x40, b"\x00", 3, "read longer"),       # 16-bit register, 3 bytes
    (0, 0x48, b"", 64, "read longer"),
    (0, 0x50, b"\x00", 256, "read longer"),
    (0, 0x20, b"\x00", 2, "read longer"),       # 8-bit register, 2 bytes
    (0, 0x40, b"\x00", -1, ""),                 # negative read length
    (0, 0x20, b"", -5, ""),
    (0, 0x40, b"\x00", 1000, ""),               # beyond any buffer
    (0, 0x40, b"\x00\x41", 0, "invalid"),       # pointer + 1 byte: not a word
    (0, 0x40, b"\x05\x00\x10\x00", 0, "invalid"),  # pointer + 3 bytes
    (0, 0x50, b"\x03\x00", 0, "invalid"),
    (0, 0x36, b"\x0c\x97\x1c\x00\x00", 2, "invalid"),
    (0, 0x20, b"\x01\x00\x00", 0, "invalid"),   # TCA9534: command + 2 bytes
    (0, 0x40, bytes(300), 0, ""),               # beyond any buffer
    (0, 0x80, b"", 0, "range"),                 # not a 7-bit address
    (0, -1, b"\x00", 2, "range"),
    (0, 0x140, b"\x00", 2, "range"),
    (0, 1 << 40, b"", 0, "range"),
]


@pytest.mark.parametrize(("bus", "addr", "write", "read_len", "text"), BAD)
def test_bad_transfer_raises_bus_error_and_changes_nothing(
    bus: int, addr: Any, write: bytes, read_len: int, text: str
) -> None:
    emu, twin = fresh(), fresh()
    before = fingerprint(emu)
    ptr_before = {a: emu.bus.transfer(a, b"", 1) for a in WIDE}  # current pointers' MSBs, via the pointer
    assert {a: twin.bus.transfer(a, b"", 1) for a in WIDE} == ptr_before
    with pytest.raises(BusError) as info:
        emu.buses[bus].transfer(addr, write, read_len)
    if text:
        assert text.lower() in str(info.value).lower()
    assert isinstance(info.value.addr, int)
    assert fingerprint(emu) == before
    # pointers, chip registers and the random stream are as in a twin that saw no bad transfer
    assert {a: emu.bus.transfer(a, b"", 1) for a in WIDE} == ptr_before
    assert noisy_trace(emu) == noisy_trace(twin)


def test_unknown_address_message_names_address_and_nack() -> None:
    emu = fresh()
    with pytest.raises(BusError) as info:
        emu.bus.transfer(0x11, b"\x00", 2)
    assert info.value.addr == 0x11
    assert "0x11" in str(info.value)
    assert "NACK" in str(info.value)


def test_read_too_long_message_is_clear() -> None:
    emu = fresh()
    with pytest.raises(BusError) as info:
        emu.bus.transfer(0x40, b"\xfe", 4)
    assert info.value.addr == 0x40
    assert "read longer than the register" in str(info.value)
    assert emu.bus.transfer(0x40, b"", 2) == b"\x41\x27"  # the pointer did not move to 0xFE


def test_bad_register_pointer_leaves_pointer() -> None:
    emu = fresh()
    assert emu.bus.transfer(0x49, b"\x0f", 2) == b"\x01\x17"
    with pytest.raises(BusError, match="NACK"):
        emu.bus.transfer(0x49, b"\x09", 0)
    assert emu.bus.transfer(0x49, b"", 2) == b"\x01\x17"


def test_bad_write_does_not_write() -> None:
    emu = fresh()
    with pytest.raises(BusError):
        emu.bus.transfer(0x40, b"\x05\x12\x34\x56", 0)  # CAL with an extra byte
    assert emu.bus.transfer(0x40, b"\x05", 2) == b"\x00\x00"
    with pytest.raises(BusError):
        emu.bus.transfer(0x20, b"\x01\x00\x00", 0)  # would switch every load off
    emu.advance(2 * NS)
    assert emu.snapshot()["loads"]["payload"]["on"] and emu.snapshot()["loads"]["radio"]["on"]


def test_probe_acks_and_changes_nothing() -> None:
    emu, twin = fresh(), fresh()
    before = fingerprint(emu)
    for a in list(BUS0):
        assert emu.bus.transfer(a, b"", 0) == b""
    assert emu.buses[1].transfer(0x48, b"", 0) == b""
    assert fingerprint(emu) == before
    assert noisy_trace(emu) == noisy_trace(twin)


@pytest.mark.parametrize(("step", "exc"), [(-1, ValueError), (-(10**12), ValueError), (1.5, TypeError),
                                           (1e9, TypeError), ("1000", TypeError), (None, TypeError),
                                           (True, TypeError)])
def test_bad_advance(step: Any, exc: type[Exception]) -> None:
    emu = fresh()
    before = fingerprint(emu)
    with pytest.raises(exc):
        emu.advance(step)
    assert fingerprint(emu) == before
    emu.advance(NS)
    assert emu.t_ns == before[0] + NS


def test_advance_zero_is_a_no_op() -> None:
    emu = fresh()
    before = fingerprint(emu)
    emu.advance(0)
    assert fingerprint(emu) == before


_FUZZ = fresh()
_ADDRS = st.one_of(st.sampled_from([*BUS0, 0x48]), st.integers(min_value=-3, max_value=0x83))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bus=st.integers(min_value=0, max_value=3), addr=_ADDRS, write=st.binary(max_size=6),
       read_len=st.integers(min_value=-2, max_value=5), dt_ms=st.integers(min_value=0, max_value=50))
def test_fuzz_transfers_only_bytes_or_bus_error(bus: int, addr: int, write: bytes, read_len: int,
                                                 dt_ms: int) -> None:
    emu = _FUZZ
    emu.advance(dt_ms * MS)
    t = emu.t_ns
    try:
        out = emu.buses[bus].transfer(addr, write, read_len)
    except BusError as exc:
        assert exc.reason
        assert emu.t_ns == t
        return
    assert isinstance(out, bytes)
    assert len(out) == read_len
    assert emu.t_ns == t
