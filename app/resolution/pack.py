"""Build a merchant's resolution pack: what every consumer is owed, and the proof of it.

The UK safeguarding rules ask a payment firm for a resolution pack within 48 hours of
failing; here it is one request. Everything is read in one REPEATABLE READ snapshot, so the
cards, the balances, the ledger's chain head and ``verify``'s verdict describe the same
moment, and the pack is recorded (``resolution_packs``) in the same transaction that signs it.

Who may take one, and what personal data it carries:

* a regulator of the merchant's district (or the city) and the operator: holders' names,
  phone numbers and ID numbers in full, since the pack exists to pay them without the service;
* the insurer of one of the merchant's policies: names, phone numbers masked (``138****5678``)
  and ID numbers masked to their last four characters: enough to match a holder who calls,
  not to build a file of them;
* nobody else (a merchant cannot take its own: it holds its consumers' personal data).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

import escrow
from app.auth.models import Role
from app.clock import SHANGHAI, utcnow
from app.exceptions import Forbidden, NotFound
from app.i18n.formats import money, when
from app.insurance.models import Claim, Policy
from app.insurance.service import insurer_of
from app.merchants.models import Merchant
from app.merchants.service import CUSTODY_FIELD
from app.outbox.models import Insurer
from app.payables.service import payables_of
from app.qrcodes.service import keyring
from app.resolution import manifest
from app.resolution.models import ResolutionPack
from app.security.pii import PiiCipher, mask_phone
from app.settings import get_settings
from app.spreadsheets import inert

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

TAKERS = frozenset({Role.REGULATOR, Role.INSURER, Role.OPERATOR})
"""The roles that may take a pack (the route guards say the same)."""

_CARDS = text("""
    WITH legs AS (
      SELECT card_id,
             coalesce(sum(amount) FILTER (WHERE account = 'claims_pending'), 0) AS claimed,
             coalesce(sum(amount) FILTER (WHERE account = 'payables_cover'), 0) AS payable
        FROM postings
       WHERE merchant_id = :m AND account IN ('claims_pending', 'payables_cover')
       GROUP BY card_id
    )
    SELECT c.id, c.kind, c.status, c.paid, c.units_total, c.units_remaining, c.outstanding,
           c.custody_share, c.insured_share, c.created_at,
           coalesce(l.claimed, 0)::bigint AS claimed, coalesce(l.payable, 0)::bigint AS payable,
           p.name AS product, h.consumer_id, h.transferred_from, h.expires_at,
           k.phone_enc, coalesce(o.real_name_enc, k.real_name_enc) AS name_enc,
           coalesce(o.id_number_enc, k.id_number_enc) AS id_enc
      FROM cards c
      LEFT JOIN legs l ON l.card_id = c.id
      LEFT JOIN card_holders h ON h.card_id = c.id
      LEFT JOIN products p ON p.id = h.product_id
      LEFT JOIN orders o ON o.id = h.order_id
      LEFT JOIN consumers k ON k.id = h.consumer_id
     WHERE c.merchant_id = :m
       AND (c.status = 'open' OR coalesce(l.claimed, 0) > 0 OR coalesce(l.payable, 0) > 0)
     ORDER BY c.created_at, c.id
