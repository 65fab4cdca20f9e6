"""Counter URLs and redemption tokens: the exact format, and every way a code is refused."""

from __future__ import annotations

import re
import string
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

import qr
from qr import base64url, codes

BASE = "https://pguard.example.cn"
MERCHANT = uuid.UUID("3f2b8c1e-5d4a-4b6f-9e21-7c0d8a9b1e42")
OTHER_MERCHANT = uuid.UUID("a1b2c3d4-0000-4000-8000-00000000beef")
CARD = uuid.UUID("0b7e6f3a-1c2d-4e5f-8a9b-c0d1e2f3a4b5")
NOW = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)

KEY = qr.generate_key("k1")
OTHER_KEY = qr.generate_key("k2")
RING = qr.KeyRing([KEY.record(), OTHER_KEY.record()]).with_signer(KEY.kid, KEY.private_key)


def _ring(*, revoked: tuple[str, ...] = ()) -> qr.KeyRing:
    records = [k.record("revoked" if k.kid in revoked else "active") for k in (KEY, OTHER_KEY)]
    return qr.KeyRing(records)


# Counter codes -------------------------------------------------------------------------------


def test_counter_url_has_the_documented_form_and_verifies() -> None:
    url = qr.counter_url(BASE, MERCHANT, RING)
    match = re.fullmatch(
        rf"{re.escape(BASE)}/q/{MERCHANT}\?k=k1&s=(?P<sig>[A-Za-z0-9_-]{{86}})", url
    )
    assert match, url
    signature = base64url.decode(match["sig"])
    # the signed message is the documented one: an outsider can check it with the raw key
    Ed25519PublicKey.from_public_bytes(KEY.public_key_raw).verify(
        signature, b"pguard/counter/v1\n" + str(MERCHANT).encode()
    )
    code = qr.parse_counter_url(url)
    assert code == qr.CounterCode(MERCHANT, "k1", signature)
    qr.verify_counter(code, RING)
    qr.verify_counter(code, _ring())  # the public half is enough
    assert code.url(BASE) == url
    assert qr.counter_url(BASE + "/", str(MERCHANT), RING) == url


def test_from_parts_reads_what_the_route_receives() -> None:
    url = qr.counter_url(BASE, MERCHANT, RING)
    signature_text = url.rpartition("&s=")[2]
    code = qr.CounterCode.from_parts(str(MERCHANT), "k1", signature_text)
    assert code == qr.parse_counter_url(url)
    qr.verify_counter(code, RING)


def test_base_url_with_a_path_prefix_and_a_local_development_host() -> None:
    for base in ("https://pguard.example.cn/app", "http://127.0.0.1:8000", "http://localhost"):
        url = qr.counter_url(base, MERCHANT, RING)
        assert url.startswith(base + "/q/")
        assert qr.parse_counter_url(url, base_url=base).merchant_id == MERCHANT
        assert qr.parse_counter_url(url).merchant_id == MERCHANT


