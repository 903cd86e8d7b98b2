"""A restart of the flight process, including a kill in the middle of a store write,
loses no stored packet and delivers each exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from emulator import load
from flight.dictionary import PacketKind, load_dictionary
from ground.stream import StreamDecoder
from skyrack.sil import run


@pytest.mark.parametrize("torn", [0, 17])
def test_restarts_lose_no_stored_packet(tmp_path: Path, torn: int) -> None:
    # gpu-node's first contact runs from 1525 s to 1845 s: kill twice before it (packets pile up in the
    # store), once during it (playback in flight) and once after
    res = run(load("gpu-node"), 2000.0, tmp_path,
              restarts=((600.0, torn), (1200.0, 0), (1600.0, torn), (1900.0, 0)))
    s = res.summary
    assert s["boots"] == 5
    dec = StreamDecoder(load_dictionary())
    recs = dec.feed((tmp_path / "downlink.cadu").read_bytes()) + dec.finish()
    keys = Counter((r.apid, r.seq, r.time) for r in recs if r.time is not None)
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1][:5]  # exactly once
    # every packet made before the contact was stored and reached the ground; a kill in the middle of
    # a write (at 600 s) costs the one record it cut short
    t0 = min(t for _, _, t in keys)
    hk = [p for p in load_dictionary().packets if p.kind == PacketKind.HOUSEKEEPING]
    before = {k for k in keys if k[2] - t0 < 1525 and k[0] in {p.apid for p in hk}}  # events are counted apart
    # every housekeeping packet at its period (1 s or 10 s) over the 1525 s before the pass
    expected = sum(1525 if p.period_s == 1.0 else 153 for p in hk)
    assert len(before) == expected - (1 if torn else 0)
    assert dec.stats_json()["crc_errors"] == 0
    boots = [r for r in recs if r.name == "event" and r.fields["event_id"] == "BOOT"]
    assert len(boots) == 4  # each start says so; the fifth (1900 s, after the pass) is still on board


def test_a_frame_authenticated_before_a_reboot_cannot_be_replayed_after_it(tmp_path: Path) -> None:
    from flight.ccsds.keystore import load_key_file
    from flight.dictionary import load_commands
    from flight.replay_state import ReplayState
    from ground.command import build
    from skyrack.sil import write_uplink_key

    key = tmp_path / "uplink.key"
    write_uplink_key(key)
    ping = build(load_commands(), "ping", {}, load_key_file(key), bypass=True).cltu
    # the ping arrives in the pass (1525 s), the flight software restarts at 1600 s, the same CLTU is
    # transmitted again at 1650 s and arrives within the same pass
    res = run(load("gpu-node"), 1700.0, tmp_path / "run", key_path=key, restarts=((1600.0, 0),),
              uplinks=((100.0, ping), (1650.0, ping)))
    events = res.summary["events"]
    assert events.get("TC_REJECTED", 0) == 1  # the replay, after the reboot
    assert ReplayState(tmp_path / "run" / "store" / "uplink.sn").load() == 1


def test_replay_state_survives_damage(tmp_path: Path) -> None:
    from flight.replay_state import ReplayState

    st = ReplayState(tmp_path / "sn")
    assert st.load() == 0
    st.save(41)
    st.save(42)
    st.save(43)  # copies: sn holds 43, sn.b holds 42
    assert ReplayState(tmp_path / "sn").load() == 43

    def flip(name: str) -> None:
        raw = bytearray((tmp_path / name).read_bytes())
        raw[6] ^= 1
        (tmp_path / name).write_bytes(bytes(raw))

    flip("sn")  # the newer copy damaged: the older one still stops every replay but the last frame's
    one = ReplayState(tmp_path / "sn")
    assert one.load() == 42 and one.read_errors == 1 and not one.both_lost
    one.save(44)  # writes over the damaged copy
    assert ReplayState(tmp_path / "sn").load() == 44
    flip("sn")
    flip("sn.b")
    both = ReplayState(tmp_path / "sn")
    assert both.load() == 0 and both.read_errors == 2 and both.both_lost
