"""Valid random field values for a packet: test captures and benchmarks."""

from __future__ import annotations

import random
import string

from flight.dictionary.fields import FieldType, Value
from flight.dictionary.packet import PacketDef


def random_values(pdef: PacketDef, rng: random.Random) -> dict[str, Value]:
    """Engineering values the packet can encode exactly: drawn as raw codes,
    then calibrated, so that encoding gives the drawn raw codes back."""
    out: dict[str, Value] = {}
    for f in pdef.fields:
        if f.type == FieldType.SPARE:
            continue
        if f.type == FieldType.BOOL:
            out[f.name] = rng.random() < 0.5
        elif f.type == FieldType.ENUM:
            out[f.name] = rng.choice(f.calibration.labels)[1]
        elif f.type == FieldType.TEXT:
            out[f.name] = "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(0, f.bits // 8)))
        elif f.type == FieldType.BYTES:
            out[f.name] = rng.randbytes(f.bits // 8).hex()
        elif f.type == FieldType.FLOAT:
            out[f.name] = f.eng_from_raw(rng.uniform(-1e3, 1e3))
        else:
            out[f.name] = f.eng_from_raw(rng.randint(f.raw_min, f.raw_max))
    return out
