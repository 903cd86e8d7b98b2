"""ground.bulk.decode_columns against PacketDef.decode, packet by packet, on a CADU capture made by TmFramer."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from flight.ccsds.deframer import Deframer
from flight.ccsds.errors import DecodeError
from flight.ccsds.spacepacket import encode_packet
from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import DecodedPacket, Dictionary, load_dictionary
from flight.dictionary.samples import random_values
from ground.bulk import BulkStats, decode_columns

HK = ("power_hk", "battery_hk", "thermal_hk", "payload_hk")
UNKNOWN = 7
WRONG_LENGTH = 3
HEADER = ("apid", "seq_count", "time_s", "service", "subtype", "msg_counter", "destination")


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary()


@pytest.fixture(scope="module")
def capture(dictionary: Dictionary) -> bytes:
    """Mixed HK packets (and a few events) on VCs 0 and 1, plus packets of undeclared APIDs, packets of a
    declared APID with the wrong length and one housekeeping packet with a bad CRC."""
    rng = random.Random(20261122)
    kinds = [dictionary.packet(name) for name in (*HK, "event")]
    seq = dict.fromkeys((p.apid for p in kinds), 0)
    packets: list[bytes] = []
    for k in range(1500):
        p = kinds[4] if k % 97 == 0 else rng.choice(kinds[:4])
        packets.append(p.encode(random_values(p, rng), seq[p.apid], 2_000_000_000 * 10**9 + k * 10**8,
                                destination=rng.randrange(65536)))
        seq[p.apid] = (seq[p.apid] + 1) % 16384
    for j in range(UNKNOWN):
        packets.insert(rng.randrange(len(packets)), encode_packet(0x300 + j, j, rng.randbytes(rng.randint(1, 80))))
    power = dictionary.packet("power_hk")
    for j in range(WRONG_LENGTH):  # one to three octets too long
        packets.insert(rng.randrange(len(packets)), encode_packet(power.apid, 9000 + j, bytes(power.length - 5 + j)))
    bad = bytearray(dictionary.packet("thermal_hk").encode(random_values(dictionary.packet("thermal_hk"), rng), 5, 0))
    bad[25] ^= 0x10  # a field bit: the packet CRC no longer matches
    packets.insert(700, bytes(bad))

    cfg = TmFrameConfig(scid=42)
    framer = TmFramer(cfg)
    out: list[bytes] = []
    for k, pkt in enumerate(packets):
        v = pkt[1] & 1  # by APID: each kind keeps to one VC, so its packets come out in the order pushed
        framer.push(v, pkt)
        if framer.pending(v) >= cfg.data_field_len:
            out.append(cadu(framer.frame(v), cfg))
        if k % 400 == 0:
            out.append(cadu(framer.idle_frame(), cfg))
    for v in (0, 1):
        while framer.pending(v):
            out.append(cadu(framer.frame(v), cfg))
    return b"".join(out)


def reference(capture: bytes, dictionary: Dictionary) -> dict[str, list[DecodedPacket]]:
    """Deframer.feed, then PacketDef.decode one packet at a time (those it rejects left out)."""
    d = Deframer()
    out: dict[str, list[DecodedPacket]] = {}
    for _, pkt in d.feed(capture) + d.finish():
        try:
            dec = dictionary.decode(pkt)
        except DecodeError:
            continue
        out.setdefault(dec.name, []).append(dec)
    return out


def assert_same(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys()
        for col in a[name]:
            assert a[name][col].dtype == b[name][col].dtype, (name, col)
            assert np.array_equal(a[name][col], b[name][col]), (name, col)


def test_columns_equal_packet_by_packet_decode(capture: bytes, dictionary: Dictionary) -> None:
    stats = BulkStats()
    cols = decode_columns(capture, dictionary, stats=stats)
    ref = reference(capture, dictionary)
    assert set(cols) == set(ref) == {*HK, "event"}
    for name, decoded in ref.items():
        c = cols[name]
        pdef = dictionary.packet(name)
        assert all(v.size == len(decoded) for v in c.values())
        for k, dp in enumerate(decoded):
            for h in HEADER:
                want = getattr(dp, h) if h != "apid" else pdef.apid
                assert c[h][k] == pytest.approx(want, rel=1e-15, abs=0), (name, k, h)
            for f, want in dp.fields.items():
                got = c[f][k]
                if isinstance(want, bool | str):
                    assert got == want and type(got.item()) is type(want), (name, k, f, got, want)
                else:
                    assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12), (name, k, f, got, want)
            assert set(dp.fields) <= set(c)
    assert stats.decoded == sum(len(v) for v in ref.values())
    assert stats.per_packet == {name: len(v) for name, v in ref.items()}
    assert stats.unknown_apid == UNKNOWN
    assert stats.wrong_length == WRONG_LENGTH
    assert stats.invalid == 1
    assert stats.idle == 0
    assert stats.packets == stats.decoded + UNKNOWN + WRONG_LENGTH + 1
    assert stats.deframer is not None and stats.deframer.errors == 0
    # sequence counts are continuous per kind: nothing lost, nothing reordered
    for name in HK:
        assert np.all(np.diff(cols[name]["seq_count"].astype(np.int64)) == 1)


def chunks(data: bytes, rng: random.Random, largest: int) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        n = rng.randint(1, largest)
        yield data[pos:pos + n]
        pos += n


def arena_chunks(pieces: Iterator[bytes]) -> Iterator[tuple[Any, Any, Any]]:
    d = Deframer()
    for chunk in pieces:
        yield d.feed_arena(chunk)  # used by decode_columns before the next feed


@pytest.mark.parametrize("largest", [7, 1200, 5000, 100_000])
def test_chunk_boundaries_do_not_change_results(capture: bytes, dictionary: Dictionary, largest: int) -> None:
    whole = decode_columns(capture, dictionary)
    rng = random.Random(largest)
    s1, s2, s3 = BulkStats(), BulkStats(), BulkStats()
    assert_same(decode_columns(chunks(capture, rng, largest), dictionary, stats=s1), whole)
    assert_same(decode_columns(arena_chunks(chunks(capture, rng, largest)), dictionary, stats=s2), whole)
    assert_same(decode_columns(io.BytesIO(capture), dictionary, stats=s3, chunk_octets=largest), whole)
    assert s1.decoded == s2.decoded == s3.decoded
    assert s1.unknown_apid == s2.unknown_apid == s3.unknown_apid == UNKNOWN
    assert s1.wrong_length == s2.wrong_length == s3.wrong_length == WRONG_LENGTH


def test_bare_arena_with_idle_and_short_packets_is_counted(dictionary: Dictionary) -> None:
    """Arena chunks that do not come from the deframer: idle packets and runts counted, not fatal."""
    rng = random.Random(3)
    power = dictionary.packet("power_hk")
    pkts = [power.encode(random_values(power, rng), k, 0) for k in range(5)]
    pkts.insert(2, encode_packet(0x7FF, 0, bytes(10)))
    pkts.insert(4, b"\x01\x00\x00")
    octets = np.frombuffer(b"".join(pkts), dtype=np.uint8)
    offsets = np.cumsum([0] + [len(p) for p in pkts]).astype(np.uint32)
    stats = BulkStats()
    cols = decode_columns([(octets, offsets, np.zeros(len(pkts), np.uint8))], dictionary, stats=stats)
    assert list(cols["power_hk"]["seq_count"]) == [0, 1, 2, 3, 4]
    assert (stats.packets, stats.decoded, stats.idle, stats.wrong_length, stats.unknown_apid) == (7, 5, 1, 1, 0)
    assert stats.deframer is None
    assert decode_columns(b"", dictionary) == {}


def test_selected_kinds_and_fields_are_the_same_columns(capture: bytes, dictionary: Dictionary) -> None:
    """select: only the kinds asked for, with only their requested field columns (header columns always),
    equal to the full decode's; the other kinds' packets are counted as skipped."""
    whole_stats, stats = BulkStats(), BulkStats()
    whole = decode_columns(capture, dictionary, stats=whole_stats)
    select = {"power_hk": ("bus_voltage_v", "undervoltage"), "thermal_hk": None}
    cols = decode_columns(capture, dictionary, stats=stats, select=select)
    assert set(cols) == {"power_hk", "thermal_hk"}
    assert set(cols["power_hk"]) == {*HEADER, "bus_voltage_v", "undervoltage"}
    assert set(cols["thermal_hk"]) == set(whole["thermal_hk"])
    for name, c in cols.items():
        for k, v in c.items():
            assert np.array_equal(v, whole[name][k]), (name, k)
    assert stats.invalid == whole_stats.invalid == 1  # the thermal_hk packet with a bad CRC
    others = sum(n for name, n in whole_stats.per_packet.items() if name not in select)
    assert stats.skipped == others
    assert stats.packets == stats.decoded + stats.skipped + UNKNOWN + WRONG_LENGTH + 1
    with pytest.raises(KeyError):
        decode_columns(capture, dictionary, select={"no_such_packet": None})
    with pytest.raises(KeyError):
        decode_columns(capture, dictionary, select={"power_hk": ("no_such_field",)})


def test_an_event_check_holds_when_its_severity_column_is_not_asked_for(capture: bytes,
                                                                        dictionary: Dictionary) -> None:
    cols = decode_columns(capture, dictionary, select={"event": ("param1",)})
    assert set(cols["event"]) == {*HEADER, "param1"}
    assert np.array_equal(cols["event"]["param1"], decode_columns(capture, dictionary)["event"]["param1"])
