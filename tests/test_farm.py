"""FARM-1 (CCSDS 232.1-B-2) and the CLCW: the window, lockout, wait, control commands, type-B frames, CLCW bits
against hand-computed words, and random frame sequences that keep V(R) consistent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.ccsds.errors import DecodeError
from flight.ccsds.farm import (
    TRANSITIONS,
    Clcw,
    Decision,
    Farm,
    FarmEvent,
    FarmState,
    classify_ad,
)
from flight.ccsds.tc_frame import TcFrame, set_vr, unlock

SCID, VCID = 0x2AB, 5


def ad(ns: int, vcid: int = VCID, scid: int = SCID) -> TcFrame:
    return TcFrame(scid=scid, vcid=vcid, seq=ns, data=b"\x10\x20")


def bd() -> TcFrame:
    return TcFrame(scid=SCID, vcid=VCID, seq=0, data=b"\x99", bypass=True)


def farm(vr: int = 0, window: int = 10) -> Farm:
    f = Farm(SCID, VCID, window)
    f.reset(vr)
    return f


def flags(f: Farm) -> tuple[FarmState, int, bool, bool, bool]:
    v = f.vars
    return v.state, v.vr, v.lockout, v.wait, v.retransmit


def test_in_sequence_frames_are_accepted_and_vr_advances() -> None:
    f = farm()
    for ns in range(300):
        r = f.on_frame(ad(ns % 256))
        assert r.accepted and r.event is FarmEvent.AD_IN_SEQUENCE
        assert f.vr == (ns + 1) % 256
    assert flags(f) == (FarmState.OPEN, 300 % 256, False, False, False)
    assert f.counters[FarmEvent.AD_IN_SEQUENCE] == 300


def test_gap_within_the_positive_window_asks_for_retransmission() -> None:
    f = farm(vr=3)  # W = 10: PW = NW = 5
    r = f.on_frame(ad(5))
    assert (r.decision, r.event) == (Decision.DISCARD, FarmEvent.AD_POSITIVE_WINDOW)
    assert flags(f) == (FarmState.OPEN, 3, False, False, True)
    assert Clcw.decode(f.clcw()).retransmit
    assert f.on_frame(ad(3)).accepted  # the missing frame: accepted, retransmit cleared
    assert flags(f) == (FarmState.OPEN, 4, False, False, False)


def test_duplicate_in_the_negative_window_is_discarded_quietly() -> None:
    f = farm(vr=3)
    r = f.on_frame(ad(1))
    assert (r.decision, r.event) == (Decision.DISCARD, FarmEvent.AD_NEGATIVE_WINDOW)
    assert flags(f) == (FarmState.OPEN, 3, False, False, False)


@pytest.mark.parametrize(("vr", "ns", "event"), [
    (10, 14, FarmEvent.AD_POSITIVE_WINDOW),  # V(R) + PW - 1
    (10, 15, FarmEvent.AD_LOCKOUT_AREA),  # V(R) + PW
    (10, 5, FarmEvent.AD_NEGATIVE_WINDOW),  # V(R) - NW
    (10, 4, FarmEvent.AD_LOCKOUT_AREA),  # V(R) - NW - 1
    (254, 2, FarmEvent.AD_POSITIVE_WINDOW),  # across the wrap
    (254, 3, FarmEvent.AD_LOCKOUT_AREA),
    (2, 253, FarmEvent.AD_NEGATIVE_WINDOW),
    (2, 252, FarmEvent.AD_LOCKOUT_AREA),
    (0, 128, FarmEvent.AD_LOCKOUT_AREA),
])
def test_window_edges(vr: int, ns: int, event: FarmEvent) -> None:
    assert farm(vr).on_frame(ad(ns)).event is event


@given(vr=st.integers(0, 255), ns=st.integers(0, 255), half=st.integers(1, 127), space=st.booleans())
def test_classification_matches_the_window_sets(vr: int, ns: int, half: int, space: bool) -> None:
    positive = {(vr + k) % 256 for k in range(1, half)}  # V(R) < N(S) <= V(R) + PW - 1
    negative = {(vr - k) % 256 for k in range(1, half + 1)}  # V(R) - NW <= N(S) < V(R)
    event = classify_ad(ns, vr, 2 * half, space)
    if ns == vr:
        assert event is (FarmEvent.AD_IN_SEQUENCE if space else FarmEvent.AD_NO_BUFFER)
    elif ns in positive:
        assert event is FarmEvent.AD_POSITIVE_WINDOW
    elif ns in negative:
        assert event is FarmEvent.AD_NEGATIVE_WINDOW
    else:
        assert event is FarmEvent.AD_LOCKOUT_AREA


def test_beyond_the_window_locks_out_and_unlock_clears_it() -> None:
    f = farm(vr=4)
    r = f.on_frame(ad(9))  # V(R) + PW
    assert (r.decision, r.event, r.state) == (Decision.DISCARD, FarmEvent.AD_LOCKOUT_AREA, FarmState.LOCKOUT)
    assert flags(f) == (FarmState.LOCKOUT, 4, True, False, False)
    assert not f.on_frame(ad(4)).accepted  # nothing sequence-controlled passes in lockout
    assert not f.on_frame(ad(5)).accepted
    assert flags(f) == (FarmState.LOCKOUT, 4, True, False, False)
    r = f.on_frame(set_vr(SCID, VCID, 77))  # accepted, counted, but V(R) stays in lockout
    assert r.accepted and r.event is FarmEvent.BC_SET_VR and f.vr == 4 and f.vars.farm_b == 1
    r = f.on_frame(unlock(SCID, VCID))
    assert r.accepted and r.event is FarmEvent.BC_UNLOCK
    assert flags(f) == (FarmState.OPEN, 4, False, False, False) and f.vars.farm_b == 2
    assert f.on_frame(ad(4)).accepted


def test_set_vr() -> None:
    f = farm(vr=10)
    f.on_frame(ad(12))  # retransmit set
    r = f.on_frame(set_vr(SCID, VCID, 200))
    assert r.accepted and flags(f) == (FarmState.OPEN, 200, False, False, False)
    assert f.on_frame(ad(199)).event is FarmEvent.AD_NEGATIVE_WINDOW  # old numbering is behind V(R) now
    assert f.on_frame(ad(200)).accepted and f.vr == 201


def test_no_buffer_space_waits_until_release() -> None:
    f = farm(vr=7)
    r = f.on_frame(ad(7), buffer_available=False)
    assert (r.decision, r.event, r.state) == (Decision.DISCARD, FarmEvent.AD_NO_BUFFER, FarmState.WAIT)
    assert flags(f) == (FarmState.WAIT, 7, False, True, True)
    assert not f.on_frame(ad(7)).accepted  # still Wait until the buffer is released
    assert f.buffer_release().state is FarmState.OPEN
    assert flags(f) == (FarmState.OPEN, 7, False, False, True)  # retransmit stays until the frame comes
    assert f.on_frame(ad(7)).accepted and flags(f) == (FarmState.OPEN, 8, False, False, False)


def test_wait_then_lockout_then_release_then_unlock() -> None:
    f = farm(vr=0)
    f.on_frame(ad(0), buffer_available=False)
    f.on_frame(ad(100))
    assert flags(f) == (FarmState.LOCKOUT, 0, True, True, True)
    assert f.buffer_release().state is FarmState.LOCKOUT
    assert flags(f) == (FarmState.LOCKOUT, 0, True, False, True)
    f.on_frame(unlock(SCID, VCID))
    assert flags(f) == (FarmState.OPEN, 0, False, False, False)


def test_unlock_and_set_vr_leave_wait() -> None:
    for command in (unlock(SCID, VCID), set_vr(SCID, VCID, 9)):
        f = farm(vr=3)
        f.on_frame(ad(3), buffer_available=False)
        assert f.on_frame(command).state is FarmState.OPEN
        assert not f.vars.wait and not f.vars.retransmit


@pytest.mark.parametrize("setup", ["open", "wait", "lockout"])
def test_type_b_always_accepted(setup: str) -> None:
    f = farm(vr=20)
    if setup == "wait":
        f.on_frame(ad(20), buffer_available=False)
    elif setup == "lockout":
        f.on_frame(ad(120))
    before = f.vars
    for _ in range(6):
        r = f.on_frame(bd())
        assert r.accepted and r.event is FarmEvent.BD_FRAME and r.state is before.state
    assert f.vars.farm_b == before.farm_b + 6
    assert (f.vars.vr, f.vars.lockout, f.vars.wait, f.vars.retransmit) == (
        before.vr, before.lockout, before.wait, before.retransmit)


def test_invalid_frames_are_ignored() -> None:
    f = farm(vr=1)
    before = f.vars
    for frame in (ad(1, vcid=6), ad(1, scid=0x2AC), TcFrame(scid=SCID, vcid=VCID, seq=0, data=b"\x01",
                                                            bypass=True, control=True)):
        r = f.on_frame(frame)
        assert (r.decision, r.event) == (Decision.IGNORE, FarmEvent.INVALID)
    assert f.vars == before and f.counters[FarmEvent.INVALID] == 3


def test_state_table_is_complete_and_matches_key_cells() -> None:
    assert len(TRANSITIONS) == 30
    accept_b = [TRANSITIONS[(s, FarmEvent.BD_FRAME)].decision for s in FarmState]
    assert accept_b == [Decision.ACCEPT] * 3
    assert TRANSITIONS[(FarmState.OPEN, FarmEvent.AD_LOCKOUT_AREA)].next_state is FarmState.LOCKOUT
    assert TRANSITIONS[(FarmState.WAIT, FarmEvent.AD_LOCKOUT_AREA)].next_state is FarmState.LOCKOUT
    assert TRANSITIONS[(FarmState.LOCKOUT, FarmEvent.BC_SET_VR)].next_state is FarmState.LOCKOUT
    assert all(TRANSITIONS[(s, FarmEvent.BC_UNLOCK)].next_state is FarmState.OPEN for s in FarmState)
    assert all(TRANSITIONS[(FarmState.LOCKOUT, e)].decision is not Decision.ACCEPT
               for e in (FarmEvent.AD_IN_SEQUENCE, FarmEvent.AD_NO_BUFFER, FarmEvent.AD_POSITIVE_WINDOW))


# CLCW


def test_clcw_initial_word() -> None:
    # type 0, version 00, status 000, COP 01 | VC 000101, spare 00 | all flags 0, FARM-B 00 | V(R) 0
    assert farm().clcw() == bytes.fromhex("01140000")


def test_clcw_lockout_farm_b_no_rf() -> None:
    f = Farm(SCID, 63)
    for ns in range(0x2A):
        assert f.on_frame(TcFrame(scid=SCID, vcid=63, seq=ns, data=b"x")).accepted
    f.on_frame(TcFrame(scid=SCID, vcid=63, seq=0xA0, data=b"x"))  # lockout
    f.on_frame(TcFrame(scid=SCID, vcid=63, seq=0, data=b"x", bypass=True))  # FARM-B 1
    # 0000 0001 | 1111 1100 | no RF 1, no bit lock 0, lockout 1, wait 0, retransmit 0, FARM-B 01, spare 0 | 0x2A
    assert f.clcw(no_rf=True) == bytes.fromhex("01FCA22A")


def test_clcw_wait_retransmit_farm_b_wraps_status() -> None:
    f = Farm(SCID, 0, status=5)
    f.reset(0xFF)
    for _ in range(7):  # FARM-B counter 7: the CLCW carries 11
        f.on_frame(TcFrame(scid=SCID, vcid=0, seq=0, data=b"x", bypass=True))
    f.on_frame(TcFrame(scid=SCID, vcid=0, seq=0xFF, data=b"x"), buffer_available=False)
    # 000 101 01 = 0x15 | VC 0 = 0x00 | 0 1 0 1 1 11 0 = 0x5E | V(R) 0xFF
    assert f.clcw(no_bit_lock=True) == bytes.fromhex("15005EFF")
    assert f.vars.farm_b == 7


def test_clcw_each_bit_alone() -> None:
    base = Clcw(vcid=0, report_value=0, cop_in_effect=0).word()
    assert base == 0
    for fields, word in (({"control_word_type": 1}, 1 << 31), ({"version": 3}, 3 << 29), ({"status": 7}, 7 << 26),
                         ({"cop_in_effect": 3}, 3 << 24), ({"vcid": 63}, 63 << 18), ({"spare0": 3}, 3 << 16),
                         ({"no_rf": True}, 1 << 15), ({"no_bit_lock": True}, 1 << 14), ({"lockout": True}, 1 << 13),
                         ({"wait": True}, 1 << 12), ({"retransmit": True}, 1 << 11), ({"farm_b": 3}, 3 << 9),
                         ({"spare1": 1}, 1 << 8), ({"report_value": 255}, 255)):
        clcw = Clcw(**{"vcid": 0, "report_value": 0, "cop_in_effect": 0, **fields})  # type: ignore[arg-type]
        assert clcw.word() == word, fields
        assert Clcw.decode(clcw.encode()) == clcw


def test_clcw_validation() -> None:
    with pytest.raises(ValueError, match="FARM-B"):
        Clcw(vcid=0, report_value=0, farm_b=4)
    with pytest.raises(ValueError, match="VC ID"):
        Clcw(vcid=64, report_value=0)
    with pytest.raises(DecodeError, match="4 octets"):
        Clcw.decode(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="window"):
        Farm(SCID, VCID, window_width=11)
    with pytest.raises(ValueError, match="window"):
        Farm(SCID, VCID, window_width=256)


# random sequences

actions = st.one_of(
    st.tuples(st.just("ad"), st.integers(0, 255), st.booleans()),
    st.tuples(st.just("bd"), st.just(0), st.just(True)),
    st.tuples(st.just("unlock"), st.just(0), st.just(True)),
    st.tuples(st.just("setvr"), st.integers(0, 255), st.just(True)),
    st.tuples(st.just("invalid"), st.integers(0, 255), st.just(True)),
    st.tuples(st.just("release"), st.just(0), st.just(True)),
)


@settings(max_examples=300, deadline=None)
@given(window=st.integers(1, 127).map(lambda h: 2 * h), start=st.integers(0, 255),
       steps=st.lists(actions, max_size=80))
def test_random_sequences_keep_vr_consistent(window: int, start: int, steps: list[tuple[str, int, bool]]) -> None:
    f = farm(start, window)
    accepted_b = 0
    for kind, value, space in steps:
        before = f.vars
        if kind == "ad":
            r = f.on_frame(ad(value), buffer_available=space)
        elif kind == "bd":
            r = f.on_frame(bd())
        elif kind == "unlock":
            r = f.on_frame(unlock(SCID, VCID))
        elif kind == "setvr":
            r = f.on_frame(set_vr(SCID, VCID, value))
        elif kind == "invalid":
            r = f.on_frame(ad(value, vcid=VCID ^ 1))
        else:
            r = f.buffer_release()
        v = f.vars
        assert r.state is v.state
        # V(R) moves only by one on an accepted in-sequence AD frame, or to SET V(R)'s value outside lockout
        if kind == "ad" and r.accepted:
            assert value == before.vr and v.vr == (before.vr + 1) % 256 and space
            assert before.state is FarmState.OPEN and not v.retransmit
        elif kind == "setvr" and before.state is not FarmState.LOCKOUT:
            assert v.vr == value
        else:
            assert v.vr == before.vr
        if kind in ("bd", "unlock", "setvr"):
            assert r.accepted
            accepted_b += 1
        elif kind != "ad":
            assert not r.accepted
        # flags agree with the state
        assert v.lockout == (v.state is FarmState.LOCKOUT)
        assert v.wait == (v.state is FarmState.WAIT) or (v.state is FarmState.LOCKOUT and v.wait)
        if v.state is FarmState.WAIT:
            assert v.retransmit
        assert v.farm_b == accepted_b % 256
        word = Clcw.decode(f.clcw())
        assert (word.report_value, word.lockout, word.wait, word.retransmit, word.farm_b, word.vcid) == (
            v.vr, v.lockout, v.wait, v.retransmit, accepted_b % 4, VCID)
    assert sum(f.counters.values()) == len(steps)
