"""Packets written with the dictionary parse in independent implementations: ccsdspy and spacepackets."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flight.dictionary import FieldType, PacketDef, load_dictionary
from flight.dictionary.samples import random_values

ccsdspy = pytest.importorskip("ccsdspy")
spacepacket = pytest.importorskip("spacepackets.ccsds.spacepacket")
ecss_tm = pytest.importorskip("spacepackets.ecss.tm")

SHIPPED = load_dictionary()
HK = [p for p in SHIPPED.packets if p.name.endswith("_hk")]


def _packets(p: PacketDef, n: int, seed: int) -> list[bytes]:
    return [pkt for pkt, _ in _packets_and_values(p, n, seed)]


def _packets_and_values(p: PacketDef, n: int, seed: int) -> list[tuple[bytes, dict[str, Any]]]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        values = random_values(p, rng)
        out.append((p.encode(values, (k * 37) % 16384, 10**9 * (1_000_000 + k) + k * 7919), values))
    return out


def _ccsdspy_fields(p: PacketDef) -> list[Any]:
    """PacketField definitions built from the dictionary (bit offsets count the primary header)."""
    pf = ccsdspy.PacketField
    fields = [pf("pus_version", "uint", 4, bit_offset=48), pf("time_ref", "uint", 4, bit_offset=52),
              pf("service", "uint", 8, bit_offset=56), pf("subtype", "uint", 8, bit_offset=64),
              pf("msg_counter", "uint", 16, bit_offset=72), pf("destination", "uint", 16, bit_offset=88),
              pf("cuc_coarse", "uint", 32, bit_offset=104), pf("cuc_fine", "uint", 16, bit_offset=136)]
    kinds = {FieldType.UINT: "uint", FieldType.BOOL: "uint", FieldType.ENUM: "uint", FieldType.INT: "int",
             FieldType.FLOAT: "float", FieldType.TEXT: "str", FieldType.SPARE: "fill",
             FieldType.BYTES: "fill"}
    for f, off in zip(p.fields, p.offsets, strict=True):
        fields.append(pf(f.name, kinds[f.type], f.bits, bit_offset=off))
    fields.append(pf("pec", "uint", 16, bit_offset=8 * (p.length - 2)))
    return fields


@pytest.mark.parametrize("p", HK, ids=lambda p: p.name)
def test_hk_packets_load_in_ccsdspy_with_the_same_raw_values(p: PacketDef, tmp_path: Path) -> None:
    pairs = _packets_and_values(p, 200, seed=p.apid)
    packets = [pkt for pkt, _ in pairs]
    path = tmp_path / f"{p.name}.bin"
    path.write_bytes(b"".join(packets))
    result = ccsdspy.FixedLength(_ccsdspy_fields(p)).load(str(path), include_primary_header=True)
    assert len(result["CCSDS_APID"]) == len(packets)
    assert np.all(result["CCSDS_APID"] == p.apid)
    assert np.all(result["service"] == 3) and np.all(result["subtype"] == 25)
    assert np.all(result["pus_version"] == 2)
    decoded = [p.decode(pkt) for pkt in packets]
    assert result["CCSDS_SEQUENCE_COUNT"].tolist() == [d.seq_count for d in decoded]
    assert result["CCSDS_PACKET_LENGTH"].tolist() == [p.length - 7] * len(packets)
    times = result["cuc_coarse"] + result["cuc_fine"] / 65536.0
    assert times.tolist() == [d.time_s for d in decoded]
    for f in p.fields:
        if f.type == FieldType.SPARE:
            continue
        assert result[f.name].tolist() == [d.raw[f.name] for d in decoded], f.name
        # the raw value the encoder chose, independent of our decoder and of the field offsets
        sent = [f.raw_from_bits(f.encode_bits(v[f.name], f.name)) for _, v in pairs]
        assert result[f.name].tolist() == sent, f.name
    # and the engineering values agree with our bulk decoder
    cols = p.decode_many(path.read_bytes())
    for f in p.fields:
        if f.type in (FieldType.UINT, FieldType.INT) and f.calibration.coefficients:
            a, b = f.calibration.coefficients
            assert np.array_equal(cols[f.name], result[f.name].astype(np.float64) * a + b), f.name


@pytest.mark.parametrize("p", SHIPPED.packets, ids=lambda p: p.name)
def test_packets_parse_in_spacepackets(p: PacketDef) -> None:
    for pkt in _packets(p, 20, seed=7):
        ours = p.decode(pkt)
        hdr = spacepacket.SpacePacketHeader.unpack(pkt)
        assert hdr.apid == p.apid
        assert hdr.seq_count == ours.seq_count
        assert hdr.packet_len == len(pkt) == p.length
        assert hdr.sec_header_flag
        tm = ecss_tm.PusTm.unpack(pkt, timestamp_len=6)  # checks the CRC
        assert (tm.service, tm.message_subtype, tm.apid) == (ours.service, ours.subtype, p.apid)
        assert tm.source_data == pkt[19:-2]
