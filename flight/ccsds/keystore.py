"""Keys for Space Data Link Security (flight/ccsds/sdls.py): a store of secret keys by key id.

The store is pure in-memory state: `install`, `zeroize` and the state queries do no I/O, so the command
dispatcher can call them for key management commands. Only `load_key_file` touches the file system.

Key file format (TOML), one `[[key]]` table per key:

    # skyrack SDLS keys: mode 0600, owner only
    [[key]]
    id = 1                      # key id, 0..65535
    key = "00112233...eeff"     # the key in hex: 16, 24 or 32 octets

The file must not be accessible by group or others (no bit of mode 0o077 set): `load_key_file` refuses it
with a one-line `KeyFileError` naming the mode and the chmod that fixes it, before reading a byte.

Key bytes never appear in a repr, a str or an error message. Each key is held in a bytearray that `zeroize`
overwrites with zeros. Zeroization is best effort in Python: the parsed text of the key file and the
transient copies the `cryptography` library makes while computing a MAC are beyond our reach.
"""

from __future__ import annotations

import os
import stat
import tomllib
from enum import IntEnum
from pathlib import Path

KEY_ID_MAX = 0xFFFF
KEY_LENGTHS = (16, 24, 32)
FORBIDDEN_MODE_BITS = 0o077  # any group or other permission

Buffer = bytes | bytearray | memoryview


class KeyFileError(ValueError):
    """A key file that cannot be loaded; the message is one line and names the fix. Never contains key bytes."""


class KeyOpStatus(IntEnum):
    """Outcome of a key management operation (what a command dispatcher reports back)."""

    OK = 0
    BAD_KEY_ID = 1  # outside 0..65535
    KEY_ID_USED = 2  # install under an id that holds, or held, a key: key ids are never reused
    BAD_KEY_LENGTH = 3  # not 16, 24 or 32 octets, or not the length the algorithm needs
    UNKNOWN_KEY_ID = 4  # no key was ever installed under this id
    KEY_ZEROIZED = 5  # the key under this id has been zeroized
    KEY_IN_USE = 6  # zeroize refused: a security association still uses the key
    UNKNOWN_SPI = 7  # no security association with this SPI


class KeyState(IntEnum):
    ABSENT = 0
    INSTALLED = 1
    ZEROIZED = 2


class KeyStore:
    """Secret keys by key id. Holds no knowledge of which association uses which key (sdls.SdlsEndpoint does)."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[int, bytearray | None] = {}  # None once zeroized

    def install(self, key_id: int, key: Buffer) -> KeyOpStatus:
        if not 0 <= key_id <= KEY_ID_MAX:
            return KeyOpStatus.BAD_KEY_ID
        if key_id in self._keys:
            return KeyOpStatus.KEY_ID_USED
        if len(key) not in KEY_LENGTHS:
            return KeyOpStatus.BAD_KEY_LENGTH
        self._keys[key_id] = bytearray(key)
        return KeyOpStatus.OK

    def zeroize(self, key_id: int) -> KeyOpStatus:
        """Overwrite the key with zeros and forget it; the id stays used (a later install under it is refused)."""
        if key_id not in self._keys:
            return KeyOpStatus.UNKNOWN_KEY_ID
        material = self._keys[key_id]
        if material is None:
            return KeyOpStatus.KEY_ZEROIZED
        for i in range(len(material)):
            material[i] = 0
        self._keys[key_id] = None
        return KeyOpStatus.OK

    def state(self, key_id: int) -> KeyState:
        if key_id not in self._keys:
            return KeyState.ABSENT
        return KeyState.INSTALLED if self._keys[key_id] is not None else KeyState.ZEROIZED

    def key_length(self, key_id: int) -> int | None:
        material = self._keys.get(key_id)
        return None if material is None else len(material)

    def ids(self) -> list[int]:
        """Ids of the installed (not zeroized) keys, sorted."""
        return sorted(k for k, v in self._keys.items() if v is not None)

    def material(self, key_id: int) -> bytes | None:
        """The key bytes for a MAC or cipher call, or None if absent or zeroized. For sdls.py only."""
        key = self._keys.get(key_id)
        return None if key is None else bytes(key)

    def __contains__(self, key_id: object) -> bool:
        return isinstance(key_id, int) and self._keys.get(key_id) is not None

    def __len__(self) -> int:
        return len(self.ids())

    def __repr__(self) -> str:
        zeroized = sorted(k for k, v in self._keys.items() if v is None)
        return f"KeyStore(installed={self.ids()}, zeroized={zeroized})"

    __str__ = __repr__


def parse_key_file(text: str, source: str = "key file") -> KeyStore:
    """A KeyStore from the text of a key file (no permission check: load_key_file does that)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message quotes no values, only positions
        raise KeyFileError(f"{source}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"key"})
    if unknown:
        raise KeyFileError(f"{source}: unknown top-level key(s) {unknown}: expected only [[key]] tables")
    entries = doc.get("key", [])
    if not isinstance(entries, list):
        raise KeyFileError(f"{source}: 'key' must be an array of tables ([[key]])")
    store = KeyStore()
    for n, entry in enumerate(entries):
        where = f"{source}: key[{n}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "key"}:
            raise KeyFileError(f"{where}: needs exactly the fields 'id' and 'key'")
        key_id, hex_key = entry["id"], entry["key"]
        if not isinstance(key_id, int) or isinstance(key_id, bool):
            raise KeyFileError(f"{where}: id must be an integer 0..{KEY_ID_MAX}")
        if not isinstance(hex_key, str):
            raise KeyFileError(f"{where} (id {key_id}): key must be a hex string")
        try:
            material = bytearray.fromhex(hex_key)
        except ValueError:
            raise KeyFileError(f"{where} (id {key_id}): key is not a hex string") from None
        status = store.install(key_id, material)
        for i in range(len(material)):
            material[i] = 0
        if status is KeyOpStatus.BAD_KEY_ID:
            raise KeyFileError(f"{where}: id {key_id} outside 0..{KEY_ID_MAX}")
        if status is KeyOpStatus.KEY_ID_USED:
            raise KeyFileError(f"{where}: id {key_id} appears twice")
        if status is KeyOpStatus.BAD_KEY_LENGTH:
            raise KeyFileError(f"{where} (id {key_id}): key of {len(material)} octets, need 16, 24 or 32")
    return store


def load_key_file(path: str | os.PathLike[str]) -> KeyStore:
    """Read a key file, refusing one that group or others may access (checked on the open descriptor)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise KeyFileError(f"key file {p} is not a regular file")
            if mode & FORBIDDEN_MODE_BITS:
                raise KeyFileError(f"key file {p} has mode {stat.S_IMODE(mode):04o}, accessible by group/others: "
                                   f"run chmod 600 {p}")
            raw = f.read()
    except OSError as exc:
        raise KeyFileError(f"key file {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {p}: not UTF-8 text") from None
    return parse_key_file(text, source=f"key file {p}")
