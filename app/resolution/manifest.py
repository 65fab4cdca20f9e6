"""The pack's envelope: a ZIP of files, a manifest of their SHA-256, the platform's signature.

The manifest (``manifest.json``) lists every other file with its size and SHA-256 and says
whose pack it is. ``manifest.sig`` holds the Ed25519 signature of the label
``pguard/resolution-pack/v1`` and a newline followed by the manifest's exact bytes, under one
of the platform's published keys (the same ring that signs counter codes; the label keeps a
pack's signature from ever passing for a code's). Anyone holding the published keys document
can check a pack with :func:`check_pack`, without the service.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import qr
from qr import base64url

if TYPE_CHECKING:
    from collections.abc import Mapping

LABEL = b"pguard/resolution-pack/v1\n"
"""Prefix of the signed message: a signature made for a pack passes for nothing else."""
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)
"""Every ZIP member carries this time: the pack's own time is in the manifest, signed."""


class PackRejected(Exception):
    """A pack that does not check: altered, incomplete, or not signed by a published key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def digest(data: bytes) -> str:
    """SHA-256 in hex, as the manifest writes it."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    """Stable, readable JSON: sorted keys, Chinese kept as written, two-space indent."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def manifest_of(files: Mapping[str, bytes], about: Mapping[str, Any]) -> bytes:
    """The manifest of ``files``: ``about`` (whose pack, when, for whom) and each file's hash."""
    listed = {name: {"bytes": len(data), "sha256": digest(data)} for name, data in files.items()}
    return canonical_json({**about, "files": dict(sorted(listed.items()))})


def signed_message(manifest: bytes) -> bytes:
    """What the signature covers."""
    return LABEL + manifest


def signature_file(kid: str, signature: bytes) -> bytes:
    """``manifest.sig``: which key signed, how, and the signature (unpadded base64url)."""
    return canonical_json(
        {
            "algorithm": "Ed25519",
            "kid": kid,
            "signed": LABEL.decode().strip() + " + newline + manifest.json",
            "signature": base64url.encode(signature),
        }
    )


def write(files: Mapping[str, bytes], manifest: bytes, signature: bytes) -> bytes:
    """The ZIP: every file, then the manifest and its signature (DEFLATE, fixed times)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as pack:
        for name, data in [*files.items(), (MANIFEST, manifest), (SIGNATURE, signature)]:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # readable once unpacked (rw-r--r--)
            pack.writestr(info, data)
    return out.getvalue()


@dataclass(frozen=True)
class CheckedPack:
    """A pack whose signature and every file checked: its manifest and its files."""

    manifest: dict[str, Any]
    files: dict[str, bytes]
    kid: str


def _members(data: bytes) -> dict[str, bytes]:
    """Every file of the ZIP by name; a name twice is refused (tools differ on which shows)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as pack:
            names = [info.filename for info in pack.infolist()]
            if len(set(names)) != len(names):
                raise PackRejected("a file name appears twice (which copy a tool shows differs)")
            return {info.filename: pack.read(info) for info in pack.infolist()}
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackRejected(f"not a readable ZIP file ({exc})") from exc


def check_pack(data: bytes, keys: qr.KeyRing) -> CheckedPack:
    """The pack's contents if its signature verifies under ``keys`` and every file matches.

    ``PackRejected`` names the first thing wrong: not a ZIP, no manifest or signature, a
    signature that does not verify (or a revoked key), a file missing, altered or not listed.
    """
    members = _members(data)
    manifest_bytes = members.pop(MANIFEST, None)
    sig_bytes = members.pop(SIGNATURE, None)
    if manifest_bytes is None or sig_bytes is None:
        raise PackRejected(f"{MANIFEST} or {SIGNATURE} is missing")
    try:
        sig = json.loads(sig_bytes)
        kid, signature = str(sig["kid"]), base64url.decode(str(sig["signature"]))
    except (ValueError, KeyError, TypeError, qr.MalformedCode) as exc:
        raise PackRejected(f"{SIGNATURE} cannot be read") from exc
    try:
        keys.verify(kid, signed_message(manifest_bytes), signature)
    except qr.RefusedCode as exc:
        raise PackRejected(f"the signature does not verify under key {kid}") from exc
    try:
        manifest = json.loads(manifest_bytes)
        listed: dict[str, dict[str, Any]] = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:  # signed, yet not ours: refuse, not crash
        raise PackRejected(f"{MANIFEST} cannot be read") from exc
    for name in sorted(set(listed) | set(members)):
        if name not in members:
            raise PackRejected(f"{name} is listed in the manifest but missing")
        if name not in listed:
            raise PackRejected(f"{name} is in the pack but not in the manifest")
        if digest(members[name]) != listed[name]["sha256"]:
            raise PackRejected(f"{name} does not match its SHA-256 in the manifest (altered)")
    return CheckedPack(manifest, members, kid)
