"""Encrypt an analysis output folder at rest with a passphrase (``vidlens vault lock|unlock``).

Design, and why:

* **Per-file ``.enc`` files, not one archive.** Each file ``X`` becomes ``X.enc`` in place, so
  ``read_timeline`` decrypts only ``timeline.json.enc`` (not every keyframe), memory stays bounded
  by the largest file, and an interrupted ``lock`` / ``unlock`` leaves a folder that the same
  command simply finishes (each step is one atomic rename). The cost, stated in the README: file
  names, their number (e.g. how many face tracks) and sizes stay visible.
* **AES-256-GCM** (``cryptography``'s ``AESGCM``; no home-made crypto): authenticated, so a wrong
  key or a changed byte is detected, never decrypted into garbage. Each file has a fresh random
  96-bit nonce; its relative path is bound as associated data, so swapping or renaming ``.enc``
  files is detected too.
* **Key from scrypt** (n=2^17, r=8, p=1: 128 MiB, 0.41 s per derivation measured here; a random 16-byte
  salt). Salt and parameters live in ``vault.json`` with an encrypted check token, so a wrong
  passphrase is refused *before* any file is touched.
* **Plaintext goes last.** ``lock`` writes ``X.enc`` (temp file, fsync, rename), reads it back
  and decrypts it, compares with ``X``, and only then deletes ``X``. ``unlock`` first
  authenticates every ``.enc`` file, then restores each one the same way. Deleting a file does
  not shred it: the freed blocks may still be readable on the disk (README, "Privacy").
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import UsageError
from ..files import write_bytes_atomic
from ..timeline import Timeline

__all__ = ["ENCRYPTED_SUFFIX", "VAULT_FILE", "check_passphrase", "folder_state", "is_locked", "lock",
           "read_timeline", "unlock"]

VAULT_FILE = "vault.json"
VAULT_FORMAT = "vidlens.vault/1"
ENCRYPTED_SUFFIX = ".enc"
TIMELINE_FILE = "timeline.json"
TIMELINE_SCHEMA_PREFIX = "vidlens.timeline/"
#: Every encrypted file starts with this, so a vault file is recognisable without the key.
MAGIC = b"VLVAULT1"
NONCE_BYTES = 12
SALT_BYTES = 16
KEY_BYTES = 32
#: scrypt cost (OWASP's minimum for scrypt); stored per vault, so it can grow without breaking old ones.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
#: Upper bounds accepted from a vault.json, so a crafted header cannot demand gigabytes of memory.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
_CHECK_PLAINTEXT = b"vidlens vault key check"
_CHECK_AAD = MAGIC + b"\0check"


@dataclass(frozen=True)
class _Key:
    """The derived AES key of one vault, with the header it was derived from."""

    aead: AESGCM
    header: dict[str, Any]

    def encrypt(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self.aead.encrypt(nonce, data, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Authenticate and decrypt; raises ``InvalidTag`` on a wrong key or changed bytes."""
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
            raise InvalidTag
        nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
        return self.aead.decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES:], aad)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(passphrase: str, header: dict[str, Any]) -> _Key:
    if not passphrase:
        raise UsageError("the passphrase is empty")
    kdf = header["kdf"]
    key = Scrypt(salt=base64.b64decode(kdf["salt"]), length=KEY_BYTES, n=kdf["n"], r=kdf["r"],
                 p=kdf["p"]).derive(passphrase.encode("utf-8"))
    return _Key(AESGCM(key), header)


def _new_key(passphrase: str) -> _Key:
    header = {"format": VAULT_FORMAT, "cipher": "AES-256-GCM",
              "kdf": {"name": "scrypt", "salt": _b64(os.urandom(SALT_BYTES)), "n": SCRYPT_N, "r": SCRYPT_R,
                      "p": SCRYPT_P}}
    key = _derive(passphrase, header)
    header["check"] = _b64(key.encrypt(_CHECK_PLAINTEXT, _CHECK_AAD))
    return key


