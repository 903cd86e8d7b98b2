"""The compiled packet encoder packs header and fields with one struct.pack of octet-aligned runs: the
same octets as the reference encoder (PacketDef._encode_generic), for every packet of the dictionary and
for runs of every width (whole words, 3, 5, 6 and 7 octets, and runs too wide to pack that way)."""

from __future__ import annotations

import random

import pytest

from flight.dictionary import PacketDef, load_dictionary, loads_dictionary
from flight.dictionary.packet import encoder_source
from flight.dictionary.samples import random_values

RUNS = """
version = 1
title = "runs of every width"

[[packet]]
apid = 0x301
name = "runs_hk"
kind = "housekeeping"
period_s = 1.0

[[packet.field]]
name = "a12"
type = "uint"
bits = 12

[[packet.field]]
name = "b12"
type = "int"
bits = 12
linear = [0.5, 1.0]

[[packet.field]]
name = "c20"
type = "uint"
bits = 20

[[packet.field]]
name = "d20"
type = "int"
bits = 20

[[packet.field]]
name = "e48"
type = "uint"
bits = 48

[[packet.field]]
name = "f7"
type = "uint"
bits = 7

[[packet.field]]
name = "g49"
type = "uint"
bits = 49

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
name = "h32"
type = "float"
bits = 32

[[packet]]
apid = 0x302
name = "wide_hk"
kind = "housekeeping"
period_s = 1.0

[[packet.field]]
name = "lead"
type = "uint"
bits = 12

[[packet.field]]
name = "w60"
type = "uint"
bits = 60

[[packet.field]]
name = "w8"
type = "uint"
bits = 8

[[packet.field]]
name = "spare"
type = "spare"
bits = 8
"""

PACKETS: list[PacketDef] = [*load_dictionary().packets, *loads_dictionary(RUNS).packets]


@pytest.mark.parametrize("p", PACKETS, ids=lambda p: p.name)
def test_compiled_encoder_gives_the_reference_octets(p: PacketDef) -> None:
    rng = random.Random(p.apid)
    for _ in range(300):
        values = random_values(p, rng)
        seq, t_ns = rng.randrange(1 << 14), rng.randrange(1 << 61)  # CUC time below 2**32 s
        msg_counter = rng.choice([None, rng.randrange(1 << 16)])
        destination = rng.randrange(1 << 16)
        fast = p._encoder(values, seq, t_ns, msg_counter, destination)
        assert fast is not None
        assert fast == p._encode_generic(values, seq, t_ns, msg_counter=msg_counter, destination=destination)


def test_runs_wider_than_a_word_keep_the_wide_integer() -> None:
    dictionary = loads_dictionary(RUNS)
    assert "_pack" in encoder_source(dictionary.packet("runs_hk"))[0]
    assert "_pack" not in encoder_source(dictionary.packet("wide_hk"))[0]
    assert "_pack" not in encoder_source(load_dictionary().packet("job_result"))[0]
