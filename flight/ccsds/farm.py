"""FARM-1, the receiving half of COP-1 (CCSDS 232.1-B-2), and the CLCW it reports (CCSDS 232.0-B).

States S1 Open, S2 Wait, S3 Lockout. V(R) is the N(S) expected next. The sliding window of width W (even,
2..254) splits the 256 sequence numbers around V(R), with PW = NW = W/2:
    N(S) = V(R)                          in sequence (E1 with buffer space, E2 without)
    V(R) < N(S) <= V(R) + PW - 1         positive window: a frame was lost, ask for retransmission (E3)
    V(R) - NW <= N(S) < V(R)             negative window: already accepted, a duplicate (E4)
    any other N(S)                       lockout area (E5)
all modulo 256. Events E6 (type-BD frame), E7 (UNLOCK), E8 (SET V(R)), E9 (invalid frame), E10 (buffer
release) complete the table. TRANSITIONS below is the state table of 232.1-B-2 section 6 (table 6-1), one entry
per (state, event): the decision, the flag operations in order, the next state. The one cell the standard marks
not applicable, E1 in Wait (Wait means the buffer is full), is treated as E2 in Wait: discard, stay.

The CLCW (4 octets, bit 0 the most significant of the first octet):
    0 control word type (0) | 1-2 CLCW version (00) | 3-5 status field | 6-7 COP in effect (01 = COP-1) |
    8-13 virtual channel ID | 14-15 spare (00) | 16 no RF available | 17 no bit lock | 18 lockout | 19 wait |
    20 retransmit | 21-22 FARM-B counter (its two least significant bits) | 23 spare (0) | 24-31 report value V(R)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from flight.ccsds.errors import DecodeError
from flight.ccsds.tc_frame import ControlCommand, TcFrame, parse_control_command

CLCW_LEN = 4
COP_1 = 1
DEFAULT_WINDOW = 10

Buffer = bytes | bytearray | memoryview


class FarmState(IntEnum):
    OPEN = 1  # S1
    WAIT = 2  # S2
    LOCKOUT = 3  # S3


class FarmEvent(IntEnum):
    AD_IN_SEQUENCE = 1  # E1: type-AD, N(S) = V(R), buffer space available
    AD_NO_BUFFER = 2  # E2: type-AD, N(S) = V(R), no buffer space
    AD_POSITIVE_WINDOW = 3  # E3: type-AD, N(S) in the positive window
    AD_NEGATIVE_WINDOW = 4  # E4: type-AD, N(S) in the negative window
    AD_LOCKOUT_AREA = 5  # E5: type-AD, N(S) outside the window
    BD_FRAME = 6  # E6: type-BD frame
    BC_UNLOCK = 7  # E7: type-BC UNLOCK
    BC_SET_VR = 8  # E8: type-BC SET V(R)
    INVALID = 9  # E9: invalid frame (another VC or spacecraft, unknown control command)
    BUFFER_RELEASE = 10  # E10: the higher layer took the buffered frame


class Decision(IntEnum):
    ACCEPT = 1  # pass the frame on
    DISCARD = 2  # drop the frame
    IGNORE = 3  # drop, no effect at all (E9), or no frame involved (E10)


class Op(IntEnum):
    INC_VR = 1
    SET_VR = 2  # V(R) := the SET V(R) command's value
    INC_FARM_B = 3
    SET_RETRANSMIT = 4
    CLEAR_RETRANSMIT = 5
    SET_WAIT = 6
    CLEAR_WAIT = 7
    SET_LOCKOUT = 8
    CLEAR_LOCKOUT = 9


@dataclass(frozen=True)
class Transition:
    decision: Decision
    ops: tuple[Op, ...]
    next_state: FarmState


_O, _W, _L = FarmState.OPEN, FarmState.WAIT, FarmState.LOCKOUT
_E = FarmEvent
_ACC, _DIS, _IGN = Decision.ACCEPT, Decision.DISCARD, Decision.IGNORE


def _t(decision: Decision, next_state: FarmState, *ops: Op) -> Transition:
    return Transition(decision, ops, next_state)


TRANSITIONS: dict[tuple[FarmState, FarmEvent], Transition] = {
    (_O, _E.AD_IN_SEQUENCE): _t(_ACC, _O, Op.CLEAR_RETRANSMIT, Op.INC_VR),
    (_W, _E.AD_IN_SEQUENCE): _t(_DIS, _W),  # not applicable in 232.1-B-2: treated as E2
    (_L, _E.AD_IN_SEQUENCE): _t(_DIS, _L),
    (_O, _E.AD_NO_BUFFER): _t(_DIS, _W, Op.SET_RETRANSMIT, Op.SET_WAIT),
    (_W, _E.AD_NO_BUFFER): _t(_DIS, _W),
    (_L, _E.AD_NO_BUFFER): _t(_DIS, _L),
    (_O, _E.AD_POSITIVE_WINDOW): _t(_DIS, _O, Op.SET_RETRANSMIT),
    (_W, _E.AD_POSITIVE_WINDOW): _t(_DIS, _W),
    (_L, _E.AD_POSITIVE_WINDOW): _t(_DIS, _L),
    (_O, _E.AD_NEGATIVE_WINDOW): _t(_DIS, _O),
    (_W, _E.AD_NEGATIVE_WINDOW): _t(_DIS, _W),
    (_L, _E.AD_NEGATIVE_WINDOW): _t(_DIS, _L),
    (_O, _E.AD_LOCKOUT_AREA): _t(_DIS, _L, Op.SET_LOCKOUT),
    (_W, _E.AD_LOCKOUT_AREA): _t(_DIS, _L, Op.SET_LOCKOUT),
    (_L, _E.AD_LOCKOUT_AREA): _t(_DIS, _L),
    (_O, _E.BD_FRAME): _t(_ACC, _O, Op.INC_FARM_B),
    (_W, _E.BD_FRAME): _t(_ACC, _W, Op.INC_FARM_B),
    (_L, _E.BD_FRAME): _t(_ACC, _L, Op.INC_FARM_B),
    (_O, _E.BC_UNLOCK): _t(_ACC, _O, Op.INC_FARM_B, Op.CLEAR_RETRANSMIT),
    (_W, _E.BC_UNLOCK): _t(_ACC, _O, Op.INC_FARM_B, Op.CLEAR_RETRANSMIT, Op.CLEAR_WAIT),
    (_L, _E.BC_UNLOCK): _t(_ACC, _O, Op.INC_FARM_B, Op.CLEAR_RETRANSMIT, Op.CLEAR_WAIT, Op.CLEAR_LOCKOUT),
    (_O, _E.BC_SET_VR): _t(_ACC, _O, Op.INC_FARM_B, Op.CLEAR_RETRANSMIT, Op.SET_VR),
    (_W, _E.BC_SET_VR): _t(_ACC, _O, Op.INC_FARM_B, Op.CLEAR_RETRANSMIT, Op.CLEAR_WAIT, Op.SET_VR),
    (_L, _E.BC_SET_VR): _t(_ACC, _L, Op.INC_FARM_B),  # accepted, but V(R) is not set in Lockout
    (_O, _E.INVALID): _t(_IGN, _O),
    (_W, _E.INVALID): _t(_IGN, _W),
    (_L, _E.INVALID): _t(_IGN, _L),
    (_O, _E.BUFFER_RELEASE): _t(_IGN, _O),
    (_W, _E.BUFFER_RELEASE): _t(_IGN, _O, Op.CLEAR_WAIT),
    (_L, _E.BUFFER_RELEASE): _t(_IGN, _L, Op.CLEAR_WAIT),
}
assert len(TRANSITIONS) == len(FarmState) * len(FarmEvent), "the FARM-1 table must cover every state and event"


@dataclass(frozen=True)
class FarmVars:
    """The FARM-1 state variables (everything the CLCW reports, and the state)."""

    state: FarmState = FarmState.OPEN
    vr: int = 0
    lockout: bool = False
    wait: bool = False
    retransmit: bool = False
    farm_b: int = 0  # FARM-B counter, kept modulo 256; the CLCW carries its two low bits

    def __post_init__(self) -> None:
        if not 0 <= self.vr <= 0xFF or not 0 <= self.farm_b <= 0xFF:
            raise ValueError(f"V(R) {self.vr} and FARM-B counter {self.farm_b} must be in 0..255")


def apply(v: FarmVars, event: FarmEvent, new_vr: int = 0) -> tuple[FarmVars, Decision]:
    """One step of the state table: the new variables and the decision. new_vr is SET V(R)'s value."""
    t = TRANSITIONS[(v.state, event)]
    vr, farm_b, lockout, wait, retransmit = v.vr, v.farm_b, v.lockout, v.wait, v.retransmit
    for op in t.ops:
        if op is Op.INC_VR:
            vr = (vr + 1) & 0xFF
        elif op is Op.SET_VR:
            vr = new_vr & 0xFF
        elif op is Op.INC_FARM_B:
            farm_b = (farm_b + 1) & 0xFF
        elif op in (Op.SET_RETRANSMIT, Op.CLEAR_RETRANSMIT):
            retransmit = op is Op.SET_RETRANSMIT
        elif op in (Op.SET_WAIT, Op.CLEAR_WAIT):
            wait = op is Op.SET_WAIT
        else:
            lockout = op is Op.SET_LOCKOUT
    return FarmVars(t.next_state, vr, lockout, wait, retransmit, farm_b), t.decision


