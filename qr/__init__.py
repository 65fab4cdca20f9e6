"""QR: signed counter and redemption codes and their images (issue 3).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages, and
never the database: the app stores keys and passes plain records in.
"""

from qr.codes import (
    CounterCode,
    RedemptionClaim,
    counter_query,
    counter_url,
    issue_redemption_token,
    parse_counter_url,
    read_redemption_token,
    redemption_nonce,
    six_digit_code,
    verify_counter,
)
from qr.errors import (
    BadSignature,
    ExpiredCode,
    InvalidKeyMaterial,
    KeyStoreError,
    MalformedCode,
    NoSigningKey,
    QrError,
    RefusedCode,
    RevokedKey,
    UnknownKey,
    UnreadableKey,
)
from qr.render import png, poster_pdf, poster_svg, svg
from qr.signing import (
    KeyPair,
    KeyRing,
    KeyStatus,
    PublicKeyRecord,
    generate_key,
    keyring_from_document,
    open_private_key,
    public_keys_document,
    seal_private_key,
)

__all__ = [
    "BadSignature",
    "CounterCode",
    "ExpiredCode",
    "InvalidKeyMaterial",
    "KeyPair",
    "KeyRing",
    "KeyStatus",
    "KeyStoreError",
    "MalformedCode",
    "NoSigningKey",
    "PublicKeyRecord",
    "QrError",
    "RedemptionClaim",
    "RefusedCode",
    "RevokedKey",
    "UnknownKey",
    "UnreadableKey",
    "counter_query",
    "counter_url",
    "generate_key",
    "issue_redemption_token",
    "keyring_from_document",
    "open_private_key",
    "parse_counter_url",
    "png",
    "poster_pdf",
    "poster_svg",
    "public_keys_document",
    "read_redemption_token",
    "redemption_nonce",
    "seal_private_key",
    "six_digit_code",
    "svg",
    "verify_counter",
]
