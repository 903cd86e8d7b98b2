"""Ground decoding speed on a capture of CADUs holding mixed housekeeping packets.

  deframe   Deframer.feed_arena over the capture in 4 MiB chunks, FECF (CRC) checked: MB/s, frames/s
  decode    deframe + ground.bulk.decode_columns to engineering units: packets/s
  peers     spacepackets, header-only parse of the bare packets, the faster of its two documented routes
            (parse_space_packets to split, then SpacePacketHeader.unpack on each; or SpacePacketHeader.unpack
            at each packet start, following packet_len) and ccsdspy (FixedLength with a PacketField for every power_hk
            field: raw values, ccsdspy does not calibrate), beside Skyrack on the same packets, same run

The capture: 1115-octet TM frames with FECF, not randomized, ASM, VCs 0 (power_hk, battery_hk) and 1
(thermal_hk, payload_hk), the four kinds mixed at random, valid values (a few tens of thousands of
distinct packets from random_values, replicated with their sequence counts, message counters, times and
CRCs rewritten per packet), continuous sequence and frame counts, framed by TmFramer in Python. It is
cached in the system temp dir, keyed by its parameters.

    python bench/decode.py [--json] [--mb 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flight.ccsds._native import crc16_rows
from flight.ccsds.deframer import Deframer
from flight.ccsds.tm_frame import TmFrameConfig, TmFramer, cadu
from flight.dictionary import FieldType, PacketDef, load_dictionary
from flight.dictionary.samples import random_values
from ground.bulk import BulkStats, decode_columns

HK = ("power_hk", "battery_hk", "thermal_hk", "payload_hk")
VC = {"power_hk": 0, "battery_hk": 0, "thermal_hk": 1, "payload_hk": 1}
CHUNK = 4 << 20
FRAME_LENGTH = 1115
CAPTURE_VERSION = 1  # bump when the capture recipe changes
T0_NS = 2_100_000_000 * 10**9  # first time stamp, ns after the CUC epoch


# ------------------------------------------------------------------ capture


def replicate(p: PacketDef, templates: np.ndarray, n: int) -> np.ndarray:
    """n packets of kind p, stream order: the templates cycled, each with its own sequence count
    (continuous modulo 16384), message counter (= sequence count, as PacketDef.encode sets it),
    time (t0 + k periods) and packet CRC."""
    rows: np.ndarray = templates[np.arange(n) % templates.shape[0]]
    k = np.arange(n, dtype=np.int64)
    seq = k % 16384
    rows[:, 2] = 0xC0 | (seq >> 8)
    rows[:, 3] = seq & 0xFF
    rows[:, 9] = seq >> 8
    rows[:, 10] = seq & 0xFF
    t_ns = T0_NS + np.round(k * (p.period_s or 1.0) * 1e9).astype(np.int64)
    coarse = t_ns // 10**9
    fine = ((t_ns % 10**9) << 16) // 10**9
    for i in range(4):
        rows[:, 13 + i] = (coarse >> (8 * (3 - i))) & 0xFF
    rows[:, 17] = fine >> 8
    rows[:, 18] = fine & 0xFF
    crc = crc16_rows(rows, p.length - 2)
    rows[:, -2] = crc >> 8
    rows[:, -1] = crc & 0xFF
    return rows


def build_capture(mb: float, distinct: int, seed: int) -> bytes:
    d = load_dictionary()
    defs = [d.packet(name) for name in HK]
    rng = random.Random(seed)
    per_kind = max(1, distinct // len(defs))
    templates = [np.frombuffer(b"".join(p.encode(random_values(p, rng), 0, 0) for _ in range(per_kind)),
                               dtype=np.uint8).reshape(per_kind, p.length) for p in defs]
    cfg = TmFrameConfig(scid=42, frame_length=FRAME_LENGTH)
    frames_needed = int(mb * 1e6 / cfg.cadu_length) + 2
    target = frames_needed * cfg.data_field_len  # packet octets to fill that many frames
    lengths = np.array([p.length for p in defs])
    n_total = int(target / lengths.mean() * 1.01) + 16
    kinds = np.random.default_rng(seed).integers(0, len(defs), n_total)
    kinds = kinds[:int(np.searchsorted(np.cumsum(lengths[kinds]), target)) + 1]
    sizes = lengths[kinds]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    stream = np.empty(int(sizes.sum()), dtype=np.uint8)
    for j, p in enumerate(defs):
        where = starts[kinds == j]
        stream[where[:, None] + np.arange(p.length)] = replicate(p, templates[j], where.size)
    data = stream.tobytes()
    vcs = [VC[p.name] for p in defs]
    framer = TmFramer(cfg)
    out: list[bytes] = []
    full = cfg.data_field_len
    for j, a, n in zip(kinds.tolist(), starts.tolist(), sizes.tolist(), strict=True):
        v = vcs[j]
        framer.push(v, data[a:a + n])
        if framer.pending(v) >= full:
            out.append(cadu(framer.frame(v), cfg))
    for v in sorted(set(vcs)):
        while framer.pending(v):
            out.append(cadu(framer.frame(v), cfg))
    return b"".join(out)


def load_capture(mb: float, distinct: int, seed: int) -> tuple[bytes, float, bool]:
    """(capture, seconds spent building it now (0 if cached), whether it came from the cache)."""
    key = hashlib.sha256(json.dumps([CAPTURE_VERSION, mb, distinct, seed, FRAME_LENGTH,
                                     load_dictionary().to_json()]).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"skyrack-bench-decode-{key}.cadu"
    if path.exists():
        return path.read_bytes(), 0.0, True
    t0 = time.perf_counter()
    data = build_capture(mb, distinct, seed)
    gen = time.perf_counter() - t0
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data, gen, False


# ------------------------------------------------------------------ measurements


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def deframe(capture: bytes) -> Deframer:
    d = Deframer(frame_length=FRAME_LENGTH)
    mv = memoryview(capture)
    for pos in range(0, len(mv), CHUNK):
        d.feed_arena(mv[pos:pos + CHUNK])
    d.finish()
    return d


def bare_packets(capture: bytes) -> tuple[bytes, list[int]]:
    """The packets of the capture back to back, and their lengths."""
    d = Deframer(frame_length=FRAME_LENGTH)
    parts: list[bytes] = []
    lengths: list[int] = []
    mv = memoryview(capture)
    for pos in range(0, len(mv), CHUNK):
        octets, offsets, _ = d.feed_arena(mv[pos:pos + CHUNK])
        parts.append(octets.tobytes())
        lengths += np.diff(offsets).tolist()
    return b"".join(parts), lengths


def spacepackets_parse(buf: bytes, apids: list[int]) -> int:
    from spacepackets.ccsds.spacepacket import PacketId, PacketType, SpacePacketHeader, parse_space_packets

    result = parse_space_packets(buf, [PacketId(PacketType.TM, True, a) for a in apids])
    n = 0
    for pkt in result.tm_list:
        SpacePacketHeader.unpack(pkt)
        n += 1
    return n


def spacepackets_walk(buf: bytes) -> int:
    """The other documented route: SpacePacketHeader.unpack at each packet start, following packet_len."""
    from spacepackets.ccsds.spacepacket import SpacePacketHeader

    pos, n, end = 0, 0, len(buf)
    while pos < end:
        pos += SpacePacketHeader.unpack(buf[pos:pos + 6]).packet_len
        n += 1
    return n


def ccsdspy_packet(p: PacketDef) -> Any:
    """A ccsdspy FixedLength definition with every field of p (after the primary header)."""
    from ccsdspy import FixedLength, PacketField

    logging.getLogger("ccsdspy").setLevel(logging.ERROR)  # it warns when sequence counts wrap at 16384

    fields = [PacketField("pus_version", "uint", 4), PacketField("time_ref_status", "uint", 4),
              PacketField("service", "uint", 8), PacketField("subtype", "uint", 8),
              PacketField("msg_counter", "uint", 16), PacketField("destination", "uint", 16),
              PacketField("time_coarse", "uint", 32), PacketField("time_fine", "uint", 16)]
    kinds = {FieldType.UINT: "uint", FieldType.INT: "int", FieldType.FLOAT: "float", FieldType.BOOL: "uint",
             FieldType.ENUM: "uint", FieldType.TEXT: "str", FieldType.SPARE: "fill"}
    for k, f in enumerate(p.fields):
        name = f"spare_{k}" if f.type == FieldType.SPARE else f.name
        fields.append(PacketField(name, kinds[f.type], f.bits))
    fields.append(PacketField("pec", "uint", 16))
    return FixedLength(fields, apid=p.apid, name=p.name)


def rate(n: int, times: list[float]) -> tuple[float, float]:
    return n / min(times), n / statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=100.0, help="capture size in MB of CADUs (default 100)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--distinct", type=int, default=24000, help="distinct packets drawn with random_values")
    ap.add_argument("--peer-packets", type=int, default=300_000,
                    help="packets given to spacepackets (default 300,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)

    capture, gen_s, cached = load_capture(args.mb, args.distinct, args.seed)
    dictionary = load_dictionary()
    power = dictionary.packet("power_hk")

    # (a) deframe, CRC checked
    t_def, d = timed(lambda: deframe(capture), repeats)
    st = d.stats
    if st.errors or st.frames * (FRAME_LENGTH + 4) != len(capture):
        raise SystemExit(f"capture does not deframe cleanly: {st}")
    mb = len(capture) / 1e6
    deframe_mb, deframe_mb_med = (x / 1e6 for x in rate(len(capture), t_def))
    frames_s, _ = rate(st.frames, t_def)

    # (b) deframe + full decode to engineering units
    stats = BulkStats()
    t_dec, cols = timed(lambda: decode_columns(capture, dictionary, stats=stats), repeats)
    if stats.decoded != st.packets or stats.invalid or stats.unknown_apid or stats.wrong_length:
        raise SystemExit(f"decode_columns did not decode every packet: {stats} vs {st.packets} packets")
    for name, c in cols.items():  # sequence counts continuous per kind: the capture is what it claims
        if np.any(np.diff(c["seq_count"].astype(np.int64)) % 16384 != 1):
            raise SystemExit(f"{name}: sequence counts not continuous")
    decode_s, decode_s_med = rate(stats.decoded, t_dec)

    # (c) spacepackets on the same bare packets (header-only parse)
    bare, lengths = bare_packets(capture)
    n_peer = min(args.peer_packets, len(lengths))
    peer_buf = bare[:sum(lengths[:n_peer])]
    apids = [dictionary.packet(name).apid for name in HK]
    t_split, n_split = timed(lambda: spacepackets_parse(peer_buf, apids), repeats)
    t_walk, n_walk = timed(lambda: spacepackets_walk(peer_buf), repeats)
    if n_split != n_peer or n_walk != n_peer:
        raise SystemExit(f"spacepackets found {n_split} / {n_walk} packets, expected {n_peer}")
    split_s, walk_s = rate(n_peer, t_split)[0], rate(n_peer, t_walk)[0]
    sp_method = "header walk" if walk_s > split_s else "parse_space_packets + unpack"
    n_sp = n_peer
    sp_s, sp_s_med = rate(n_peer, t_walk if walk_s > split_s else t_split)  # the faster of the two routes

    # (d) ccsdspy on the power_hk packets (file on disk), Skyrack decode_many on the same file
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    arr = np.frombuffer(bare, dtype=np.uint8)
    is_power = (((arr[starts] & 7).astype(np.int64) << 8) | arr[starts + 1]) == power.apid
    rows = np.lib.stride_tricks.sliding_window_view(arr, power.length)[starts[is_power]]
    n_power = rows.shape[0]
    pkt_def = ccsdspy_packet(power)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "power_hk.bin"
        rows.tofile(path)
        t_cy, raw = timed(lambda: pkt_def.load(str(path)), repeats)
        t_sky_p, eng = timed(lambda: power.decode_many(np.fromfile(path, dtype=np.uint8)), repeats)
    if raw["bus_voltage_v"].size != n_power or not np.allclose(raw["bus_voltage_v"] * 0.001, eng["bus_voltage_v"]):
        raise SystemExit("ccsdspy and Skyrack disagree on power_hk bus_voltage_v")
    cy_s, cy_s_med = rate(n_power, t_cy)
    sky_p_s, sky_p_s_med = rate(n_power, t_sky_p)

    ccsdspy_version, spacepackets_version = version("ccsdspy"), version("spacepackets")
    out: dict[str, Any] = {
        "capture_mb": mb,
        "frames": st.frames,
        "packets": stats.decoded,
        "packets_per_kind": stats.per_packet,
        "generation_s": gen_s,
        "capture_cached": cached,
        "repeats": repeats,
        "deframe_mb_per_s": deframe_mb,
        "deframe_mb_per_s_median": deframe_mb_med,
        "frames_per_s": frames_s,
        "decode_packets_per_s": decode_s,
        "decode_packets_per_s_median": decode_s_med,
        "decode_mb_per_s": len(capture) / min(t_dec) / 1e6,
        "spacepackets_packets": n_sp,
        "spacepackets_packets_per_s": sp_s,
        "spacepackets_packets_per_s_median": sp_s_med,
        "spacepackets_method": sp_method,
        "spacepackets_split_unpack_packets_per_s": split_s,
        "spacepackets_header_walk_packets_per_s": walk_s,
        "decode_over_spacepackets": decode_s / sp_s,
        "ccsdspy_packets": n_power,
        "ccsdspy_packets_per_s": cy_s,
        "ccsdspy_packets_per_s_median": cy_s_med,
        "skyrack_power_hk_packets_per_s": sky_p_s,
        "skyrack_power_hk_packets_per_s_median": sky_p_s_med,
        "skyrack_over_ccsdspy": sky_p_s / cy_s,
        "decode_over_ccsdspy": decode_s / cy_s,
        "spacepackets_version": spacepackets_version,
        "ccsdspy_version": ccsdspy_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    src = "cached" if cached else f"built in {gen_s:.1f} s"
    print(f"capture: {mb:.1f} MB of CADUs ({FRAME_LENGTH}-octet frames, FECF), {st.frames:,} frames, "
          f"{stats.decoded:,} packets ({src}); best of {repeats}, median in brackets")
    rows_out = [
        ("deframe, CRC checked", f"{deframe_mb:,.0f} MB/s ({deframe_mb_med:,.0f})",
         f"{frames_s:,.0f} frames/s", ""),
        ("deframe + decode to engineering units", f"{decode_s:,.0f} packets/s ({decode_s_med:,.0f})",
         f"{out['decode_mb_per_s']:,.0f} MB/s", ""),
        (f"spacepackets {spacepackets_version}, header only: {sp_method}", f"{sp_s:,.0f} packets/s ({sp_s_med:,.0f})",
         f"{n_sp:,} packets", f"decode / spacepackets {decode_s / sp_s:,.1f}x"),
        (f"ccsdspy {ccsdspy_version} FixedLength, power_hk, raw", f"{cy_s:,.0f} packets/s ({cy_s_med:,.0f})",
         f"{n_power:,} packets", f"decode / ccsdspy {decode_s / cy_s:,.1f}x"),
        ("Skyrack decode_many, same power_hk file, eng.", f"{sky_p_s:,.0f} packets/s ({sky_p_s_med:,.0f})",
         f"{n_power:,} packets", f"Skyrack / ccsdspy {sky_p_s / cy_s:,.1f}x"),
    ]
    for what, speed, extra, ratio in rows_out:
        print(f"  {what:<62} {speed:>32}  {extra:>18}  {ratio}")
    print("  ccsdspy returns raw values (it does not calibrate) and does not check the packet CRC; Skyrack checks "
          "the CRC and calibrates.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