def classify_ad(ns: int, vr: int, window_width: int, buffer_available: bool) -> FarmEvent:
    """The event (E1..E5) of a type-AD frame with sequence number ns."""
    half = window_width // 2
    d = (ns - vr) & 0xFF
    if d == 0:
        return FarmEvent.AD_IN_SEQUENCE if buffer_available else FarmEvent.AD_NO_BUFFER
    if d <= half - 1:
        return FarmEvent.AD_POSITIVE_WINDOW
    if d >= 256 - half:
        return FarmEvent.AD_NEGATIVE_WINDOW
    return FarmEvent.AD_LOCKOUT_AREA


@dataclass(frozen=True)
class Clcw:
    """The Communications Link Control Word (the TM frame's OCF for COP-1)."""

    vcid: int
    report_value: int
    lockout: bool = False
    wait: bool = False
    retransmit: bool = False
    farm_b: int = 0  # two bits
    no_rf: bool = False
    no_bit_lock: bool = False
    status: int = 0  # three bits, mission specific
    cop_in_effect: int = COP_1
    control_word_type: int = 0
    version: int = 0
    spare0: int = 0  # bits 14-15
    spare1: int = 0  # bit 23

    def __post_init__(self) -> None:
        for name, value, bits in (("VC ID", self.vcid, 6), ("report value", self.report_value, 8),
                                  ("FARM-B counter", self.farm_b, 2), ("status field", self.status, 3),
                                  ("COP in effect", self.cop_in_effect, 2),
                                  ("control word type", self.control_word_type, 1), ("version", self.version, 2),
                                  ("spare (bits 14-15)", self.spare0, 2), ("spare (bit 23)", self.spare1, 1)):
            if not 0 <= value < (1 << bits):
                raise ValueError(f"CLCW {name} {value} outside 0..{(1 << bits) - 1}")

    def word(self) -> int:
        return ((self.control_word_type << 31) | (self.version << 29) | (self.status << 26)
                | (self.cop_in_effect << 24) | (self.vcid << 18) | (self.spare0 << 16) | (int(self.no_rf) << 15)
                | (int(self.no_bit_lock) << 14) | (int(self.lockout) << 13) | (int(self.wait) << 12)
                | (int(self.retransmit) << 11) | (self.farm_b << 9) | (self.spare1 << 8) | self.report_value)

    def encode(self) -> bytes:
        return struct.pack(">I", self.word())

    @classmethod
    def decode(cls, buf: Buffer) -> Clcw:
        if len(buf) != CLCW_LEN:
            raise DecodeError(f"a CLCW is {CLCW_LEN} octets, got {len(buf)}")
        (w,) = struct.unpack(">I", bytes(buf))
        return cls(vcid=(w >> 18) & 0x3F, report_value=w & 0xFF, lockout=bool(w >> 13 & 1), wait=bool(w >> 12 & 1),
                   retransmit=bool(w >> 11 & 1), farm_b=(w >> 9) & 3, no_rf=bool(w >> 15 & 1),
                   no_bit_lock=bool(w >> 14 & 1), status=(w >> 26) & 7, cop_in_effect=(w >> 24) & 3,
                   control_word_type=w >> 31, version=(w >> 29) & 3, spare0=(w >> 16) & 3, spare1=(w >> 8) & 1)


