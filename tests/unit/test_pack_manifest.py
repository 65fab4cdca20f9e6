"""The resolution pack's envelope: signed manifest, every file by digest, checked offline."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

import qr
from app.resolution import manifest
from app.resolution.manifest import PackRejected, check_pack

FILES = {"cards.csv": "\ufeffcard_id,owed_fen\r\nc1,100\r\n".encode(), "ledger.json": b"{}\n"}


def _keys() -> tuple[qr.KeyRing, qr.KeyPair]:
    pair = qr.generate_key()
    return qr.KeyRing([pair.record()], signer=(pair.kid, pair.private_key)), pair


def _pack(ring: qr.KeyRing, files: dict[str, bytes] = FILES, *, label: bool = True) -> bytes:
    body = manifest.manifest_of(files, {"merchant_id": "m", "owed_fen": 100})
    kid, signature = ring.sign(manifest.signed_message(body) if label else body)
    return manifest.write(files, body, manifest.signature_file(kid, signature))


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as pack:
        for name, data in members.items():
            pack.writestr(name, data)
    return out.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as pack:
        return {info.filename: pack.read(info) for info in pack.infolist()}


def test_a_signed_pack_checks_with_the_published_document_only() -> None:
    ring, pair = _keys()
    data = _pack(ring)
    published = qr.keyring_from_document(qr.public_keys_document([pair.record()]))
    checked = check_pack(data, published)
    assert checked.files == FILES
    assert checked.kid == pair.kid
    assert checked.manifest["owed_fen"] == 100
    assert checked.manifest["files"]["ledger.json"] == {
        "bytes": 3,
        "sha256": manifest.digest(b"{}\n"),
    }
    assert data == _pack(ring)  # Ed25519 signs deterministically and the ZIP's times are fixed
    assert _members(data).keys() == {"cards.csv", "ledger.json", "manifest.json", "manifest.sig"}


def test_a_pack_is_refused_for_anything_added_missing_or_altered() -> None:
    ring, _ = _keys()
    members = _members(_pack(ring))
    extra = _zip({**members, "extra.csv": b"x"})
    with pytest.raises(
        PackRejected, match=re.escape("extra.csv is in the pack but not in the manifest")
    ):
        check_pack(extra, ring)
    missing = _zip({k: v for k, v in members.items() if k != "ledger.json"})
    with pytest.raises(
        PackRejected, match=re.escape("ledger.json is listed in the manifest but missing")
    ):
        check_pack(missing, ring)
    with pytest.raises(PackRejected, match=re.escape("manifest.json or manifest.sig is missing")):
        check_pack(_zip({k: v for k, v in members.items() if k != "manifest.sig"}), ring)
    with pytest.raises(PackRejected, match=re.escape("manifest.sig cannot be read")):
        check_pack(_zip({**members, "manifest.sig": b"not json"}), ring)
    with pytest.raises(PackRejected, match="not a readable ZIP"):
        check_pack(b"PK\x03\x04 truncated", ring)
    # a forged copy beside the genuine one: which one a tool shows is not for the pack to say
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as pack:
        pack.writestr("cards.csv", b"forged")
        for name, data in members.items():
            pack.writestr(name, data)
    with pytest.raises(PackRejected, match="appears twice"):
        check_pack(twice.getvalue(), ring)


def test_a_signature_without_the_label_or_by_a_revoked_key_does_not_pass() -> None:
    ring, pair = _keys()
    with pytest.raises(PackRejected, match="signature does not verify"):
        check_pack(_pack(ring, label=False), ring)
    revoked = qr.KeyRing([pair.record("revoked")])
    with pytest.raises(PackRejected, match="signature does not verify"):
        check_pack(_pack(ring), revoked)


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": [{"kid": "a"}]}, {"keys": [{"kid": "a", "public_key": "!", "status": "active"}]}],
)
def test_a_keys_document_that_is_not_one_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(qr.InvalidKeyMaterial) as caught:
        qr.keyring_from_document(document)
    assert caught.value.code == "qr-keys-document-invalid"
