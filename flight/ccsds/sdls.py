"""Space Data Link Security on TC transfer frames (CCSDS 355.0-B-2 style, one fixed profile per association).

A protected TC frame (all lengths fixed by the security association, nothing self-describing):

    HMAC-SHA-256 / AES-CMAC:
      | TC primary header (5) | SPI (2) | SN (4) | frame data (n)        | MAC (16) | FECF (2) |
    AES-GCM:
      | TC primary header (5) | SPI (2) | IV (12) | SN (4) | ciphertext (n) | tag (16) | FECF (2) |

SPI, SN and IV are big-endian. The frame length field of the primary header counts the whole protected frame
(length - 1), and the FECF (CRC-16/CCITT-FALSE) covers everything before it, the MAC included.

What is authenticated (the "MAC coverage"), exactly, octet for octet:
    primary header (5 octets as transmitted, with the protected frame's length field; no bit masked)
    || security header (SPI || SN, or SPI || IV || SN for GCM)
    || frame data field (the plaintext for HMAC and CMAC; for GCM the ciphertext is authenticated by GCM,
       the header and security header being its additional authenticated data)
Not authenticated: the MAC itself and the FECF. The HMAC-SHA-256 output is truncated to its first 16 octets;
the AES-CMAC and GCM tags are 16 octets.

GCM IV: SPI (2) || 00 00 || SN as 8 octets (a 4-octet fixed field and an 8-octet invocation field, the
deterministic construction of NIST SP 800-38D). The receiver derives it from SPI and SN and rejects a frame
whose transmitted IV differs. A strictly increasing SN under one SPI never repeats an IV; an SN of 2**32 - 1
is the last one: protect refuses to go further (rekey, or reset the counters with a new key).

Receiving (verify) checks, in this order, and returns the first failure (never raises):
    length sanity (buffer within the TC limits, length field = buffer length, room for the security fields
    and one data octet), the FECF, a known SPI, an installed key, the IV (GCM), the MAC (constant-time
    compare), then anti-replay: last accepted SN < SN <= last accepted SN + window.
The window (the last accepted SN) advances only for a frame whose MAC verified and whose SN passed.
Every outcome is counted per reason: in the association's counters once the SPI is known, in the endpoint's
counters before that (BAD_LENGTH, BAD_FECF, UNKNOWN_SPI).
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC

from flight.ccsds.crc import crc16
from flight.ccsds.keystore import KeyOpStatus, KeyState, KeyStore
from flight.ccsds.tc_frame import FECF_LEN, HEADER_LEN, MAX_FRAME_LEN

SPI_LEN = 2
SN_LEN = 4
IV_LEN = 12
MAC_LEN = 16
SN_MAX = (1 << (8 * SN_LEN)) - 1
SPI_MAX = 0xFFFF
DEFAULT_WINDOW = 1024

Buffer = bytes | bytearray | memoryview


class Algorithm(IntEnum):
    HMAC_SHA256 = 1  # authentication only, MAC = HMAC-SHA-256 truncated to 16 octets, 32-octet key
    AES_CMAC = 2  # authentication only, 16-octet CMAC, AES-128/192/256 key
    AES_GCM = 3  # authenticated encryption, 12-octet IV, 16-octet tag, AES-128/192/256 key


KEY_LENGTHS: dict[Algorithm, tuple[int, ...]] = {
    Algorithm.HMAC_SHA256: (32,),
    Algorithm.AES_CMAC: (16, 24, 32),
    Algorithm.AES_GCM: (16, 24, 32),
}


class Reason(IntEnum):
    """Outcome of verify. OK is the only acceptance."""

    OK = 0
    BAD_LENGTH = 1  # too short, too long, or the length field disagrees with the buffer
    BAD_FECF = 2  # CRC error: corrupted in transit
    UNKNOWN_SPI = 3  # no security association with this SPI
    NO_KEY = 4  # the association's key is absent or zeroized
    BAD_IV = 5  # GCM: the transmitted IV is not the one derived from SPI and SN
    BAD_MAC = 6  # authentication failed (forged, wrong key, modified)
    REPLAY = 7  # SN not above the last accepted: a replayed or reordered (older) frame
    OUT_OF_WINDOW = 8  # SN more than the window above the last accepted


def _zero_counts() -> dict[Reason, int]:
    return dict.fromkeys(Reason, 0)


@dataclass(frozen=True)
class VerifyResult:
    reason: Reason
    spi: int | None = None  # None when the frame was rejected before its SPI could be read
    sn: int | None = None  # the frame's sequence number, once read
    frame: bytes = b""  # OK only: the clear TC frame (header with its length field fixed, data, new FECF)
    data: bytes = b""  # OK only: the frame data field in clear

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK


@dataclass(frozen=True)
class SaParams:
    """The static part of a security association."""

    spi: int
    algorithm: Algorithm
    window: int = DEFAULT_WINDOW  # largest accepted jump of SN above the last accepted one

    def __post_init__(self) -> None:
        if not 0 <= self.spi <= SPI_MAX:
            raise ValueError(f"SPI {self.spi} outside 0..{SPI_MAX}")
        if not isinstance(self.algorithm, Algorithm):
            raise ValueError(f"algorithm {self.algorithm!r} is not an sdls.Algorithm")
        if not 1 <= self.window <= SN_MAX:
            raise ValueError(f"anti-replay window {self.window} outside 1..{SN_MAX}")

    @property
    def header_len(self) -> int:
        """Security header octets: SPI, IV (GCM), SN."""
        return SPI_LEN + (IV_LEN if self.algorithm is Algorithm.AES_GCM else 0) + SN_LEN

    @property
    def overhead(self) -> int:
        """Octets protect adds to a frame."""
        return self.header_len + MAC_LEN

    @property
    def max_data_len(self) -> int:
        return MAX_FRAME_LEN - HEADER_LEN - self.overhead - FECF_LEN


def gcm_iv(spi: int, sn: int) -> bytes:
    """The 12-octet GCM IV of a frame: SPI (2) || 00 00 || SN (8)."""
    return spi.to_bytes(2, "big") + b"\x00\x00" + sn.to_bytes(8, "big")


def _mac(algorithm: Algorithm, key: bytes, message: bytes) -> bytes:
    if algorithm is Algorithm.HMAC_SHA256:
        h = crypto_hmac.HMAC(key, hashes.SHA256())
        h.update(message)
        return h.finalize()[:MAC_LEN]
    c = CMAC(algorithms.AES(key))
    c.update(message)
    return c.finalize()


def _with_length(header: Buffer, total: int) -> bytes:
    """The 5-octet primary header with its frame length field set for a frame of total octets."""
    h = bytearray(header[:HEADER_LEN])
    h[2] = (h[2] & 0xFC) | (((total - 1) >> 8) & 0x3)
    h[3] = (total - 1) & 0xFF
    return bytes(h)


def _length_field(frame: Buffer) -> int:
    return ((frame[2] & 0x3) << 8 | frame[3]) + 1


def _frame_sanity(frame: Buffer) -> Reason | None:
    """BAD_LENGTH or BAD_FECF for a buffer that cannot be a TC frame carrying an SPI, else None."""
    n = len(frame)
    if n < HEADER_LEN + SPI_LEN + FECF_LEN or n > MAX_FRAME_LEN or _length_field(frame) != n:
        return Reason.BAD_LENGTH
    if crc16(frame) != 0:
        return Reason.BAD_FECF
    return None


class SecurityAssociation:
    """One SPI: algorithm, active key (by id, in a KeyStore), transmit counter and anti-replay state.

    Ground side: protect(). Flight side: verify(). Counters count every verify outcome by Reason.
    """

    def __init__(self, params: SaParams, keys: KeyStore, key_id: int, *, last_rx_sn: int = 0,
                 next_tx_sn: int = 1) -> None:
        if not 0 <= last_rx_sn <= SN_MAX or not 0 <= next_tx_sn <= SN_MAX + 1:
            raise ValueError(f"sequence numbers outside 0..{SN_MAX}")
        self.params = params
        self._keys = keys
        self._key_id = key_id
        self.last_rx_sn = last_rx_sn
        self.next_tx_sn = next_tx_sn
        self.counters = _zero_counts()

    @property
    def spi(self) -> int:
        return self.params.spi

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def key_store(self) -> KeyStore:
        return self._keys

    def activate(self, key_id: int) -> KeyOpStatus:
        """Use the key under key_id from now on (sequence numbers carry on)."""
        state = self._keys.state(key_id)
        if state is KeyState.ABSENT:
            return KeyOpStatus.UNKNOWN_KEY_ID
        if state is KeyState.ZEROIZED:
            return KeyOpStatus.KEY_ZEROIZED
        if self._keys.key_length(key_id) not in KEY_LENGTHS[self.params.algorithm]:
            return KeyOpStatus.BAD_KEY_LENGTH
        self._key_id = key_id
        return KeyOpStatus.OK

    def _key(self) -> bytes | None:
        key = self._keys.material(self._key_id)
        if key is None or len(key) not in KEY_LENGTHS[self.params.algorithm]:
            return None
        return key

    # ground side

    def protect(self, frame_header_and_data: Buffer, sn: int | None = None) -> bytes:
        """The protected frame (with FECF) for a clear TC frame given without its FECF (TcFrame.encode(fecf=False)).

        sn None takes the association's next transmit SN and advances it. ValueError for a frame that is not
        a TC frame without FECF, data too long to protect, an exhausted or out-of-range SN, or no usable key.
        """
        p = self.params
        clear = bytes(frame_header_and_data)
        if len(clear) < HEADER_LEN + 1 or _length_field(clear) != len(clear):
            raise ValueError(f"protect takes a TC frame without FECF: {len(clear)} octets, length field says "
                             f"{_length_field(clear) if len(clear) >= HEADER_LEN else 'nothing'}")
        data = clear[HEADER_LEN:]
        if len(data) > p.max_data_len:
            raise ValueError(f"{len(data)} data octets, at most {p.max_data_len} fit a protected TC frame "
                             f"(SPI {p.spi}): split the data")
        use_counter = sn is None
        seq = self.next_tx_sn if sn is None else sn
        if not 1 <= seq <= SN_MAX:
            raise ValueError(f"sequence number {seq} outside 1..{SN_MAX} on SPI {p.spi}: rekey and reset the SA")
        key = self._key()
        if key is None:
            raise ValueError(f"SPI {p.spi}: key id {self._key_id} is absent, zeroized or of the wrong length")
        total = HEADER_LEN + p.overhead + len(data) + FECF_LEN
        header = _with_length(clear, total)
        spi_b, sn_b = p.spi.to_bytes(SPI_LEN, "big"), seq.to_bytes(SN_LEN, "big")
        if p.algorithm is Algorithm.AES_GCM:
            iv = gcm_iv(p.spi, seq)
            aad = header + spi_b + iv + sn_b
            body = AESGCM(key).encrypt(iv, data, aad)  # ciphertext || 16-octet tag
            out = aad + body
        else:
            authenticated = header + spi_b + sn_b + data
            out = authenticated + _mac(p.algorithm, key, authenticated)
        if use_counter:
            self.next_tx_sn = seq + 1
        return out + crc16(out).to_bytes(FECF_LEN, "big")

    # flight side

    def verify(self, frame: Buffer) -> VerifyResult:
        """Check one protected frame (FECF included); the first failing check's Reason, counted."""
        result = self._verify(bytes(frame))
        self.counters[result.reason] += 1
        return result

    def _verify(self, raw: bytes) -> VerifyResult:
        p = self.params
        sanity = _frame_sanity(raw)
        if sanity is not None:
            return VerifyResult(sanity)
        if len(raw) < HEADER_LEN + p.overhead + 1 + FECF_LEN:
            return VerifyResult(Reason.BAD_LENGTH)
        spi = int.from_bytes(raw[HEADER_LEN:HEADER_LEN + SPI_LEN], "big")
        if spi != p.spi:
            return VerifyResult(Reason.UNKNOWN_SPI, spi=spi)
        sn_at = HEADER_LEN + p.header_len - SN_LEN
        sn = int.from_bytes(raw[sn_at:sn_at + SN_LEN], "big")
        key = self._key()
        if key is None:
            return VerifyResult(Reason.NO_KEY, spi=spi, sn=sn)
        body_at = HEADER_LEN + p.header_len
        mac_at = len(raw) - FECF_LEN - MAC_LEN
        authenticated = raw[:mac_at]
        if p.algorithm is Algorithm.AES_GCM:
            iv = raw[HEADER_LEN + SPI_LEN:HEADER_LEN + SPI_LEN + IV_LEN]
            if not _hmac.compare_digest(iv, gcm_iv(spi, sn)):
                return VerifyResult(Reason.BAD_IV, spi=spi, sn=sn)
            try:
                data = AESGCM(key).decrypt(iv, raw[body_at:mac_at + MAC_LEN], raw[:body_at])
            except InvalidTag:
                return VerifyResult(Reason.BAD_MAC, spi=spi, sn=sn)
        else:
            expected = _mac(p.algorithm, key, authenticated)
            if not _hmac.compare_digest(expected, raw[mac_at:mac_at + MAC_LEN]):
                return VerifyResult(Reason.BAD_MAC, spi=spi, sn=sn)
            data = raw[body_at:mac_at]
        if sn <= self.last_rx_sn:
            return VerifyResult(Reason.REPLAY, spi=spi, sn=sn)
        if sn - self.last_rx_sn > p.window:
            return VerifyResult(Reason.OUT_OF_WINDOW, spi=spi, sn=sn)
        self.last_rx_sn = sn
        clear = _with_length(raw, HEADER_LEN + len(data) + FECF_LEN) + data
        return VerifyResult(Reason.OK, spi=spi, sn=sn, frame=clear + crc16(clear).to_bytes(FECF_LEN, "big"),
                            data=data)

    def __repr__(self) -> str:
        p = self.params
        return (f"SecurityAssociation(spi={p.spi}, algorithm={p.algorithm.name}, key_id={self._key_id}, "
                f"window={p.window}, last_rx_sn={self.last_rx_sn}, next_tx_sn={self.next_tx_sn})")

    __str__ = __repr__