@dataclass(frozen=True)
class FarmResult:
    decision: Decision
    event: FarmEvent
    state: FarmState  # after the event

    @property
    def accepted(self) -> bool:
        return self.decision is Decision.ACCEPT


class Farm:
    """FARM-1 for one virtual channel: feed it decoded (and, with SDLS, verified) TC frames.

    buffer_available says whether the higher layer can take an in-sequence type-AD frame now; after a
    frame was refused for lack of space (Wait), call buffer_release() once it can.
    """

    def __init__(self, scid: int, vcid: int, window_width: int = DEFAULT_WINDOW, status: int = 0) -> None:
        if not 2 <= window_width <= 254 or window_width % 2:
            raise ValueError(f"FARM sliding window width {window_width}: must be even, 2..254")
        if not 0 <= scid <= 0x3FF or not 0 <= vcid <= 0x3F:
            raise ValueError(f"spacecraft ID {scid} (0..1023) or VC ID {vcid} (0..63) out of range")
        Clcw(vcid=vcid, report_value=0, status=status)  # validates status
        self.scid = scid
        self.vcid = vcid
        self.window_width = window_width
        self.status = status
        self.vars = FarmVars()
        self.counters: dict[FarmEvent, int] = dict.fromkeys(FarmEvent, 0)

    @property
    def state(self) -> FarmState:
        return self.vars.state

    @property
    def vr(self) -> int:
        return self.vars.vr

    def classify(self, frame: TcFrame, buffer_available: bool = True) -> tuple[FarmEvent, int]:
        """(event, SET V(R) value or 0) of a frame, without changing anything."""
        if frame.scid != self.scid or frame.vcid != self.vcid:
            return FarmEvent.INVALID, 0
        if not frame.bypass:
            return classify_ad(frame.seq, self.vars.vr, self.window_width, buffer_available), 0
        if not frame.control:
            return FarmEvent.BD_FRAME, 0
        try:
            command, vr = parse_control_command(frame.data)
        except DecodeError:
            return FarmEvent.INVALID, 0
        return (FarmEvent.BC_UNLOCK, 0) if command is ControlCommand.UNLOCK else (FarmEvent.BC_SET_VR, vr)

    def on_frame(self, frame: TcFrame, buffer_available: bool = True) -> FarmResult:
        event, new_vr = self.classify(frame, buffer_available)
        return self._step(event, new_vr)

    def buffer_release(self) -> FarmResult:
        return self._step(FarmEvent.BUFFER_RELEASE, 0)

    def _step(self, event: FarmEvent, new_vr: int) -> FarmResult:
        self.vars, decision = apply(self.vars, event, new_vr)
        self.counters[event] += 1
        return FarmResult(decision, event, self.vars.state)

    def reset(self, vr: int = 0) -> None:
        """Back to Open with all flags clear (FARM initialization); counters kept."""
        self.vars = replace(FarmVars(), vr=vr)

    def clcw_fields(self, no_rf: bool = False, no_bit_lock: bool = False) -> Clcw:
        v = self.vars
        return Clcw(vcid=self.vcid, report_value=v.vr, lockout=v.lockout, wait=v.wait, retransmit=v.retransmit,
                    farm_b=v.farm_b & 3, no_rf=no_rf, no_bit_lock=no_bit_lock, status=self.status)

    def clcw(self, no_rf: bool = False, no_bit_lock: bool = False) -> bytes:
        """The 4-octet CLCW for the TM OCF. no_rf / no_bit_lock come from the receiver (physical layer)."""
        return self.clcw_fields(no_rf, no_bit_lock).encode()
