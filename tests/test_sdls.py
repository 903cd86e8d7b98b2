"""SDLS on TC frames: round trips per algorithm, every rejection with its reason and counter, the anti-replay
window advancing only after the MAC, the key file permission check, keys kept out of reprs, key rotation."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from flight.ccsds.crc import crc16
from flight.ccsds.keystore import KeyFileError, KeyOpStatus, KeyState, KeyStore, load_key_file, parse_key_file
from flight.ccsds.sdls import (
    MAC_LEN,
    SN_MAX,
    Algorithm,
    Reason,
    SaParams,
    SdlsEndpoint,
    SecurityAssociation,
    VerifyResult,
    gcm_iv,
)
from flight.ccsds.tc_frame import TcFrame

KEYS = {
    Algorithm.HMAC_SHA256: bytes(range(0x40, 0x60)),  # 32 octets
    Algorithm.AES_CMAC: bytes(range(0x10, 0x20)),  # AES-128
    Algorithm.AES_GCM: bytes(range(0xA0, 0xC0)),  # AES-256
}
OTHER_KEY = {alg: bytes(b ^ 0x5A for b in key) for alg, key in KEYS.items()}
SPI = 0x0102
ALGS = list(Algorithm)


def store_with(key_id: int, key: bytes) -> KeyStore:
    store = KeyStore()
    assert store.install(key_id, key) is KeyOpStatus.OK
    return store


def pair(alg: Algorithm, window: int = 64, flight_key: bytes | None = None) -> tuple[SdlsEndpoint, SdlsEndpoint]:
    """(ground, flight) endpoints sharing SPI with key id 1."""
    params = SaParams(SPI, alg, window)
    ground_keys = store_with(1, KEYS[alg])
    flight_keys = store_with(1, KEYS[alg] if flight_key is None else flight_key)
    ground = SdlsEndpoint(ground_keys, [SecurityAssociation(params, ground_keys, 1)])
    flight = SdlsEndpoint(flight_keys, [SecurityAssociation(params, flight_keys, 1)])
    return ground, flight


def clear_frame(data: bytes = b"\x11\x22\x33 hello", seq: int = 7) -> bytes:
    return TcFrame(scid=0x2AB, vcid=3, seq=seq, data=data).encode(fecf=False)


def fix_fecf(frame: bytes | bytearray) -> bytes:
    body = bytes(frame[:-2])
    return body + crc16(body).to_bytes(2, "big")


def assert_rejected(ep: SdlsEndpoint, frame: bytes, reason: Reason, *, sa_counter: bool = True) -> VerifyResult:
    sa = ep.associations[SPI]
    last = sa.last_rx_sn
    before_sa, before_ep = dict(sa.counters), dict(ep.counters)
    result = ep.verify(frame)
    assert result.reason is reason and not result.ok
    assert result.frame == b"" and result.data == b""
    assert sa.last_rx_sn == last, "the anti-replay window moved on a rejected frame"
    counters, before = (sa.counters, before_sa) if sa_counter else (ep.counters, before_ep)
    assert counters[reason] == before[reason] + 1
    assert sum(counters.values()) == sum(before.values()) + 1
    other, other_before = (ep.counters, before_ep) if sa_counter else (sa.counters, before_sa)
    assert other == other_before
    return result


# round trips and layout


@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=200), sn=st.integers(1, SN_MAX), seq=st.integers(0, 255))
def test_round_trip(alg: Algorithm, data: bytes, sn: int, seq: int) -> None:
    ground, flight = pair(alg)
    flight.associations[SPI].last_rx_sn = sn - 1
    clear = clear_frame(data, seq)
    protected = ground.protect(SPI, clear, sn)
    hdr = 2 + (12 if alg is Algorithm.AES_GCM else 0) + 4
    assert len(protected) == len(clear) + hdr + MAC_LEN + 2
    assert ((protected[2] & 3) << 8 | protected[3]) + 1 == len(protected)
    assert protected[5:7] == SPI.to_bytes(2, "big")
    assert protected[5 + hdr - 4:5 + hdr] == sn.to_bytes(4, "big")
    assert crc16(protected) == 0
    if alg is Algorithm.AES_GCM:
        assert protected[7:19] == gcm_iv(SPI, sn)
        if len(data) >= 8:
            assert data not in protected
    else:
        assert protected[5 + hdr:5 + hdr + len(data)] == data
    result = flight.verify(protected)
    assert result.ok and (result.spi, result.sn, result.data) == (SPI, sn, data)
    assert result.frame == TcFrame.decode(clear, fecf=False).encode()  # the clear frame, with its FECF
    assert flight.associations[SPI].last_rx_sn == sn
    assert flight.associations[SPI].counters[Reason.OK] == 1


def test_mac_coverage_hmac_is_header_security_header_and_data() -> None:
    ground, _ = pair(Algorithm.HMAC_SHA256)
    protected = ground.protect(SPI, clear_frame(), 5)
    covered = protected[:-2 - MAC_LEN]
    assert covered[5:11] == SPI.to_bytes(2, "big") + (5).to_bytes(4, "big")
    expected = hmac.new(KEYS[Algorithm.HMAC_SHA256], covered, hashlib.sha256).digest()[:16]
    assert protected[-2 - MAC_LEN:-2] == expected


def test_mac_coverage_gcm_aad_is_header_and_security_header() -> None:
    ground, _ = pair(Algorithm.AES_GCM)
    data = b"secret telecommand"
    protected = ground.protect(SPI, clear_frame(data), 9)
    aad, body = protected[:5 + 18], protected[5 + 18:-2]
    assert AESGCM(KEYS[Algorithm.AES_GCM]).decrypt(gcm_iv(SPI, 9), body, aad) == data


def test_protect_uses_and_advances_the_transmit_counter() -> None:
    ground, flight = pair(Algorithm.AES_CMAC)
    sa = ground.associations[SPI]
    frames = [ground.protect(SPI, clear_frame(bytes([i]))) for i in range(3)]
    assert sa.next_tx_sn == 4
    assert [flight.verify(f).sn for f in frames] == [1, 2, 3]


def test_protect_refuses_bad_input() -> None:
    ground, _ = pair(Algorithm.HMAC_SHA256)
    sa = ground.associations[SPI]
    with pytest.raises(ValueError, match="without FECF"):
        ground.protect(SPI, clear_frame()[:-1])  # length field disagrees with the buffer
    with pytest.raises(ValueError, match="split the data"):
        ground.protect(SPI, clear_frame(bytes(sa.params.max_data_len + 1)))
    assert len(ground.protect(SPI, clear_frame(bytes(sa.params.max_data_len)))) == 1024
    with pytest.raises(ValueError, match="rekey"):
        ground.protect(SPI, clear_frame(), SN_MAX + 1)
    with pytest.raises(ValueError, match="rekey"):
        ground.protect(SPI, clear_frame(), 0)
    with pytest.raises(ValueError, match="SPI 9"):
        ground.protect(9, clear_frame())


# rejections: reason, counter, window not advanced


@pytest.mark.parametrize("alg", ALGS)
def test_forged_mac(alg: Algorithm) -> None:
    ground, flight = pair(alg)
    forged = bytearray(ground.protect(SPI, clear_frame(), 1))
    forged[-3] ^= 0x01  # last MAC octet
    assert_rejected(flight, fix_fecf(forged), Reason.BAD_MAC)


@pytest.mark.parametrize("alg", ALGS)
def test_wrong_key(alg: Algorithm) -> None:
    ground, flight = pair(alg, flight_key=OTHER_KEY[alg])
    assert_rejected(flight, ground.protect(SPI, clear_frame(), 1), Reason.BAD_MAC)


def test_unknown_spi_is_counted_by_the_endpoint() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    frame = bytearray(ground.protect(SPI, clear_frame(), 1))
    frame[6] ^= 0xFF
    result = assert_rejected(flight, fix_fecf(frame), Reason.UNKNOWN_SPI, sa_counter=False)
    assert result.spi == SPI ^ 0xFF
    # the association alone counts a foreign SPI in its own counters
    sa = flight.associations[SPI]
    assert sa.verify(fix_fecf(frame)).reason is Reason.UNKNOWN_SPI and sa.counters[Reason.UNKNOWN_SPI] == 1


@pytest.mark.parametrize("alg", ALGS)
def test_replayed_frame(alg: Algorithm) -> None:
    ground, flight = pair(alg)
    frame = ground.protect(SPI, clear_frame(), 1)
    assert flight.verify(frame).ok
    assert_rejected(flight, frame, Reason.REPLAY)


@pytest.mark.parametrize("alg", ALGS)
def test_reordered_older_frame(alg: Algorithm) -> None:
    ground, flight = pair(alg)
    f1, f2, f3 = (ground.protect(SPI, clear_frame(bytes([i]))) for i in range(3))
    assert flight.verify(f1).ok and flight.verify(f3).ok
    assert flight.associations[SPI].last_rx_sn == 3
    assert_rejected(flight, f2, Reason.REPLAY)


def test_beyond_the_window() -> None:
    ground, flight = pair(Algorithm.AES_CMAC, window=10)
    assert_rejected(flight, ground.protect(SPI, clear_frame(), 11), Reason.OUT_OF_WINDOW)
    assert flight.verify(ground.protect(SPI, clear_frame(), 10)).ok
    assert flight.verify(ground.protect(SPI, clear_frame(), 20)).ok


def test_window_advances_only_after_the_mac() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    forged = bytearray(ground.protect(SPI, clear_frame(), 50))
    forged[12] ^= 0x80  # a data bit
    assert_rejected(flight, fix_fecf(forged), Reason.BAD_MAC)
    assert flight.verify(ground.protect(SPI, clear_frame(), 2)).ok  # SN 50 was never taken as accepted


def test_mac_is_checked_before_replay() -> None:
    ground, flight = pair(Algorithm.AES_GCM)
    frame = ground.protect(SPI, clear_frame(), 1)
    assert flight.verify(frame).ok
    tampered = bytearray(frame)
    tampered[-3] ^= 1
    assert_rejected(flight, fix_fecf(tampered), Reason.BAD_MAC)


@pytest.mark.parametrize("alg", ALGS)
def test_truncated_frame(alg: Algorithm) -> None:
    ground, flight = pair(alg)
    frame = ground.protect(SPI, clear_frame(), 1)
    for cut in (1, 2, MAC_LEN, len(frame) - 5, len(frame) - 1, len(frame)):
        assert_rejected(flight, frame[:-cut] if cut < len(frame) else b"", Reason.BAD_LENGTH, sa_counter=False)
    # truncated with a consistent length field and FECF: shorter than the security fields need
    short = bytearray(frame[:5 + 6 + 2])
    short[2], short[3] = 0, len(short) - 1
    assert_rejected(flight, fix_fecf(short), Reason.BAD_LENGTH)
    # MAC cut off but length field and FECF made consistent: the MAC no longer verifies
    chopped = bytearray(frame[:-2 - 4] + b"\0\0")
    chopped[3] -= 4
    assert_rejected(flight, fix_fecf(chopped), Reason.BAD_MAC)


def test_oversized_length_field() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    frame = bytearray(ground.protect(SPI, clear_frame(), 1))
    frame[2] |= 0x03
    frame[3] = 0xFF  # says 1024 octets
    assert_rejected(flight, fix_fecf(frame), Reason.BAD_LENGTH, sa_counter=False)
    assert_rejected(flight, fix_fecf(bytes(frame) + bytes(1024)), Reason.BAD_LENGTH, sa_counter=False)


def test_bad_fecf() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    frame = bytearray(ground.protect(SPI, clear_frame(), 1))
    frame[-1] ^= 0x10
    assert_rejected(flight, bytes(frame), Reason.BAD_FECF, sa_counter=False)


def test_gcm_iv_must_match_the_sequence_number() -> None:
    ground, flight = pair(Algorithm.AES_GCM)
    frame = bytearray(ground.protect(SPI, clear_frame(), 1))
    frame[7 + 11] ^= 0x02  # last IV octet
    assert_rejected(flight, fix_fecf(frame), Reason.BAD_IV)


def test_zeroized_key_means_no_key() -> None:
    ground, flight = pair(Algorithm.AES_CMAC)
    assert flight.keys.zeroize(1) is KeyOpStatus.OK
    assert_rejected(flight, ground.protect(SPI, clear_frame(), 1), Reason.NO_KEY)


@pytest.mark.parametrize("alg", ALGS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_bit_flip_ever_verifies(alg: Algorithm, data: st.DataObject) -> None:
    ground, flight = pair(alg)
    frame = ground.protect(SPI, clear_frame(data.draw(st.binary(min_size=1, max_size=40))), 3)
    nbits = len(frame) * 8
    bits = data.draw(st.sets(st.integers(0, nbits - 1), min_size=1, max_size=4))
    flipped = bytearray(frame)
    for bit in bits:
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
    sa = flight.associations[SPI]
    raw = flight.verify(bytes(flipped))
    assert not raw.ok
    # an attacker also fixes the CRC: only the MAC (or the structure checks) stands in the way
    if any(bit < nbits - 16 for bit in bits):
        fixed = flight.verify(fix_fecf(flipped))
        assert not fixed.ok
    assert sa.last_rx_sn == 0
    assert sa.counters[Reason.OK] == 0
    assert sum(sa.counters.values()) + sum(flight.counters.values()) == 1 + any(bit < nbits - 16 for bit in bits)


# keys: file, repr, rotation


def write_key_file(tmp_path: Path, mode: int, *keys: tuple[int, bytes]) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text("# test keys\n" + "".join(f'[[key]]\nid = {i}\nkey = "{k.hex()}"\n' for i, k in keys))
    os.chmod(path, mode)
    return path


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = write_key_file(tmp_path, 0o644, (1, KEYS[Algorithm.AES_CMAC]))
    with pytest.raises(KeyFileError, match=r"mode 0644.*chmod 600") as exc:
        load_key_file(path)
    message = str(exc.value)
    assert "\n" not in message and KEYS[Algorithm.AES_CMAC].hex() not in message
    for mode in (0o640, 0o604, 0o610, 0o601):
        os.chmod(path, mode)
        with pytest.raises(KeyFileError, match="group/others"):
            load_key_file(path)


def test_key_file_owner_only_is_loaded(tmp_path: Path) -> None:
    path = write_key_file(tmp_path, 0o600, (1, KEYS[Algorithm.AES_CMAC]), (7, KEYS[Algorithm.HMAC_SHA256]))
    store = load_key_file(path)
    assert store.ids() == [1, 7] and len(store) == 2
    assert store.material(7) == KEYS[Algorithm.HMAC_SHA256]


def test_key_file_errors_name_the_entry_not_the_key(tmp_path: Path) -> None:
    secret = "ab" * 15  # 15 octets: a bad length
    for text, match in ((f'[[key]]\nid = 3\nkey = "{secret}"\n', r"key\[0\] \(id 3\): key of 15 octets"),
                        (f'[[key]]\nid = 3\nkey = "{secret}zz"\n', "not a hex string"),
                        (f'[[key]]\nid = 70000\nkey = "{"00" * 16}"\n', "outside"),
                        (f'[[key]]\nid = 1\nkey = "{"00" * 16}"\n[[key]]\nid = 1\nkey = "{"11" * 16}"\n',
                         "appears twice"),
                        ('[[key]]\nid = 1\n', "exactly the fields")):
        with pytest.raises(KeyFileError, match=match) as exc:
            parse_key_file(text)
        assert secret not in str(exc.value)
    with pytest.raises(KeyFileError, match="No such file"):
        load_key_file(tmp_path / "missing.toml")


def test_keys_never_in_repr_or_str() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    key = KEYS[Algorithm.HMAC_SHA256]
    for obj in (ground, flight, ground.keys, ground.associations[SPI], flight.associations[SPI].params):
        for text in (repr(obj), str(obj)):
            assert key.hex() not in text.lower() and repr(key) not in text and key.hex(" ") not in text
    assert repr(ground.keys) == "KeyStore(installed=[1], zeroized=[])"


def test_rotation() -> None:
    ground, flight = pair(Algorithm.AES_GCM)
    new_key = OTHER_KEY[Algorithm.AES_GCM]
    old_frame = ground.protect(SPI, clear_frame(), 1)
    assert flight.verify(old_frame).ok
    for ep in (ground, flight):
        assert ep.zeroize_key(1) is KeyOpStatus.KEY_IN_USE
        assert ep.install_key(2, new_key) is KeyOpStatus.OK
        assert ep.activate_key(SPI, 2) is KeyOpStatus.OK
        held = ep.keys._keys[1]  # the old key's buffer, to see it overwritten
        assert held is not None and any(held)
        assert ep.zeroize_key(1) is KeyOpStatus.OK
        assert not any(held) and ep.keys.state(1) is KeyState.ZEROIZED and ep.keys.material(1) is None
        assert ep.install_key(1, KEYS[Algorithm.AES_GCM]) is KeyOpStatus.KEY_ID_USED
        assert ep.activate_key(SPI, 1) is KeyOpStatus.KEY_ZEROIZED
    frame = ground.protect(SPI, clear_frame(), 2)
    assert flight.verify(frame).ok  # the window carried over
    old_key_store = store_with(1, KEYS[Algorithm.AES_GCM])
    stale = SecurityAssociation(SaParams(SPI, Algorithm.AES_GCM), old_key_store, 1).protect(clear_frame(), 3)
    assert_rejected(flight, stale, Reason.BAD_MAC)


def test_rotate_key_in_one_operation() -> None:
    ground, flight = pair(Algorithm.HMAC_SHA256)
    new_key = OTHER_KEY[Algorithm.HMAC_SHA256]
    assert flight.rotate_key(SPI, 5, KEYS[Algorithm.AES_CMAC]) is KeyOpStatus.BAD_KEY_LENGTH  # 16 octets for HMAC
    assert flight.keys.state(5) is KeyState.ZEROIZED and flight.associations[SPI].key_id == 1
    assert flight.rotate_key(99, 6, new_key) is KeyOpStatus.UNKNOWN_SPI
    assert flight.rotate_key(SPI, 1, new_key) is KeyOpStatus.KEY_ID_USED
    assert ground.rotate_key(SPI, 2, new_key) is KeyOpStatus.OK
    assert flight.rotate_key(SPI, 2, new_key) is KeyOpStatus.OK
    assert flight.keys.ids() == [2] and flight.associations[SPI].key_id == 2
    assert flight.verify(ground.protect(SPI, clear_frame(), 1)).ok
    assert flight.activate_key(SPI, 42) is KeyOpStatus.UNKNOWN_KEY_ID
    assert flight.activate_key(7, 2) is KeyOpStatus.UNKNOWN_SPI
    assert flight.zeroize_key(42) is KeyOpStatus.UNKNOWN_KEY_ID


def test_key_store_install_checks() -> None:
    store = KeyStore()
    assert store.install(-1, bytes(16)) is KeyOpStatus.BAD_KEY_ID
    assert store.install(0x10000, bytes(16)) is KeyOpStatus.BAD_KEY_ID
    assert store.install(1, bytes(15)) is KeyOpStatus.BAD_KEY_LENGTH
    assert store.install(1, bytes(16)) is KeyOpStatus.OK and 1 in store
    assert store.zeroize(1) is KeyOpStatus.OK and 1 not in store
    assert store.zeroize(1) is KeyOpStatus.KEY_ZEROIZED


def test_sa_params_validation() -> None:
    with pytest.raises(ValueError, match="SPI"):
        SaParams(0x10000, Algorithm.AES_CMAC)
    with pytest.raises(ValueError, match="window"):
        SaParams(1, Algorithm.AES_CMAC, window=0)
    store = store_with(1, KEYS[Algorithm.AES_CMAC])
    with pytest.raises(ValueError, match="already"):
        SdlsEndpoint(store, [SecurityAssociation(SaParams(1, Algorithm.AES_CMAC), store, 1)] * 2)
