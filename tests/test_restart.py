"""A restart of the flight process, including a kill in the middle of a store write,
loses no stored packet and delivers each exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from emulator import load
from flight.dictionary import load_dictionary
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
    keys = Counter((r.apid, r.time) for r in recs if r.time is not None)
    assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1][:5]  # exactly once
    # every packet made before the contact was stored and reached the ground; a kill in the middle of
    # a write (at 600 s) costs the one record it cut short
    t0 = min(t for _, t in keys)
    before = {k for k in keys if k[1] - t0 < 1525 and k[0] != 0x110}  # housekeeping (events are counted apart)
    expected = 3 * 1525 + 2 * 153  # power, battery and payload every second, thermal and uplink every 10 s, 1525 s
    assert len(before) == expected - (1 if torn else 0)
    assert dec.stats_json()["crc_errors"] == 0
    boots = [r for r in recs if r.name == "event" and r.fields["event_id"] == "BOOT"]
    assert len(boots) == 4  # each start says so; the fifth (1900 s, after the pass) is still on board