@pytest.mark.parametrize(
    "base",
    ["http://pguard.example.cn", "ftp://pguard.example.cn", "https://", "pguard.example.cn",
     "https://user@pguard.example.cn", "https://pguard.example.cn/?x=1", "https://a.cn/#top"],
)  # fmt: skip
def test_counter_url_refuses_an_unsafe_base(base: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        qr.counter_url(base, MERCHANT, RING)


def test_parse_with_base_url_refuses_another_site() -> None:
    url = qr.counter_url("https://pguard-example.cn.evil.test", MERCHANT, RING)
    qr.verify_counter(qr.parse_counter_url(url), RING)  # genuine signature, wrong host
    with pytest.raises(qr.MalformedCode):
        qr.parse_counter_url(url, base_url=BASE)
    with pytest.raises(qr.MalformedCode):
        qr.parse_counter_url(qr.counter_url(BASE + "/x", MERCHANT, RING), base_url=BASE)


def test_other_merchants_signature_moved_onto_this_merchant_is_refused() -> None:
    theirs = qr.parse_counter_url(qr.counter_url(BASE, OTHER_MERCHANT, RING))
    swapped = qr.CounterCode(MERCHANT, theirs.kid, theirs.signature)
    with pytest.raises(qr.BadSignature):
        qr.verify_counter(qr.parse_counter_url(swapped.url(BASE)), RING)


def test_one_character_changed_in_the_url_signature_is_refused() -> None:
    url = qr.counter_url(BASE, MERCHANT, RING)
    head, _, signature_text = url.rpartition("=")
    for index in range(len(signature_text) - 1):  # the last character also holds padding bits
        replacement = "A" if signature_text[index] != "A" else "B"
        tampered = f"{head}={signature_text[:index]}{replacement}{signature_text[index + 1 :]}"
        with pytest.raises(qr.BadSignature):
            qr.verify_counter(qr.parse_counter_url(tampered), RING)


def test_counter_code_under_revoked_or_unknown_key() -> None:
    code = qr.parse_counter_url(qr.counter_url(BASE, MERCHANT, RING))
    with pytest.raises(qr.RevokedKey):
        qr.verify_counter(code, _ring(revoked=("k1",)))
    with pytest.raises(qr.UnknownKey):
        qr.verify_counter(code, qr.KeyRing([OTHER_KEY.record()]))


def _good_url() -> str:
    return qr.counter_url(BASE, MERCHANT, RING)


def _sig() -> str:
    return _good_url().rpartition("&s=")[2]


@pytest.mark.parametrize(
    "make",
    [
        lambda: "",
        lambda: "not a url",
        lambda: _good_url().replace("/q/", "/x/"),
        lambda: _good_url().replace("/q/", "/q/extra/"),
        lambda: _good_url().replace("?k=", "/?k="),
        lambda: _good_url().replace("?k=k1&", "?"),
        lambda: _good_url().rpartition("&s=")[0],
        lambda: _good_url() + "&x=1",
        lambda: _good_url() + "&k=k1",
        lambda: _good_url().replace("?k=k1&", "?k=k1&k=k1&"),
        lambda: _good_url() + "#frag",
        lambda: _good_url() + "=",
        lambda: _good_url()[:-1] + "+",
        lambda: _good_url()[:-2],
        lambda: _good_url() + "AA",
        lambda: _good_url().replace("https://", "http://"),
        lambda: _good_url().replace("https://", "ftp://"),
        lambda: _good_url().replace("https://", "https://user@"),
        lambda: _good_url().replace(str(MERCHANT), str(MERCHANT).upper()),
        lambda: _good_url().replace(str(MERCHANT), MERCHANT.hex),
        lambda: _good_url().replace(str(MERCHANT), "42"),
        lambda: _good_url().replace("k=k1", "k=k.1"),
        lambda: _good_url().replace("k=k1", "k="),
        lambda: _good_url().replace("s=", "s= "),
        lambda: "https://[::1/q/x",
        lambda: _good_url() + "x" * 3000,
    ],
)
def test_malformed_counter_urls_are_refused(make: object) -> None:
    assert callable(make)
    with pytest.raises(qr.MalformedCode):
        qr.parse_counter_url(make())


def test_non_canonical_signature_spelling_is_refused() -> None:
    signature = _sig()
    # 86 characters carry 516 bits for 512: the last character's four low bits must be zero
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    index = alphabet.index(signature[-1])
    assert index % 16 == 0
    variant = signature[:-1] + alphabet[index + 1]
    assert base64url.decode(signature[:-1] + alphabet[index]) == base64url.decode(signature)
    with pytest.raises(qr.MalformedCode):
        qr.CounterCode.from_parts(str(MERCHANT), "k1", variant)
    with pytest.raises(qr.MalformedCode):
        base64url.decode("AB")  # 12 bits for one byte: the low four must be zero
    assert base64url.decode("AA") == b"\x00"


def test_from_parts_refuses_short_signatures_and_bad_kids() -> None:
    with pytest.raises(qr.MalformedCode):
        qr.CounterCode.from_parts(str(MERCHANT), "k1", base64url.encode(bytes(63)))
    with pytest.raises(qr.MalformedCode):
        qr.CounterCode.from_parts(str(MERCHANT), "k 1", _sig())
    with pytest.raises(qr.MalformedCode):
        qr.CounterCode.from_parts(str(MERCHANT), "k1", None)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_as_counter_url_raises_only_qr_errors(text: str) -> None:
    with pytest.raises(qr.QrError):
        qr.parse_counter_url(text)
    with pytest.raises(qr.QrError):
        qr.parse_counter_url(BASE + "/q/" + text)


@settings(max_examples=300)
@given(st.text(max_size=60), st.text(max_size=40), st.text(max_size=100))
def test_arbitrary_parts_raise_only_qr_errors(merchant: str, kid: str, signature: str) -> None:
    try:
        code = qr.CounterCode.from_parts(merchant, kid, signature)
    except qr.MalformedCode:
        return
    with pytest.raises(qr.QrError):
        qr.verify_counter(code, RING)


# Redemption tokens ---------------------------------------------------------------------------


def _token(expires_at: datetime = NOW + timedelta(minutes=2), nonce: str = "n0nce-_x") -> str:
    return qr.issue_redemption_token(CARD, MERCHANT, nonce, expires_at, RING)


def test_redemption_round_trip() -> None:
    token = _token()
    assert re.fullmatch(r"r1\.[A-Za-z0-9_-]+\.k1\.[A-Za-z0-9_-]{86}", token), token
    claim = qr.read_redemption_token(token, RING, NOW)
    assert claim == qr.RedemptionClaim(CARD, MERCHANT, "n0nce-_x", NOW + timedelta(minutes=2))
    assert claim.expires_at.tzinfo is not None


def test_expiry_is_kept_to_the_second_rounded_down_and_any_time_zone_works() -> None:
    shanghai = timezone(timedelta(hours=8))
    expires = (NOW + timedelta(seconds=90, microseconds=999_999)).astimezone(shanghai)
    claim = qr.read_redemption_token(_token(expires), RING, NOW)
    assert claim.expires_at == NOW + timedelta(seconds=90)


def test_expired_token_is_refused() -> None:
    token = _token(NOW + timedelta(minutes=2))
    qr.read_redemption_token(token, RING, NOW + timedelta(minutes=2) - timedelta(microseconds=1))
    with pytest.raises(qr.ExpiredCode):
        qr.read_redemption_token(token, RING, NOW + timedelta(minutes=2))
    with pytest.raises(qr.ExpiredCode):
        qr.read_redemption_token(token, RING, NOW + timedelta(days=1))


def test_naive_times_are_refused_as_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _token(datetime(2026, 11, 28, 8, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        qr.read_redemption_token(_token(), RING, datetime(2026, 11, 28, 8, 0))  # noqa: DTZ001


def test_tampered_payload_is_refused_before_expiry_is_looked_at() -> None:
    prefix, payload_text, kid, signature = _token().split(".")
    payload = base64url.decode(payload_text)
    for index in range(len(payload) - 1):  # the last byte is the nonce's: keep it printable
        tampered = payload[:index] + bytes([payload[index] ^ 0x01]) + payload[index + 1 :]
        token = ".".join((prefix, base64url.encode(tampered), kid, signature))
        try:
            refused = qr.read_redemption_token(token, RING, NOW)
        except (qr.BadSignature, qr.MalformedCode):
            continue
        pytest.fail(f"byte {index} changed and still accepted: {refused}")
    # a forged token that would also be expired says "forged", the more serious fault
    later = _token(NOW + timedelta(hours=1))
    _, later_payload, _, _ = later.split(".")
    with pytest.raises(qr.BadSignature):
        qr.read_redemption_token(
            f"{prefix}.{later_payload}.{kid}.{signature}", RING, NOW + timedelta(days=9)
        )


def test_card_of_another_consumer_cannot_be_spliced_in() -> None:
    mine, theirs = (
        _token().split("."),
        qr.issue_redemption_token(
            uuid.uuid4(), MERCHANT, "n0nce-_x", NOW + timedelta(minutes=2), RING
        ).split("."),
    )
    spliced = ".".join((mine[0], theirs[1], mine[2], mine[3]))
    with pytest.raises(qr.BadSignature):
        qr.read_redemption_token(spliced, RING, NOW)


def test_redemption_under_revoked_unknown_or_swapped_key() -> None:
    token = _token()
    with pytest.raises(qr.RevokedKey):
        qr.read_redemption_token(token, _ring(revoked=("k1",)), NOW)
    with pytest.raises(qr.UnknownKey):
        qr.read_redemption_token(token, qr.KeyRing([OTHER_KEY.record()]), NOW)
    with pytest.raises(qr.BadSignature):
        qr.read_redemption_token(token.replace(".k1.", ".k2."), RING, NOW)


def test_counter_signature_is_no_redemption_signature() -> None:
    """The versioned labels keep one kind of code from passing for another."""
    payload = base64url.decode(_token().split(".")[1])
    _, counter_signature = RING.sign(codes.COUNTER_LABEL + payload)
    forged = ".".join(("r1", base64url.encode(payload), "k1", base64url.encode(counter_signature)))
    with pytest.raises(qr.BadSignature):
        qr.read_redemption_token(forged, RING, NOW)


def _valid_parts() -> list[str]:
    return _token().split(".")


@pytest.mark.parametrize(
    "make",
    [
        lambda: "",
        lambda: "r1",
        lambda: "r1...",
        lambda: _token().replace("r1.", "r2.", 1),
        lambda: _token().replace("r1.", "R1.", 1),
        lambda: _token() + ".extra",
        lambda: _token().replace(".k1.", "..", 1),
        lambda: _token().replace(".k1.", ".k 1.", 1),
        lambda: _token() + "=",
        lambda: _token()[:-2],
        lambda: ".".join(("r1", _valid_parts()[1][:40], "k1", _valid_parts()[3])),
        lambda: ".".join(("r1", base64url.encode(bytes(40)), "k1", _valid_parts()[3])),
        lambda: ".".join(("r1", base64url.encode(bytes(40) + b"\xff"), "k1", _valid_parts()[3])),
        lambda: ".".join(("r1", base64url.encode(bytes(40) + b"a" * 65), "k1", _valid_parts()[3])),
        lambda: ".".join(
            ("r1", base64url.encode(bytes(32) + b"\xff" * 8 + b"n"), "k1", _valid_parts()[3])
        ),
        lambda: _token() + "A" * 600,
    ],
)
def test_malformed_tokens_are_refused(make: object) -> None:
    assert callable(make)
    with pytest.raises(qr.MalformedCode):
        qr.read_redemption_token(make(), RING, NOW)


@settings(max_examples=500)
@given(st.text(max_size=400))
def test_arbitrary_text_as_token_raises_only_qr_errors(text: str) -> None:
    with pytest.raises(qr.QrError):
        qr.read_redemption_token(text, RING, NOW)


@settings(max_examples=300)
@given(st.from_regex(r"\Ar1\.[A-Za-z0-9_-]{0,120}\.[A-Za-z0-9_-]{1,10}\.[A-Za-z0-9_-]{0,90}\Z"))
def test_token_shaped_junk_raises_only_qr_errors(text: str) -> None:
    with pytest.raises(qr.QrError):
        qr.read_redemption_token(text, RING, NOW)


@settings(max_examples=100)
@given(
    card=st.uuids(),
    merchant=st.uuids(),
    nonce=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
    seconds=st.integers(min_value=1, max_value=10**6),
)
def test_any_claim_round_trips(
    card: uuid.UUID, merchant: uuid.UUID, nonce: str, seconds: int
) -> None:
    expires = NOW + timedelta(seconds=seconds)
    token = qr.issue_redemption_token(card, merchant, nonce, expires, RING)
    assert len(token) <= codes.MAX_TOKEN_LENGTH
    claim = qr.read_redemption_token(token, RING, NOW)
    assert claim == qr.RedemptionClaim(card, merchant, nonce, expires)


@pytest.mark.parametrize("nonce", ["", "x" * 65, "has space", "点", "a.b"])
def test_issuing_refuses_a_bad_nonce(nonce: str) -> None:
    with pytest.raises(ValueError, match="nonce"):
        _token(nonce=nonce)


def test_redemption_nonces_are_fresh_and_token_safe() -> None:
    nonces = {qr.redemption_nonce() for _ in range(100)}
    assert len(nonces) == 100
    for nonce in nonces:
        assert qr.read_redemption_token(_token(nonce=nonce), RING, NOW).nonce == nonce


def test_six_digit_code_is_zero_padded_and_uses_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_randbelow(bound: int) -> int:
        calls.append(bound)
        return 42

    monkeypatch.setattr(codes.secrets, "randbelow", fake_randbelow)
    assert qr.six_digit_code() == "000042"
    assert calls == [1_000_000]


def test_six_digit_codes_cover_the_range() -> None:
    drawn = [qr.six_digit_code() for _ in range(3000)]
    assert all(re.fullmatch(r"\d{6}", code) for code in drawn)
    assert len(set(drawn)) > 2900
    assert any(code.startswith("0") for code in drawn)  # ~1 - 0.9**3000: zero padding is used
