"""Ed25519 key ring and sealed private keys: what verifies, what is refused, and why."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import qr
from qr import base64url
from qr.signing import KeyPair

MESSAGE = b"pguard/test/v1\nhello"
MASTER = bytes(range(32))


def _ring(
    *pairs: KeyPair, revoked: tuple[str, ...] = (), signer: KeyPair | None = None
) -> qr.KeyRing:
    records = [p.record("revoked" if p.kid in revoked else "active") for p in pairs]
    ring = qr.KeyRing(records)
    return ring if signer is None else ring.with_signer(signer.kid, signer.private_key)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_generated_kid_is_eight_lowercase_base32_characters_and_random() -> None:
    kids = {qr.generate_key().kid for _ in range(50)}
    assert len(kids) == 50
    assert all(re.fullmatch(r"[a-z2-7]{8}", kid) for kid in kids)
    assert qr.generate_key("k-2026_a").kid == "k-2026_a"


@pytest.mark.parametrize("kid", ["", "a.b", "a b", "x" * 33, "ключ", "a/b"])
def test_kid_must_be_short_and_url_safe(kid: str) -> None:
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.generate_key(kid)


def test_sign_verify_round_trip() -> None:
    key = qr.generate_key()
    ring = _ring(key, signer=key)
    kid, signature = ring.sign(MESSAGE)
    assert kid == key.kid == ring.signing_kid
    assert len(signature) == 64
    ring.verify(kid, MESSAGE, signature)
    # a ring without the private key verifies just the same: verifiers need public keys only
    _ring(key).verify(kid, MESSAGE, signature)


def test_signature_by_another_key_is_refused() -> None:
    genuine, other = qr.generate_key(), qr.generate_key()
    ring = _ring(genuine, other)
    _, forged = _ring(genuine, other, signer=other).sign(MESSAGE)
    with pytest.raises(qr.BadSignature):
        ring.verify(genuine.kid, MESSAGE, forged)
    # and a key pair the platform never published cannot sign for a published kid
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(qr.BadSignature):
        ring.verify(genuine.kid, MESSAGE, stranger.sign(MESSAGE))


def test_revoked_key_refuses_even_genuine_signatures() -> None:
    key = qr.generate_key()
    _, signature = _ring(key, signer=key).sign(MESSAGE)
    with pytest.raises(qr.RevokedKey) as refused:
        _ring(key, revoked=(key.kid,)).verify(key.kid, MESSAGE, signature)
    assert "withdrawn" in str(refused.value)


def test_unknown_kid_is_refused() -> None:
    key = qr.generate_key()
    _, signature = _ring(key, signer=key).sign(MESSAGE)
    with pytest.raises(qr.UnknownKey):
        _ring(qr.generate_key()).verify(key.kid, MESSAGE, signature)


def test_any_single_bit_changed_in_signature_or_message_is_refused() -> None:
    key = qr.generate_key()
    ring = _ring(key, signer=key)
    kid, signature = ring.sign(MESSAGE)
    for index in range(len(signature)):
        with pytest.raises(qr.BadSignature):
            ring.verify(kid, MESSAGE, _flip(signature, index))
    for index in range(len(MESSAGE)):
        with pytest.raises(qr.BadSignature):
            ring.verify(kid, _flip(MESSAGE, index), signature)
    for wrong_length in (b"", signature[:-1], signature + b"\x00"):
        with pytest.raises(qr.BadSignature):
            ring.verify(kid, MESSAGE, wrong_length)


def test_refusals_speak_to_the_consumer_and_are_qr_errors() -> None:
    error = qr.BadSignature(reason="technical detail")
    assert str(error) == "This QR code was not issued by Prepaid Guard; do not pay through it."
    assert error.reason == "technical detail"
    refusals = (qr.MalformedCode, qr.BadSignature, qr.UnknownKey, qr.RevokedKey, qr.ExpiredCode)
    for cls in refusals:
        assert issubclass(cls, qr.RefusedCode)
        assert issubclass(cls, qr.QrError)
        assert not issubclass(cls, qr.KeyStoreError)
        assert not hasattr(cls, "status_code")
    for cls in refusals[:-1]:  # every refused counter code tells the consumer not to pay
        assert "do not pay" in str(cls())
    assert "expired" in str(qr.ExpiredCode())
    assert len({cls.code for cls in refusals}) == len(refusals)


def test_rotation_old_codes_verify_while_their_key_is_active_and_die_when_revoked() -> None:
    old, new = qr.generate_key(), qr.generate_key()
    old_kid, old_signature = _ring(old, signer=old).sign(MESSAGE)

    rotated = _ring(old, new, signer=new)
    new_kid, new_signature = rotated.sign(MESSAGE)
    assert new_kid == new.kid
    rotated.verify(old_kid, MESSAGE, old_signature)
    rotated.verify(new_kid, MESSAGE, new_signature)

    after_revocation = _ring(old, new, revoked=(old.kid,), signer=new)
    with pytest.raises(qr.RevokedKey):
        after_revocation.verify(old_kid, MESSAGE, old_signature)
    after_revocation.verify(new_kid, MESSAGE, new_signature)


def test_signer_must_be_published_active_and_the_published_key() -> None:
    key, other = qr.generate_key(), qr.generate_key()
    with pytest.raises(qr.NoSigningKey):
        _ring(key).sign(MESSAGE)
    with pytest.raises(qr.NoSigningKey):
        _ring(key).with_signer(other.kid, other.private_key)
    with pytest.raises(qr.NoSigningKey):
        _ring(key, revoked=(key.kid,)).with_signer(key.kid, key.private_key)
    with pytest.raises(qr.InvalidKeyMaterial):
        _ring(key, other).with_signer(key.kid, other.private_key)
    assert _ring(key).signing_kid is None


def test_records_are_checked_when_loaded() -> None:
    key = qr.generate_key()
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.KeyRing([key.record(), key.record("revoked")])
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.PublicKeyRecord(key.kid, key.public_key_raw[:31])
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.PublicKeyRecord(key.kid, key.public_key_raw, "suspended")  # type: ignore[arg-type]
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.PublicKeyRecord("bad kid", key.public_key_raw)


def test_seal_open_round_trip() -> None:
    key = qr.generate_key()
    sealed = qr.seal_private_key(key.private_key_raw, MASTER, key.kid)
    assert key.private_key_raw not in sealed
    assert sealed != qr.seal_private_key(key.private_key_raw, MASTER, key.kid)  # fresh nonce
    opened = qr.open_private_key(sealed, MASTER, key.kid)
    assert opened.private_bytes_raw() == key.private_key_raw
    kid, signature = _ring(key).with_signer(key.kid, opened).sign(MESSAGE)
    _ring(key).verify(kid, MESSAGE, signature)


def test_wrong_master_key_is_refused_with_a_qr_error() -> None:
    key = qr.generate_key()
    sealed = qr.seal_private_key(key.private_key_raw, MASTER, key.kid)
    for wrong in (bytes(32), _flip(MASTER, 0), _flip(MASTER, 31)):
        with pytest.raises(qr.UnreadableKey):
            qr.open_private_key(sealed, wrong, key.kid)


def test_tampered_blob_or_other_kid_is_refused() -> None:
    key = qr.generate_key()
    sealed = qr.seal_private_key(key.private_key_raw, MASTER, key.kid)
    for index in range(len(sealed)):
        with pytest.raises(qr.UnreadableKey):
            qr.open_private_key(_flip(sealed, index), MASTER, key.kid)
    for damaged in (b"", sealed[:13], sealed[:-1], sealed + b"\x00"):
        with pytest.raises(qr.UnreadableKey):
            qr.open_private_key(damaged, MASTER, key.kid)
    # a sealed key copied onto another key's row does not open: the kid is authenticated
    with pytest.raises(qr.UnreadableKey):
        qr.open_private_key(sealed, MASTER, "otherkid")


def test_master_and_private_key_lengths_are_checked() -> None:
    key = qr.generate_key()
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.seal_private_key(key.private_key_raw, MASTER[:16], key.kid)
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.seal_private_key(key.private_key_raw[:31], MASTER, key.kid)
    with pytest.raises(qr.InvalidKeyMaterial):
        qr.open_private_key(b"\x01" * 60, MASTER + b"\x00", key.kid)


def test_public_keys_document_lets_anyone_verify_offline() -> None:
    active, revoked = qr.generate_key(), qr.generate_key()
    records = [active.record(), revoked.record("revoked")]
    document = json.loads(json.dumps(qr.public_keys_document(records)))
    assert document["algorithm"] == "Ed25519"
    assert [(k["kid"], k["status"], k["algorithm"]) for k in document["keys"]] == [
        (active.kid, "active", "Ed25519"),
        (revoked.kid, "revoked", "Ed25519"),
    ]
    published = {k["kid"]: base64url.decode(k["public_key"]) for k in document["keys"]}
    assert published[active.kid] == active.public_key_raw
    _, signature = _ring(active, signer=active).sign(MESSAGE)
    # an outside verifier with nothing but the document and a stock Ed25519 library
    Ed25519PublicKey.from_public_bytes(published[active.kid]).verify(signature, MESSAGE)