def _read_header(folder: Path) -> dict[str, Any] | None:
    """The vault header of ``folder``; None when there is none; UsageError when it is not ours or unsafe."""
    path = folder / VAULT_FILE
    if not path.is_file():
        return None
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
        kdf = header["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        ok = (header.get("format") == VAULT_FORMAT and kdf.get("name") == "scrypt" and 2 <= n <= _MAX_N
              and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P)
        base64.b64decode(kdf["salt"], validate=True)
        base64.b64decode(header["check"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise UsageError(f"{VAULT_FILE} is not a {VAULT_FORMAT} header (damaged or not ours)", path=folder)
    return header


def _open(folder: Path, passphrase: str) -> _Key:
    """Derive the key of an existing vault and prove it right on the check token, before anything changes."""
    header = _read_header(folder)
    if header is None:
        raise UsageError("is not locked (no vault.json)", path=folder)
    key = _derive(passphrase, header)
    try:
        key.decrypt(base64.b64decode(header["check"]), _CHECK_AAD)
    except InvalidTag:
        raise UsageError("wrong passphrase (nothing was changed)", path=folder) from None
    return key


def _aad(folder: Path, plain: Path) -> bytes:
    return MAGIC + plain.relative_to(folder).as_posix().encode("utf-8")


def _files(folder: Path, encrypted: bool) -> list[Path]:
    """Regular files under ``folder`` (plaintext or ``.enc``), sorted; temp files and the header excluded.

    A symlink is refused rather than followed: locking must not encrypt (and delete) a file outside the folder.
    """
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise UsageError(f"holds a symbolic link ({path.relative_to(folder)}); refusing to lock or unlock",
                             path=folder)
        if not path.is_file() or path.name.startswith(".") or path == folder / VAULT_FILE:
            continue
        if (path.suffix == ENCRYPTED_SUFFIX) == encrypted:
            found.append(path)
    return found


def _is_timeline(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("schema", "")).startswith(TIMELINE_SCHEMA_PREFIX)


def folder_state(folder: str | Path) -> str | None:
    """``"locked"``, ``"plain"``, or None when ``folder`` is not a vidlens output folder.

    Locked: a vidlens vault header and an encrypted timeline. Plain: a ``timeline.json`` with a
    vidlens timeline schema. This is the one test ``lock`` and ``forget`` use before they change anything.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    try:
        header = _read_header(folder)
    except UsageError:
        header = None
    timeline_enc = folder / (TIMELINE_FILE + ENCRYPTED_SUFFIX)
    if header is not None and timeline_enc.is_file():
        with timeline_enc.open("rb") as handle:
            if handle.read(len(MAGIC)) == MAGIC:
                return "locked"
    return "plain" if _is_timeline(folder / TIMELINE_FILE) else None


def is_locked(folder: str | Path) -> bool:
    """True when ``folder`` holds a vault header (it is locked, or a lock was interrupted)."""
    return (Path(folder) / VAULT_FILE).is_file()


def check_passphrase(folder: str | Path, passphrase: str) -> None:
    """Raise UsageError unless ``passphrase`` opens the vault of ``folder`` (any non-empty one, without a vault)."""
    if not passphrase:
        raise UsageError("the passphrase is empty")
    if is_locked(folder):
        _open(Path(folder), passphrase)


def lock(folder: str | Path, passphrase: str) -> list[Path]:
    """Encrypt every file of the output folder ``folder`` in place; return the ``.enc`` files written.

    Locking a locked folder needs the same passphrase and encrypts what is still plain (a rerun, or
    an interrupted lock). Refuses folders that are not vidlens output folders, and folders holding
    files vidlens did not write (named in the error; nothing is encrypted).
    """
    folder = Path(folder)
    if folder_state(folder) is None and not is_locked(folder):
        raise UsageError("is not a vidlens output folder (no timeline.json with a vidlens schema)", path=folder)
    refuse_foreign(folder)
    plain = _files(folder, encrypted=False)
    if is_locked(folder):
        key = _open(folder, passphrase)
    else:
        key = _new_key(passphrase)
        write_bytes_atomic(folder / VAULT_FILE, json.dumps(key.header, indent=2).encode("utf-8"), fsync=True)
    written = []
    for path in plain:
        data = path.read_bytes()
        aad = _aad(folder, path)
        target = path.with_name(path.name + ENCRYPTED_SUFFIX)
        write_bytes_atomic(target, key.encrypt(data, aad), fsync=True)
        if key.decrypt(target.read_bytes(), aad) != data:  # pragma: no cover - would mean a broken disk or library
            raise UsageError("encrypted copy did not verify; the plaintext was kept", path=target)
        path.unlink()
        written.append(target)
    # the list of encrypted files, so unlock notices one that was deleted meanwhile
    header = dict(key.header)
    names = set(header.get("files", [])) | {p.relative_to(folder).as_posix() for p in written}
    header["files"] = sorted(names)
    write_bytes_atomic(folder / VAULT_FILE, json.dumps(header, indent=2).encode("utf-8"), fsync=True)
    return written


def discard(folder: str | Path, names: set[str]) -> list[str]:
    """Delete the encrypted copies of ``names`` (plain relative paths, e.g. the keyframes of a previous
    analysis) from a locked ``folder`` and from its list of encrypted files; return what was deleted."""
    folder = Path(folder)
    header = _read_header(folder)
    if header is None or not names:
        return []
    from ..outputs import is_output_path

    removed = []
    for rel in sorted(names):
        path = folder / (rel + ENCRYPTED_SUFFIX)
        if is_output_path(rel) and path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(rel)
    listed = [n for n in header.get("files", []) if n[: -len(ENCRYPTED_SUFFIX)] not in names]
    if listed != header.get("files", []):
        header["files"] = listed
        write_bytes_atomic(folder / VAULT_FILE, json.dumps(header, indent=2).encode("utf-8"), fsync=True)
    return removed


def refuse_foreign(folder: Path) -> None:
    """Raise UsageError naming the files of ``folder`` vidlens did not write: lock encrypts (and deletes the
    plaintext of) every file, so a user's own file in an output folder must not be taken along."""
    from ..outputs import foreign_entries  # the analyzers' names; imported late (they import the media stack)

    foreign = foreign_entries(folder)
    if foreign:
        raise UsageError(f"holds files vidlens did not write ({', '.join(foreign)}); move them out first, nothing "
                         "was encrypted", path=folder)


def unlock(folder: str | Path, passphrase: str) -> list[Path]:
    """Decrypt every ``.enc`` file of ``folder`` back in place and remove the vault; return the files restored.

    A wrong passphrase, or any encrypted file that fails authentication, raises UsageError before
    a single file is written.
    """
    folder = Path(folder)
    key = _open(folder, passphrase)
    encrypted = _files(folder, encrypted=True)
    header = _read_header(folder) or {}
    present = {p.relative_to(folder).as_posix() for p in encrypted}
    missing = [name for name in header.get("files", []) if name not in present]
    if missing:
        raise UsageError(f"encrypted file(s) missing: {', '.join(missing)}; nothing was changed", path=folder)
    for path in encrypted:  # authenticate everything first: all or nothing
        try:
            key.decrypt(path.read_bytes(), _aad(folder, path.with_suffix("")))
        except InvalidTag:
            raise UsageError("fails authentication (changed, renamed or from another vault); nothing was "
                             "changed", path=path) from None
    restored = []
    for path in encrypted:
        plain = path.with_suffix("")
        data = key.decrypt(path.read_bytes(), _aad(folder, plain))
        write_bytes_atomic(plain, data, fsync=True)
        if plain.read_bytes() != data:  # pragma: no cover - would mean a broken disk
            raise UsageError("restored file did not verify; the encrypted copy was kept", path=plain)
        path.unlink()
        restored.append(plain)
    (folder / VAULT_FILE).unlink()
    return restored


def read_timeline(folder: str | Path, passphrase: str) -> Timeline:
    """The timeline of a locked output folder, decrypted in memory only (no plaintext touches the disk)."""
    folder = Path(folder)
    key = _open(folder, passphrase)
    path = folder / (TIMELINE_FILE + ENCRYPTED_SUFFIX)
    if not path.is_file():
        raise UsageError(f"has no {path.name}", path=folder)
    try:
        data = key.decrypt(path.read_bytes(), _aad(folder, folder / TIMELINE_FILE))
    except InvalidTag:
        raise UsageError("fails authentication (changed, renamed or from another vault)", path=path) from None
    return Timeline.from_dict(json.loads(data.decode("utf-8")))
