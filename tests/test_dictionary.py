"""The telemetry dictionary: loading, encoding and decoding, limits, bulk decoding, validation."""

from __future__ import annotations

import binascii
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.ccsds.errors import DecodeError
from flight.dictionary import (
    CalKind,
    DecodedPacket,
    Dictionary,
    DictionaryError,
    EncodeError,
    FieldDef,
    FieldType,
    LimitLevel,
    LimitSide,
    PacketDef,
    PacketKind,
    UnknownPacketError,
    load_dictionary,
    loads_dictionary,
)

SHIPPED = load_dictionary()

# A dictionary exercising what the shipped one does not: floats, a polynomial, odd bit widths,
# an unaligned signed field, a 57-bit field, a tiny enum.
ODD = loads_dictionary("""
version = 1
[[packet]]
apid = 0x7FE
name = "odd"
kind = "housekeeping"
period_s = 0.5
[[packet.field]]
name = "flag"
type = "bool"
[[packet.field]]
name = "small"
type = "int"
bits = 12
unit = "degC"
linear = [0.125, -20.0]
[[packet.field]]
name = "state"
type = "enum"
bits = 3
labels = { A = 0, B = 5 }
[[packet.field]]
name = "big"
type = "uint"
bits = 57
[[packet.field]]
name = "neg"
type = "int"
bits = 7
[[packet.field]]
name = "curve"
type = "uint"
bits = 12
unit = "K"
polynomial = [3.0, 0.25, 0.0001]
[[packet.field]]
name = "pad"
type = "spare"
bits = 4
[[packet.field]]
name = "f32"
type = "float"
bits = 32
[[packet.field]]
name = "f64"
type = "float"
bits = 64
linear = [2.0, 1.0]
[[packet.field]]
name = "raw64"
type = "int"
bits = 64
""", "odd")