class SdlsEndpoint:
    """The security associations of one end of the link and their key store: verify dispatches by SPI.

    Key management (install, activate, zeroize, rotate) are pure in-memory operations returning a KeyOpStatus,
    for the command dispatcher.
    """

    def __init__(self, keys: KeyStore, associations: Iterable[SecurityAssociation] = ()) -> None:
        self.keys = keys
        self.associations: dict[int, SecurityAssociation] = {}
        for sa in associations:
            self.add(sa)
        self.counters = _zero_counts()  # rejections before an association is known

    def add(self, sa: SecurityAssociation) -> None:
        if sa.spi in self.associations:
            raise ValueError(f"SPI {sa.spi} already has a security association")
        if sa.key_store is not self.keys:
            raise ValueError(f"SPI {sa.spi}: the association uses another key store than the endpoint")
        self.associations[sa.spi] = sa

    def protect(self, spi: int, frame_header_and_data: Buffer, sn: int | None = None) -> bytes:
        sa = self.associations.get(spi)
        if sa is None:
            raise ValueError(f"no security association with SPI {spi}")
        return sa.protect(frame_header_and_data, sn)

    def verify(self, frame: Buffer) -> VerifyResult:
        raw = bytes(frame)
        sanity = _frame_sanity(raw)
        if sanity is not None:
            self.counters[sanity] += 1
            return VerifyResult(sanity)
        spi = int.from_bytes(raw[HEADER_LEN:HEADER_LEN + SPI_LEN], "big")
        sa = self.associations.get(spi)
        if sa is None:
            self.counters[Reason.UNKNOWN_SPI] += 1
            return VerifyResult(Reason.UNKNOWN_SPI, spi=spi)
        return sa.verify(raw)

    # key management

    def install_key(self, key_id: int, key: Buffer) -> KeyOpStatus:
        return self.keys.install(key_id, key)

    def activate_key(self, spi: int, key_id: int) -> KeyOpStatus:
        sa = self.associations.get(spi)
        if sa is None:
            return KeyOpStatus.UNKNOWN_SPI
        return sa.activate(key_id)

    def zeroize_key(self, key_id: int) -> KeyOpStatus:
        """Zeroize a key no association uses (activate another key first)."""
        if any(sa.key_id == key_id for sa in self.associations.values()) and key_id in self.keys:
            return KeyOpStatus.KEY_IN_USE
        return self.keys.zeroize(key_id)

    def rotate_key(self, spi: int, new_key_id: int, key: Buffer) -> KeyOpStatus:
        """Install key under new_key_id, activate it for spi, zeroize the old key if no other SPI uses it.
        All or nothing: on a failed install or activation nothing changes (a failed activation zeroizes the
        just-installed key)."""
        sa = self.associations.get(spi)
        if sa is None:
            return KeyOpStatus.UNKNOWN_SPI
        old = sa.key_id
        status = self.keys.install(new_key_id, key)
        if status is not KeyOpStatus.OK:
            return status
        status = sa.activate(new_key_id)
        if status is not KeyOpStatus.OK:
            self.keys.zeroize(new_key_id)
            return status
        if old != new_key_id and not any(a.key_id == old for a in self.associations.values()):
            self.keys.zeroize(old)
        return KeyOpStatus.OK

    def __repr__(self) -> str:
        return f"SdlsEndpoint(spis={sorted(self.associations)}, keys={self.keys!r})"

    __str__ = __repr__