""")
"""Every card something is still owed on: open ones, and closed ones with a claim or a payable
pending (a defaulted card's insured share, a refund the merchant has not paid)."""

_BOOK = text("SELECT status, seq, head_hash FROM merchant_books WHERE merchant_id = :m")
_BALANCES = text("SELECT kind, balance FROM accounts WHERE merchant_id = :m ORDER BY kind")
_LAST_STATEMENT = text("""
    SELECT id, filename, imported_at, report FROM custody_statements
     WHERE report->'matched' @> CAST(:pair AS jsonb)
        OR report->'mismatched' @> CAST(:pair AS jsonb)
        OR report->'missing' @> CAST(:movement AS jsonb)
        OR report->'shortfall' ? :id
     ORDER BY imported_at DESC
     LIMIT 1
""")

CARD_COLUMNS = (
    "card_id",
    "status",
    "product",
    "kind",
    "bought_at",
    "expires_at",
    "paid_fen",
    "units_total",
    "units_left",
    "outstanding_fen",
    "custody_share_fen",
    "insured_share_fen",
    "claim_pending_fen",
    "payable_owed_fen",
    "owed_fen",
    "holder",
    "holder_name",
    "holder_phone",
    "holder_id_number",
    "moved_from_card",
)
HOLDER_COLUMNS = (
    "holder",
    "holder_name",
    "holder_phone",
    "holder_id_number",
    "cards",
    "owed_fen",
)
PAYABLE_COLUMNS = (
    "card_id",
    "kind",
    "amount_fen",
    "custody_paid_fen",
    "created_at",
    "due_at",
    "paid_by_merchant_fen",
    "netted_fen",
    "paid_by_insurer_fen",
    "owed_by_merchant_fen",
    "claimed_fen",
)
ANONYMOUS = "anonymous"
"""The holder of a card sold without a name: it proves itself with the card's secret link."""


@dataclass(frozen=True)
class Pack:
    """A built pack: the ZIP, its name, and what it says in figures."""

    filename: str
    data: bytes
    cards: int
    owed_fen: int
    entries: int
    manifest_sha256: str


def _cell(value: Any) -> Any:  # noqa: ANN401 - a CSV cell
    return inert(value) if isinstance(value, str) else value


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so a spreadsheet opens the Chinese as Chinese.

    Names typed by merchants and consumers (products, holders) never run as formulas.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return ("\ufeff" + out.getvalue()).encode()


def _iso(moment: datetime | None) -> str:
    """Shanghai time with its offset: what the holders' receipts said, and unambiguous."""
    return "" if moment is None else moment.astimezone(SHANGHAI).isoformat()


async def _reach(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Merchant:
    """The merchant if the caller may take its pack; 'not found' otherwise, telling nothing."""
    if me.role not in TAKERS:
        raise Forbidden("role-required", roles="insurer or operator or regulator")
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant-not-found")
    if me.role is Role.INSURER:
        insures = await session.scalar(
            select(Policy.id)
            .where(Policy.merchant_id == merchant.id, Policy.insurer_id == insurer_of(me))
            .limit(1)
        )
        if insures is None:
            raise NotFound("merchant-not-found")
    elif not me.sees_district(merchant.district):
        raise NotFound("merchant-not-found")
    return merchant


class _Contacts:
    """Decrypts each holder's data once, and shows it as the caller's role may see it."""

    def __init__(self, cipher: PiiCipher, *, full: bool) -> None:
        self.cipher = cipher
        self.full = full

    def of(self, row: Any) -> dict[str, str]:  # noqa: ANN401 - a row of _CARDS
        if row.consumer_id is None:
            return {
                "holder": ANONYMOUS,
                "holder_name": "",
                "holder_phone": "",
                "holder_id_number": "",
            }
        name = "" if row.name_enc is None else self.cipher.decrypt(row.name_enc, field="real_name")
        phone = "" if row.phone_enc is None else self.cipher.decrypt(row.phone_enc, field="phone")
        number = "" if row.id_enc is None else self.cipher.decrypt(row.id_enc, field="id_number")
        if not self.full:
            phone = mask_phone(phone) if phone else ""
            number = _last_four(number) if number else ""
        return {
            "holder": str(row.consumer_id),
            "holder_name": name,
            "holder_phone": phone,
            "holder_id_number": number,
        }


async def _cards(
    session: AsyncSession, merchant_id: uuid.UUID, contacts: _Contacts
) -> list[dict[str, Any]]:
    rows = []
    for row in await session.execute(_CARDS, {"m": merchant_id}):
        owed = row.outstanding + row.claimed + row.payable
        rows.append(
            {
                "card_id": str(row.id),
                "status": row.status,
                "product": row.product or "",
                "kind": row.kind,
                "bought_at": _iso(row.created_at),
                "expires_at": _iso(row.expires_at),
                "paid_fen": row.paid,
                "units_total": row.units_total,
                "units_left": row.units_remaining,
                "outstanding_fen": row.outstanding,
                "custody_share_fen": row.custody_share,
                "insured_share_fen": row.insured_share,
                "claim_pending_fen": row.claimed,
                "payable_owed_fen": row.payable,
                "owed_fen": owed,
                **contacts.of(row),
                "moved_from_card": ""
                if row.transferred_from is None
                else str(row.transferred_from),
            }
        )
    return rows


def _holders(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per named holder, and one per anonymous card (each is its own holder)."""
    found: dict[str, dict[str, Any]] = {}
    for card in cards:
        key = card["card_id"] if card["holder"] == ANONYMOUS else card["holder"]
        line = found.setdefault(
            key, {**{c: card[c] for c in HOLDER_COLUMNS[:4]}, "cards": 0, "owed_fen": 0}
        )
        line["cards"] += 1
        line["owed_fen"] += card["owed_fen"]
    return sorted(found.values(), key=lambda h: (-h["owed_fen"], h["holder"]))


async def _custody(
    session: AsyncSession,
    merchant: Merchant,
    cipher: PiiCipher,
    balances: dict[str, int],
    *,
    full: bool,
) -> dict[str, Any]:
    """The custody account, its ledger balance, and the last statement that spoke of it.

    The account number in full for the regulator and the operator; its last four digits for
    an insurer (and the statement lines, which carry it, as the bank sent them to neither).
    """
    account = (
        None
        if merchant.custody_account_enc is None
        else cipher.decrypt(merchant.custody_account_enc, field=CUSTODY_FIELD)
    )
    mid = str(merchant.id)
    row = (
        await session.execute(
            _LAST_STATEMENT,
            {
                "pair": f'[{{"expected": {{"merchant_id": "{mid}"}}}}]',
                "movement": f'[{{"merchant_id": "{mid}"}}]',
                "id": mid,
            },
        )
    ).first()
    statement = None
    if row is not None:
        report: dict[str, Any] = row.report
        mine = [p for p in report["matched"] if p["expected"]["merchant_id"] == mid]
        off = [p for p in report["mismatched"] if p["expected"]["merchant_id"] == mid]
        missing = [m for m in report["missing"] if m["merchant_id"] == mid]
        unexpected = [line for line in report["unexpected"] if line["account"] == account]
        shortfall = int(report["shortfall"].get(mid, 0))
        statement = {
            "statement_id": str(row.id),
            "filename": row.filename,
            "imported_at": _iso(row.imported_at),
            "from": report["from"],
            "to": report["to"],
            "ok": not (off or missing or unexpected or shortfall),
            "matched": mine,
            "mismatched": off,
            "missing": missing,
            "unexpected": unexpected,
            "shortfall_fen": shortfall,
        }
    if not full and statement is not None:
        for pair in (*statement["matched"], *statement["mismatched"]):
            pair["line"]["account"] = _last_four(pair["line"]["account"])
        for line in statement["unexpected"]:
            line["account"] = _last_four(line["account"])
    return {
        "bank": merchant.custody_bank,
        "account": account if full or account is None else _last_four(account),
        "ledger_balance_fen": balances.get(escrow.AccountKind.CUSTODY, 0),
        "last_statement": statement,
    }


def _last_four(number: str) -> str:
    return "*" * max(0, len(number) - 4) + number[-4:]


async def _insurance(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID
) -> dict[str, Any]:
    """The merchant's policies and claims; an insurer's pack holds only its own."""
    policy_query = (
        select(Policy, Insurer.name)
        .join(Insurer, Insurer.id == Policy.insurer_id)
        .where(Policy.merchant_id == merchant_id)
        .order_by(Policy.created_at)
    )
    claim_query = select(Claim).where(Claim.merchant_id == merchant_id).order_by(Claim.triggered_at)
    if me.role is Role.INSURER:
        policy_query = policy_query.where(Policy.insurer_id == insurer_of(me))
        claim_query = claim_query.where(Claim.insurer_id == insurer_of(me))
    policies = (await session.execute(policy_query)).all()
    claims = (await session.scalars(claim_query)).all()
    return {
        "policies": [
            {
                "number": policy.number,
                "insurer": name,
                "status": policy.status,
                "coverage_fen": policy.coverage_fen,
                "starts_on": policy.starts_on.isoformat(),
                "ends_on": None if policy.ends_on is None else policy.ends_on.isoformat(),
            }
            for policy, name in policies
        ],
        "claims": [
            {
                "id": str(claim.id),
                "kind": claim.kind,
                "status": claim.status,
                "total_fen": claim.total_fen,
                "cards": claim.cards,
                "triggered_at": _iso(claim.triggered_at),
                "acknowledged_at": _iso(claim.acknowledged_at),
                "paid_at": _iso(claim.paid_at),
                "payment_ref": claim.payment_ref,
            }
            for claim in claims
        ],
    }


async def _payables(session: AsyncSession, merchant_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {
            "card_id": str(p.card_id),
            "kind": p.kind,
            "amount_fen": p.amount,
            "custody_paid_fen": p.custody_paid,
            "created_at": _iso(p.created_at),
            "due_at": _iso(p.due_at),
            "paid_by_merchant_fen": p.by_merchant,
            "netted_fen": p.netted,
            "paid_by_insurer_fen": p.by_insurer,
            "owed_by_merchant_fen": p.owed,
            "claimed_fen": p.claimed,
        }
        for p in await payables_of(session, [merchant_id], open_only=True)
    ]


async def _ledger(session: AsyncSession, merchant_id: uuid.UUID) -> dict[str, Any]:
    """The proof: chain head and entry count as stored, and ``verify``'s verdict on the book."""
    book = (await session.execute(_BOOK, {"m": merchant_id})).first()
    balances = {
        row.kind: row.balance for row in await session.execute(_BALANCES, {"m": merchant_id})
    }
    report = await escrow.verify(session, [merchant_id])
    return {
        "merchant_id": str(merchant_id),
        "book_status": None if book is None else book.status,
        "entries": 0 if book is None else book.seq,
        "chain_head_sha256": None if book is None else bytes(book.head_hash).hex(),
        "balances_fen": balances,
        "verify": {
            "ok": report.ok,
            "entries": report.entries,
            "cards": report.cards,
            "problems": [str(p) for p in report.problems],
        },
    }


_README = """处置包 · {name}

统一社会信用代码：{uscc}
所在区：{district}
生成时间：{built}
生成人角色：{role}

本处置包由“预付卡保障”平台生成，使清算人或保险公司在无法访问平台时，
仍能向每一位消费者兑付。金额一律以“分”为单位（1 元 = 100 分），为整数，无四舍五入。

汇总
- 尚有待付款项的卡：{cards} 张
- 应付消费者合计：{owed}（{owed_fen} 分）
- 存管账户账面余额：{custody}（{custody_fen} 分）
- 保险责任余额：{exposure}（{exposure_fen} 分）
- 应付合计 = 存管余额 + 保险责任余额
- 账本校验：{verify}

文件
- cards.csv：每张尚有待付款项的卡：卡号、商品、已付金额、剩余次数或面值、
  未用余额（outstanding = 存管份额 + 保险份额）、待理赔金额、商户欠付的退款、
  应付合计（owed_fen）、持卡人及联系方式。匿名卡的持卡人为 anonymous，
  凭卡片链接认领。
- holders.csv：每位持卡人一行：名下卡数与应付合计，按金额从高到低排列。
- payables.csv：尚未付清的退款与补偿：到期日、商户已付、保险已付、仍欠金额。
- custody.json：存管银行与账号、账本中的存管余额、最近一份涉及本商户的
  银行对账单及其对账结果（匹配、金额不符、缺失、多出、短缺）。
- insurance.json：履约保证保险保单与理赔记录。
- ledger.json：账本证明：哈希链链头（chain_head_sha256）与分录数（entries），
  各账户余额，以及生成时对本商户账本运行校验（verify）的结果。
  可与平台命令 pguard ledger verify 的结果对照。
- merchant.json：商户基本信息。
- manifest.json：以上每个文件的 SHA-256 与字节数。
- manifest.sig：平台 Ed25519 私钥对 manifest.json 的签名。

个人信息
{privacy}

如何核验
1. 从平台公布的公钥文件取得公钥：{keys_url}
   （JSON，keys 列表中 kid 与 manifest.sig 中的 kid 相同，public_key 为无填充的
   base64url 编码）。
2. 被签名的内容为：一行文字 "pguard/resolution-pack/v1"，换行，紧接 manifest.json
   的全部原始字节。用 Ed25519 公钥验证 manifest.sig 中的 signature（无填充 base64url）。
3. 逐个计算包内文件的 SHA-256，与 manifest.json 中的值比对；任何不一致或多出、
   缺少的文件都说明处置包已被改动。

Python 示例（需要 cryptography 库）：

    import base64, hashlib, json, zipfile
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    z = zipfile.ZipFile("处置包.zip"); keys = json.load(open("keys.json"))
    m = z.read("manifest.json"); sig = json.loads(z.read("manifest.sig"))
    key = next(k for k in keys["keys"] if k["kid"] == sig["kid"] and k["status"] == "active")
    Ed25519PublicKey.from_public_bytes(b64(key["public_key"])).verify(
        b64(sig["signature"]), b"pguard/resolution-pack/v1\\n" + m)
    for name, f in json.loads(m)["files"].items():
        assert hashlib.sha256(z.read(name)).hexdigest() == f["sha256"], name
"""

_PRIVACY = {
    True: "本包含持卡人姓名、手机号与身份证号的完整信息，仅供监管部门与平台运营方\n"
    "用于兑付，请按个人信息保护要求保管，用毕销毁。",
    False: "保险公司所得版本中，手机号与身份证号已部分遮盖（如 138****5678），\n"
    "足以核对来电的持卡人，不足以另作他用。",
}


async def build(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Pack:
    """The merchant's pack, built, signed and recorded in one REPEATABLE READ transaction.

    The session must not have begun a transaction: the snapshot is this use case's own.
    """
    async with session.begin():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        merchant = await _reach(session, me, merchant_id)
        cipher = PiiCipher.from_master_key()
        full = me.role is not Role.INSURER
        built_at = utcnow()
        ledger = await _ledger(session, merchant.id)
        balances: dict[str, int] = ledger["balances_fen"]
        cards = await _cards(session, merchant.id, _Contacts(cipher, full=full))
        owed = sum(card["owed_fen"] for card in cards)
        exposure = -balances.get(escrow.AccountKind.POLICY, 0)
        custody = await _custody(session, merchant, cipher, balances, full=full)
        about = {
            "format": "pguard-resolution-pack/1",
            "merchant_id": str(merchant.id),
            "legal_name": merchant.legal_name,
            "uscc": merchant.uscc,
            "built_at": _iso(built_at),
            "built_for": me.role.value,
            "cards": len(cards),
            "owed_fen": owed,
            "custody_fen": custody["ledger_balance_fen"],
            "exposure_fen": exposure,
            "entries": ledger["entries"],
            "chain_head_sha256": ledger["chain_head_sha256"],
            "public_keys": get_settings().cards.public_base_url.rstrip("/") + "/qr/keys",
        }
        files = {
            "README.txt": _README.format(
                name=merchant.legal_name,
                uscc=merchant.uscc,
                district=merchant.district,
                built=when(built_at, "zh"),
                role={"regulator": "监管部门", "insurer": "保险公司", "operator": "平台运营方"}[
                    me.role.value
                ],
                cards=len(cards),
                owed=money(owed, "zh"),
                owed_fen=owed,
                custody=money(custody["ledger_balance_fen"], "zh"),
                custody_fen=custody["ledger_balance_fen"],
                exposure=money(exposure, "zh"),
                exposure_fen=exposure,
                verify="通过" if ledger["verify"]["ok"] else "发现问题，见 ledger.json",
                privacy=_PRIVACY[full],
                keys_url=about["public_keys"],
            ).encode(),
            "merchant.json": manifest.canonical_json(
                {
                    "id": str(merchant.id),
                    "legal_name": merchant.legal_name,
                    "uscc": merchant.uscc,
                    "industry": merchant.industry,
                    "district": merchant.district,
                    "address": merchant.address,
                    "status": merchant.status,
                }
            ),
            "cards.csv": _csv(CARD_COLUMNS, cards),
            "holders.csv": _csv(HOLDER_COLUMNS, _holders(cards)),
            "payables.csv": _csv(PAYABLE_COLUMNS, await _payables(session, merchant.id)),
            "custody.json": manifest.canonical_json(custody),
            "insurance.json": manifest.canonical_json(
                {"exposure_fen": exposure, **await _insurance(session, me, merchant.id)}
            ),
            "ledger.json": manifest.canonical_json(ledger),
        }
        manifest_bytes = manifest.manifest_of(files, about)
        kid, signature = (await keyring(session, signing=True)).sign(
            manifest.signed_message(manifest_bytes)
        )
        sha = manifest.digest(manifest_bytes)
        session.add(
            ResolutionPack(
                merchant_id=merchant.id,
                role=me.role.value,
                requested_by=me.user_id,
                built_at=built_at,
                cards=len(cards),
                owed_fen=owed,
                entries=ledger["entries"],
                manifest_sha256=bytes.fromhex(sha),
                kid=kid,
            )
        )
        await session.flush()
    data = manifest.write(files, manifest_bytes, manifest.signature_file(kid, signature))
    stamp = built_at.strftime("%Y%m%dT%H%M%SZ")
    return Pack(
        f"resolution-pack-{merchant.uscc}-{stamp}.zip",
        data,
        len(cards),
        owed,
        ledger["entries"],
        sha,
    )