def _value_strategy(f: FieldDef) -> st.SearchStrategy[Any]:
    if f.type == FieldType.BOOL:
        return st.booleans()
    if f.type == FieldType.ENUM:
        return st.sampled_from([n for _, n in f.calibration.labels])
    if f.type == FieldType.TEXT:
        alphabet = st.characters(min_codepoint=1, max_codepoint=127)
        return st.text(alphabet, max_size=f.bits // 8)
    if f.type == FieldType.BYTES:
        return st.binary(min_size=f.bits // 8, max_size=f.bits // 8).map(bytes.hex)  # decoded whole
    if f.type == FieldType.FLOAT:
        if f.bits == 32:
            return st.floats(width=32, allow_nan=False, allow_infinity=False)
        return st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)
    rng = f.eng_range()
    if rng is None:
        return st.integers(f.raw_min, f.raw_max)
    return st.floats(min_value=rng[0], max_value=rng[1])


def _values(p: PacketDef) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({f.name: _value_strategy(f) for f in p.fields if f.type != FieldType.SPARE})


def _lsb(f: FieldDef, value: float) -> float:
    cal = f.calibration
    if cal.kind == CalKind.LINEAR:
        return abs(cal.coefficients[0])
    if cal.kind == CalKind.POLYNOMIAL:  # local slope at the nearest raw values
        raw = cal.poly_inverse(value, f.raw_min, f.raw_max)
        assert raw is not None
        return max(abs(float(cal.to_eng(r + 1)) - float(cal.to_eng(r))) for r in (raw - 1, raw))
    return 0.0


def _assert_close(p: PacketDef, sent: dict[str, Any], got: DecodedPacket) -> None:
    assert set(got.fields) == set(sent)
    for f in p.fields:
        if f.type == FieldType.SPARE:
            continue
        v, back = sent[f.name], got.fields[f.name]
        if f.type == FieldType.FLOAT:
            if f.calibration.kind == CalKind.NONE and f.bits == 64:
                assert back == v
            else:
                offset = abs(f.calibration.coefficients[1]) if f.calibration.coefficients else 0.0
                assert math.isclose(float(back), v, rel_tol=1e-6, abs_tol=1e-6 * offset + 1e-30), f.name
        elif isinstance(v, float):
            assert abs(float(back) - v) <= _lsb(f, v) * (1 + 1e-9), (f.name, v, back)
        else:
            assert back == v, f.name


ALL_PACKETS = [*SHIPPED.packets, *ODD.packets]


# ------------------------------------------------------------------ the shipped dictionary

def test_shipped_dictionary_loads_with_the_expected_packets() -> None:
    names = {p.name: p for p in SHIPPED.packets}
    assert {"power_hk", "battery_hk", "thermal_hk", "payload_hk", "event"} <= set(names)
    assert names["event"].kind == PacketKind.EVENT
    for p in SHIPPED.packets:
        assert p.length == p.offsets[-1] // 8 + (p.fields[-1].bits + 7) // 8 + 2
        if p.kind == PacketKind.HOUSEKEEPING:
            assert p.period_s is not None and p.period_s > 0


def test_apids_and_names_are_unique() -> None:
    apids = [p.apid for p in SHIPPED.packets]
    names = [p.name for p in SHIPPED.packets]
    assert len(set(apids)) == len(apids)
    assert len(set(names)) == len(names)
    for p in SHIPPED.packets:
        assert SHIPPED.packet(p.apid) is p
        assert SHIPPED.packet(p.name) is p


def test_unknown_packet_lookup_names_the_known_ones() -> None:
    with pytest.raises(UnknownPacketError, match="power_hk"):
        SHIPPED.packet(0x7F0)
    with pytest.raises(UnknownPacketError, match="no packet with name 'nope'"):
        SHIPPED.packet("nope")


def test_power_hk_layout_is_what_the_ground_expects() -> None:
    p = SHIPPED.packet("power_hk")
    bus = p.field("bus_voltage_v")
    assert (bus.type, bus.bits, bus.unit, bus.calibration.coefficients) == (FieldType.UINT, 16, "V", (0.001, 0.0))
    assert p.offsets[0] == 8 * 19  # primary header 6 + PUS TM secondary header 13
    assert [f.bits for f in p.fields if f.type == FieldType.BOOL] == [1] * 5


# ------------------------------------------------------------------ encode / decode

@pytest.mark.parametrize("p", ALL_PACKETS, ids=lambda p: p.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), seq=st.integers(0, 16383), t_ns=st.integers(0, (1 << 32) * 10**9 - 1))
def test_round_trip_within_one_lsb(p: PacketDef, data: st.DataObject, seq: int, t_ns: int) -> None:
    values = data.draw(_values(p))
    pkt = p.encode(values, seq, t_ns)
    assert len(pkt) == p.length
    got = p.decode(pkt)
    assert (got.apid, got.name, got.seq_count) == (p.apid, p.name, seq)
    assert got.time_s == ((t_ns << 16) // 10**9) / 65536  # CUC fine part truncated to 2^-16 s
    assert SHIPPED.decode(pkt) == got if p in SHIPPED.packets else True
    _assert_close(p, values, got)


@pytest.mark.parametrize("p", ALL_PACKETS, ids=lambda p: p.name)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_decode_many_equals_decode_per_packet(p: PacketDef, data: st.DataObject) -> None:
    rows = data.draw(st.lists(_values(p), min_size=1, max_size=20))
    packets = [p.encode(v, 100 + k, 10**9 * k + 12345) for k, v in enumerate(rows)]
    cols = p.decode_many(b"".join(packets))
    as_array = p.decode_many(np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(len(packets), p.length))
    for k, pkt in enumerate(packets):
        one = p.decode(pkt)
        assert cols["apid"][k] == one.apid
        assert cols["seq_count"][k] == one.seq_count
        assert cols["time_s"][k] == one.time_s
        assert cols["subtype"][k] == one.subtype
        assert cols["msg_counter"][k] == one.msg_counter
        for name, value in one.fields.items():
            assert cols[name][k] == value, name
            assert as_array[name][k] == value, name


def test_decode_many_handles_more_than_one_chunk() -> None:
    p = SHIPPED.packet("payload_hk")
    values = {f.name: 0 for f in p.fields if f.type != FieldType.SPARE}
    n = 3 * (1 << 20) // p.length + 7
    buf = b"".join(p.encode({**values, "job_id": k % 65536, "running": k % 3 == 0}, k, 10**9) for k in range(n))
    cols = p.decode_many(buf)
    assert np.array_equal(cols["job_id"], np.arange(n) % 65536)
    assert np.array_equal(cols["seq_count"], np.arange(n) % 16384)
    assert np.array_equal(cols["running"], np.arange(n) % 3 == 0)


def test_decode_many_rejects_foreign_and_corrupt_packets() -> None:
    p = SHIPPED.packet("thermal_hk")
    values = {f.name: 0 for f in p.fields if f.type != FieldType.SPARE}
    good = p.encode(values, 1, 0)
    corrupt = bytearray(good)
    corrupt[20] ^= 0x01
    with pytest.raises(DecodeError, match="packet 1 is not a thermal_hk packet"):
        p.decode_many(good + bytes(corrupt) + good)
    assert p.decode_many(good + bytes(corrupt), check_crc=False)["seq_count"].tolist() == [1, 1]
    other = SHIPPED.packet("battery_hk")
    with pytest.raises(DecodeError, match="not a whole number"):
        p.decode_many(good + good[:-1])
    with pytest.raises(DecodeError, match="36 octets, expected 32"):
        p.decode(other.encode({f.name: 0 for f in other.fields if f.type != FieldType.SPARE}, 0, 0))
    foreign = bytearray(good)
    foreign[1] ^= 0x01  # another APID, with a valid CRC
    foreign[-2:] = binascii.crc_hqx(bytes(foreign[:-2]), 0xFFFF).to_bytes(2, "big")
    with pytest.raises(DecodeError, match="APID 259, expected 258"):
        p.decode(bytes(foreign))
    with pytest.raises(DecodeError, match="packet 0 is not a thermal_hk packet"):
        p.decode_many(bytes(foreign))
    with pytest.raises(DecodeError):
        p.decode(bytes(corrupt))


def test_event_subtype_is_the_severity() -> None:
    p = SHIPPED.packet("event")
    for sev, subtype in (("INFO", 1), ("LOW", 2), ("MEDIUM", 3), ("HIGH", 4)):
        pkt = p.encode({"event_id": "UNDERVOLTAGE", "severity": sev, "param1": -5, "param2": 25600,
                        "text": "bus 25.4 V"}, 7, 10**9)
        got = p.decode(pkt)
        assert (got.service, got.subtype) == (5, subtype)
        assert got.fields["severity"] == sev and got.fields["text"] == "bus 25.4 V"
        assert p.decode_many(pkt)["subtype"][0] == subtype


def test_hk_header_is_service_3_subtype_25() -> None:
    p = SHIPPED.packet("battery_hk")
    values = {f.name: 0 for f in p.fields if f.type != FieldType.SPARE}
    pkt = p.encode(values, 9, 5 * 10**9, destination=7)
    assert pkt[6] >> 4 == 2  # PUS-C
    assert (pkt[7], pkt[8]) == (3, 25)
    got = p.decode(pkt)
    assert (got.msg_counter, got.destination, got.time_s) == (9, 7, 5.0)


# ------------------------------------------------------------------ encode errors

@pytest.mark.parametrize(("field", "value", "match"), [
    ("bus_voltage_v", 65.536, r"power_hk\.bus_voltage_v: 65\.536 V is outside the encodable range 0 \.\. 65\.535 V"),
    ("bus_voltage_v", -0.001, r"power_hk\.bus_voltage_v: -0\.001 V is outside"),
    ("bus_voltage_v", float("nan"), r"power_hk\.bus_voltage_v: nan V is not finite"),
    ("bus_voltage_v", "28", r"power_hk\.bus_voltage_v: expected a number"),
    ("radio_on", 2, r"power_hk\.radio_on: expected true/false"),
])
def test_bad_values_are_rejected_naming_the_field(field: str, value: Any, match: str) -> None:
    p = SHIPPED.packet("power_hk")
    values: dict[str, Any] = {f.name: 0 for f in p.fields if f.type != FieldType.SPARE}
    values[field] = value
    with pytest.raises(EncodeError, match=match):
        p.encode(values, 0, 0)


def test_other_encode_errors() -> None:
    p = SHIPPED.packet("event")
    ok: dict[str, Any] = {"event_id": "BOOT", "severity": "INFO", "param1": 0, "param2": 0, "text": ""}
    p.encode(ok, 0, 0)
    with pytest.raises(EncodeError, match=r"event\.event_id: 'REBOOT' is not a label"):
        p.encode({**ok, "event_id": "REBOOT"}, 0, 0)
    with pytest.raises(EncodeError, match=r"event\.text: text of 25 octets does not fit 24"):
        p.encode({**ok, "text": "x" * 25}, 0, 0)
    with pytest.raises(EncodeError, match=r"event\.param1: 2147483648 is outside"):
        p.encode({**ok, "param1": 2**31}, 0, 0)
    with pytest.raises(EncodeError, match=r"event\.param2: value missing"):
        p.encode({k: v for k, v in ok.items() if k != "param2"}, 0, 0)
    with pytest.raises(EncodeError, match=r"event\.extra: no such field"):
        p.encode({**ok, "extra": 1}, 0, 0)
    with pytest.raises(EncodeError, match="does not fit 4 coarse octets"):
        p.encode(ok, 0, (1 << 32) * 10**9)
    odd = ODD.packet("odd")
    values: dict[str, Any] = {f.name: 0 for f in odd.fields if f.type != FieldType.SPARE}
    values.update(state="A", curve=10.0)
    odd.encode(values, 0, 0)
    with pytest.raises(EncodeError, match=r"odd\.curve: 2 K is outside the encodable range 3 \.\. "):
        odd.encode({**values, "curve": 2.0}, 0, 0)
    with pytest.raises(EncodeError, match=r"odd\.f32: 1e\+39 overflows a float32"):
        odd.encode({**values, "f32": 1e39}, 0, 0)


# ------------------------------------------------------------------ limits

def _power(**changes: Any) -> DecodedPacket:
    p = SHIPPED.packet("power_hk")
    values: dict[str, Any] = {f.name: 0 for f in p.fields if f.type != FieldType.SPARE}
    values.update(bus_voltage_v=28.8, payload_power_w=500.0)
    values.update(changes)
    return p.decode(p.encode(values, 0, 0))


def test_nominal_values_violate_no_limit() -> None:
    assert SHIPPED.check_limits(_power()) == []


@pytest.mark.parametrize(("volts", "level", "side", "limit"), [
    (26.0, LimitLevel.WARNING, LimitSide.LOW, 26.4),
    (25.0, LimitLevel.CRITICAL, LimitSide.LOW, 25.6),
    (33.5, LimitLevel.WARNING, LimitSide.HIGH, 33.4),
    (34.5, LimitLevel.CRITICAL, LimitSide.HIGH, 34.0),
])
def test_limits_are_flagged(volts: float, level: LimitLevel, side: LimitSide, limit: float) -> None:
    [v] = SHIPPED.check_limits(_power(bus_voltage_v=volts))
    assert (v.packet, v.field, v.level, v.side, v.limit) == ("power_hk", "bus_voltage_v", level, side, limit)
    assert v.value == pytest.approx(volts)
    assert "bus_voltage_v" in str(v) and f"{limit:g} V" in str(v)


def test_several_limits_at_once() -> None:
    found = SHIPPED.check_limits(_power(bus_voltage_v=25.0, payload_power_w=800.0))
    assert [(v.field, v.level) for v in found] == [("bus_voltage_v", LimitLevel.CRITICAL),
                                                   ("payload_power_w", LimitLevel.CRITICAL)]


# ------------------------------------------------------------------ invalid dictionaries

BASE = """
version = 1
[[packet]]
apid = 0x100
name = "a"
kind = "housekeeping"
period_s = 1.0
[[packet.field]]
name = "x"
type = "uint"
bits = 16
"""


@pytest.mark.parametrize(("extra", "match"), [
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 65\n',
     r"^packet\[0\]\.field\[1\]\.bits: an integer is 1\.\.64"),
    ('[[packet.field]]\nname = "y"\ntype = "float"\nbits = 16\n',
     r"^packet\[0\]\.field\[1\]\.bits: a float is 32 or 64"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 3\n', r"^packet\[0\]\.field: the fields add up to 19 bits"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\nlinear = [0, 1]\n',
     r"^packet\[0\]\.field\[1\]\.linear: the scale a must not be 0"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\nlinear = [1]\n',
     r"^packet\[0\]\.field\[1\]\.linear: expected \[a, b\]"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\npolynomial = [0, 1, -0.01]\n',
     r"^packet\[0\]\.field\[1\]\.polynomial: not monotonic"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\nlimits = { warning_low = 5, critical_low = 6 }\n',
     r"^packet\[0\]\.field\[1\]\.limits\.warning_low: must be >= critical_low"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\nlimits = { warning_lo = 5 }\n',
     r"^packet\[0\]\.field\[1\]\.limits\.warning_lo: unknown key"),
    ('[[packet.field]]\nname = "y"\ntype = "bool"\nlimits = { warning_high = 0 }\n',
     r"^packet\[0\]\.field\[1\]\.limits: a bool field takes no limits"),
    ('[[packet.field]]\nname = "y"\ntype = "enum"\nbits = 2\nlabels = { A = 4 }\n',
     r"^packet\[0\]\.field\[1\]\.labels\.A: code 4 does not fit 2 bits"),
    ('[[packet.field]]\nname = "y"\ntype = "enum"\nbits = 8\n', r"^packet\[0\]\.field\[1\]\.labels: an enum needs"),
    ('[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[0\]\.field\[1\]\.name: duplicate field"),
    ('[[packet.field]]\nname = "seq_count"\ntype = "uint"\nbits = 8\n', r"^packet\[0\]\.field\[1\]\.name: .* reserved"),
    ('[[packet.field]]\nname = "Y"\ntype = "uint"\nbits = 8\n', r"^packet\[0\]\.field\[1\]\.name: 'Y' is not"),
    ('[[packet.field]]\nname = "y"\ntype = "string"\nbits = 8\n', r"^packet\[0\]\.field\[1\]\.type: must be one of"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\n', r"^packet\[0\]\.field\[1\]\.bits: required key is missing"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = "8"\n',
     r"^packet\[0\]\.field\[1\]\.bits: expected an integer"),
    ('[[packet.field]]\nname = "y"\ntype = "uint"\nbits = 8\nscale = 2\n',
     r"^packet\[0\]\.field\[1\]\.scale: unknown key"),
    ('[[packet.field]]\nname = "b"\ntype = "bool"\n[[packet.field]]\nname = "y"\ntype = "float"\nbits = 32\n'
     '[[packet.field]]\nname = "z"\ntype = "spare"\nbits = 7\n',
     r"^packet\[0\]\.field\[2\]\.bits: a float field must start on an octet boundary"),
    ('[[packet]]\napid = 0x100\nname = "b"\nkind = "housekeeping"\nperiod_s = 1\n'
     '[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[1\]\.apid: duplicate APID 256"),
    ('[[packet]]\napid = 0x101\nname = "a"\nkind = "housekeeping"\nperiod_s = 1\n'
     '[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[1\]\.name: duplicate packet name 'a'"),
    ('[[packet]]\napid = 0x7FF\nname = "b"\nkind = "housekeeping"\nperiod_s = 1\n'
     '[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[1\]\.apid: must be in 0\.\.2046"),
    ('[[packet]]\napid = 0x101\nname = "b"\nkind = "housekeeping"\n'
     '[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[1\]\.period_s: a housekeeping packet needs"),
    ('[[packet]]\napid = 0x101\nname = "b"\nkind = "event"\nseverity_field = "x"\n'
     '[[packet.field]]\nname = "x"\ntype = "enum"\nbits = 8\nlabels = { A = 1, B = 9 }\n',
     r"^packet\[1\]\.severity_field: label B of x has a code outside 1\.\.4"),
    ('[[packet]]\napid = 0x101\nname = "b"\nkind = "event"\n'
     '[[packet.field]]\nname = "x"\ntype = "uint"\nbits = 8\n', r"^packet\[1\]\.severity_field: an event packet names"),
    ('[[packet]]\napid = 0x101\nname = "b"\nkind = "housekeeping"\nperiod_s = 1\n',
     r"^packet\[1\]\.field: a packet needs at least one field"),
])
def test_invalid_dictionary_errors_name_the_key(extra: str, match: str) -> None:
    with pytest.raises(DictionaryError, match=match):
        loads_dictionary(BASE + extra)


def test_invalid_top_level_and_files(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match=r"^version: this reader knows dictionary format 1, got 2"):
        loads_dictionary(BASE.replace("version = 1", "version = 2"))
    with pytest.raises(DictionaryError, match=r"^version: required key is missing"):
        loads_dictionary(BASE.replace("version = 1", ""))
    with pytest.raises(DictionaryError, match=r"^packet: the dictionary declares no packets"):
        loads_dictionary("version = 1\n")
    with pytest.raises(DictionaryError, match=r"^mission: unknown key"):
        loads_dictionary('mission = "x"\n' + BASE)
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + "[[packet.field]]\nname = 'y'\ntype = 'uint'\nbits = 0\n")
    with pytest.raises(DictionaryError, match=r"bad\.toml: packet\[0\]\.field\[1\]\.bits: an integer is 1\.\.64"):
        load_dictionary(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n")
    with pytest.raises(DictionaryError, match="not valid TOML"):
        load_dictionary(broken)
    with pytest.raises(DictionaryError, match="cannot read"):
        load_dictionary(tmp_path / "missing.toml")
    good = tmp_path / "good.toml"
    good.write_text(BASE)
    assert [p.name for p in load_dictionary(good).packets] == ["a"]


def test_value_types_validate_when_built_directly() -> None:
    with pytest.raises(DictionaryError, match="bits: a bool is 1 bit"):
        FieldDef("b", FieldType.BOOL, 2)
    f = FieldDef("x", FieldType.UINT, 8)
    with pytest.raises(DictionaryError, match=r"packet\[1\]\.apid: duplicate APID 5"):
        Dictionary((PacketDef(5, "a", PacketKind.HOUSEKEEPING, (f,), period_s=1.0),
                    PacketDef(5, "b", PacketKind.HOUSEKEEPING, (f,), period_s=1.0)))


# ------------------------------------------------------------------ JSON export

def test_to_json_is_stable_and_complete() -> None:
    import json

    doc = SHIPPED.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc == load_dictionary().to_json()
    packets: Any = doc["packets"]
    assert [p["apid"] for p in packets] == [p.apid for p in SHIPPED.packets]
    power = packets[0]
    bus = power["fields"][0]
    assert bus == {"name": "bus_voltage_v", "type": "uint", "bits": 16, "bit_offset": 152, "unit": "V",
                   "description": "Main bus voltage, 1 mV/LSB",
                   "calibration": {"type": "linear", "a": 0.001, "b": 0.0},
                   "limits": {"critical_low": 25.6, "warning_low": 26.4, "warning_high": 33.4, "critical_high": 34.0}}
    assert power["length"] == SHIPPED.packet("power_hk").length
