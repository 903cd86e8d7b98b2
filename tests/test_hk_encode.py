"""The compiled housekeeping packet maker gives what clamping then encoding gives, byte for byte
(or hands over: None), for every housekeeping packet and for every field type a dictionary may declare."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.dictionary import PacketDef, PacketKind, load_dictionary, loads_dictionary
from flight.telemetry.hk import compile_clamp, compile_maker

ALL_TYPES = """
version = 1
title = "every type"

[[packet]]
apid = 0x300
name = "mixed_hk"
kind = "housekeeping"
period_s = 1.0

[[packet.field]]
name = "u"
type = "uint"
bits = 12

[[packet.field]]
name = "i"
type = "int"
bits = 12

[[packet.field]]
name = "lin"
type = "int"
bits = 16
linear = [0.01, -5.0]

[[packet.field]]
name = "poly"
type = "uint"
bits = 16
polynomial = [1.0, 0.5, 0.001]

[[packet.field]]
name = "flag"
type = "bool"
bits = 1

[[packet.field]]
name = "state"
type = "enum"
bits = 7
labels = { OFF = 0, ON = 1, FAULT = 5 }

[[packet.field]]
name = "f"
type = "float"
bits = 32

[[packet.field]]
name = "d"
type = "float"
bits = 64

[[packet.field]]
name = "big"
type = "uint"
bits = 64

[[packet.field]]
name = "sbig"
type = "int"
bits = 64

[[packet.field]]
name = "txt"
type = "text"
bits = 64
"""

PACKETS: list[PacketDef] = [p for p in load_dictionary().packets if p.kind == PacketKind.HOUSEKEEPING]
PACKETS += list(loads_dictionary(ALL_TYPES).packets)

values_st = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e4, 1e4),
    st.sampled_from(["OFF", "ON", "FAULT", "nope", "", "abcdefghij"]),
)


def long_way(p: PacketDef, values: dict[str, Any], seq: int, t_ns: int) -> bytes | type[Exception]:
    try:
        return p.encode(compile_clamp(p)(values), seq, t_ns)
    except Exception as exc:
        return type(exc)


@pytest.mark.parametrize("p", PACKETS, ids=lambda p: p.name)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), seq=st.integers(0, 16383), t_ns=st.integers(0, 2**62))
def test_the_maker_is_clamp_then_encode(p: PacketDef, data: st.DataObject, seq: int, t_ns: int) -> None:
    names = [f.name for f in p.fields if f.type.name != "SPARE"]
    values = data.draw(st.dictionaries(st.sampled_from([*names, "unrelated"]), values_st))
    got = compile_maker(p)(values, seq, t_ns)
    want = long_way(p, values, seq, t_ns)
    if got is None:
        return  # handed over: the caller goes the long way
    assert got == want


def test_plain_values_take_the_compiled_path() -> None:
    p = next(p for p in PACKETS if p.name == "power_hk")
    values = {f.name: 1.5 for f in p.fields}
    values.update({f.name: True for f in p.fields if f.type.name == "BOOL"})
    got = compile_maker(p)(values, 7, 10**18)
    assert got is not None and got == long_way(p, values, 7, 10**18)
    values["bus_voltage_v"] = math.nan  # the encoder refuses NaN: handed over, and the long way says why
    assert compile_maker(p)(values, 7, 10**18) is None
