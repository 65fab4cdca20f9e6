"""The merchant console: pages for a merchant's own staff under ``/console``.

Overview with the grade and what would improve it, products, the counter QR, redeeming a
consumer's code, refund requests and complaints.

Every page reads and writes through the same services as the API (``app.merchants``,
``app.cards``, ``app.supervision.disputes``, ``app.risk``, ``escrow``); this module only
parses forms, calls them, and shows their answers (errors beside the field they concern).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

import escrow
import qr
from app.api.cards import redeem_counting_digits
from app.auth.models import Role
from app.auth.principal import requires
from app.cards import service as cards
from app.cards.models import RefundStatus
from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import AppError, Conflict, Invalid
from app.ledger import escrow_ledger
from app.merchants import blocks
from app.merchants import service as merchants
from app.merchants.rules import ProductDraft
from app.pages.i18n import MESSAGES, add, translate
from app.pages.render import (
    Done,
    Form,
    back_to,
    lang_of,
    page,
    said_done,
    same_origin,
    when,
    yuan,
)
from app.payables import service as payables
from app.payments.sandbox import SandboxProvider
from app.qrcodes.service import keyring
from app.risk import service as ratings
from app.risk.supervision import UNRATED, colour
from app.risk.words import BOOLEAN_FEATURES, LABELS
from app.settings import get_settings
from app.supervision import disputes, measures
from app.supervision.models import DisputeStatus, MeasureKind
from scoring import MONOTONE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from app.cards.models import RefundRequest

MAX_NAME = 200
MAX_TERMS = 5000
MAX_TEXT = disputes.MAX_TEXT
MAX_VALIDITY_DAYS = 100 * 365
MAX_CODE = 400
KEY_LENGTHS = range(8, 201)
"""An Idempotency-Key as the API takes it: 8 to 200 characters."""

_YUAN = re.compile(r"^(\d{1,10})(?:\.(\d{1,2}))?$")
_COUNT = re.compile(r"^\d{1,12}$")
_DIGITS = re.compile(r"^\d{6}$")
_SPACE = re.compile(r"\s+")

# -- words ------------------------------------------------------------------------------

_FEATURE_ZH = {
    "registration_status": "登记状态",
    "registration_age_years": "经营年限（年）",
    "registration_capital_change": "注册资本变动（%）",
    "registration_abnormal_operations": "列入经营异常名录",
    "registration_licence_revoked": "营业执照被吊销",
    "registration_deregistration_filed": "已申请注销",
    "tax_arrears_fen": "欠税金额",
    "tax_filing_gap_months": "未申报纳税的月数",
    "court_enforcement_cases": "被执行案件数",
    "court_dishonest_debtor": "列入失信被执行人名单",
    "credit_public_rating": "公共信用评级",
    "credit_penalties": "近 3 年行政处罚次数",
    "social_security_headcount": "参保职工人数",
    "social_security_contribution_gap_months": "社保断缴月数",
    "bank_inflow_trend_pct": "近 3 个月银行流入变化（%）",
    "bank_frozen": "银行账户被冻结",
    "complaints_count_30d": "近 30 天投诉数",
    "complaints_count_7d": "近 7 天投诉数",
    "sales_surge_pct": "预付卡销售较平常的变化（%）",
    "sales_max_discount_pct": "最大售卡折扣（%）",
    "sales_outstanding_to_revenue": "未消费余额与销售额之比",
}
"""Each indicator feature in Chinese; the English words are ``app.risk.words.LABELS``."""

_ACTIONS = {
    "registration_status": ("恢复正常登记状态", "return the registration to active"),
    "registration_age_years": ("随经营时间自然改善", "improves with time in business"),
    "registration_capital_change": ("避免减少注册资本", "avoid reducing the registered capital"),
    "registration_abnormal_operations": (
        "整改并申请移出经营异常名录",
        "fix the cause and apply to be removed from the list",
    ),
    "registration_licence_revoked": ("依法恢复营业执照", "regain a valid business licence"),
    "registration_deregistration_filed": (
        "如继续经营，撤回注销申请",
        "withdraw the deregistration if you keep trading",
    ),
    "tax_arrears_fen": ("缴清欠税", "pay it down"),
    "tax_filing_gap_months": ("补报纳税申报", "file the missing tax returns"),
    "court_enforcement_cases": ("履行判决或达成和解", "settle the judgments"),
    "court_dishonest_debtor": (
        "履行义务并申请移出失信名单",
        "meet the obligation and apply to be removed",
    ),
    "credit_public_rating": ("提升公共信用评级", "improve the public credit rating"),
    "credit_penalties": ("整改并申请信用修复", "correct the causes and apply for credit repair"),
    "social_security_headcount": ("为员工依法缴纳社保", "enrol your staff in social insurance"),
    "social_security_contribution_gap_months": (
        "补缴社保并按月缴纳",
        "pay the missing contributions and keep paying monthly",
    ),
    "bank_inflow_trend_pct": ("稳定经营收入", "steady your business income"),
    "bank_frozen": ("解除账户冻结", "get the account unfrozen"),
    "complaints_count_30d": ("及时答复并解决投诉", "answer and resolve complaints promptly"),
    "complaints_count_7d": ("及时答复并解决投诉", "answer and resolve complaints promptly"),
    "sales_surge_pct": ("平稳售卡，避免突击售卡", "sell cards at a steady pace, no sales drives"),
    "sales_max_discount_pct": ("减少大幅折扣", "offer shallower discounts"),
    "sales_outstanding_to_revenue": (
        "先兑现已售的卡，再扩大售卡",
        "serve the cards already sold before selling more",
    ),
}
"""What a merchant can do about each feature, when it pushes the risk up."""

add({f"m_f_{feature}": (zh, LABELS[feature]) for feature, zh in _FEATURE_ZH.items()})
add({f"m_do_{feature}": words for feature, words in _ACTIONS.items()})
add(
    {
        # navigation and titles
        "m_console": ("商户后台", "Merchant console"),
        "m_nav_overview": ("概览", "Overview"),
        "m_nav_products": ("卡产品", "Products"),
        "m_nav_qr": ("收款码", "Counter QR"),
        "m_nav_redeem": ("核销", "Redeem"),
        "m_nav_refunds": ("退款申请", "Refunds"),
        "m_nav_complaints": ("投诉", "Complaints"),
        # status
        "m_status": ("状态", "Status"),
        "m_status_pending": ("待审核", "Pending approval"),
        "m_status_approved": ("已审核，待启用", "Approved, not yet selling"),
        "m_status_active": ("正常售卡", "Selling"),
        "m_status_suspended": ("已被暂停售卡", "Sales suspended"),
        "m_status_defaulted": ("已宣告违约", "Declared in default"),
        "m_status_closed": ("已关闭", "Closed"),
        "m_note_pending": (
            "监管部门审核通过后，设置存管账户和保单即可开始售卡。",
            "Once the regulator approves you, with a custody account and a policy you can sell.",
        ),
        "m_note_approved": (
            "已审核通过：启用后即可售卡。",
            "Approved: activate to start selling cards.",
        ),
        "m_note_suspended": (
            "监管部门暂停了新卡销售；已售的卡仍可正常核销。",
            "The regulator suspended new sales; cards already sold can still be redeemed.",
        ),
        "m_note_defaulted": (
            "已宣告违约：消费者的余额正在由存管和保险退还。",
            "Declared in default: consumers' balances are being refunded by custody and insurance.",
        ),
        "m_note_closed": ("商户已关闭。", "This merchant is closed."),
        "m_nav_payables": ("退款欠款", "Refunds owed"),
        "m_payables_title": ("退款欠款", "Refunds you owe consumers"),
        "m_payables_help": (
            (
                "消费者退款时，存管部分已先行退付；其余部分须在 {days} 个工作日内由您支付，"
                "也会从您之后的售卡款中扣还；逾期未付的部分由保险公司赔付并向您追偿。"
            ),
            (
                "When a card is refunded, custody pays its share at once; you owe the rest within"
                " {days} business days. It is also withheld from your next sales; what is unpaid at"
                " the deadline is paid by your insurer, who will recover it from you."
            ),
        ),
        "m_payables_owed": ("待您支付", "Owed by you now"),
        "m_payables_claimed": ("已转保险理赔", "Claimed from your insurer"),
        "m_payables_pay": ("立即支付 {amount}", "Pay {amount} now"),
        "m_payables_pay_confirm": (
            "支付 {amount} 给退款消费者？",
            "Pay {amount} to the consumers?",
        ),
        "m_payables_done_paid": ("已付款，消费者已收到", "Paid: the consumers have it"),
        "m_payables_by_age": ("按账龄", "By age"),
        "m_payables_days": ("退款后天数", "Days since the refund"),
        "m_payables_count": ("笔数", "Count"),
        "m_payables_each": ("明细", "Each payable"),
        "m_payables_kind": ("类型", "Kind"),
        "m_payables_due": ("最迟支付", "Due by"),
        "m_payables_amount": ("金额", "Amount"),
        "m_payables_paid_you": ("您已支付", "Paid by you"),
        "m_payables_netted": ("售卡款扣还", "Withheld from sales"),
        "m_payables_insurer": ("保险赔付", "Insurer"),
        "m_payable_kind_refund": ("退款", "Refund"),
        "m_payable_kind_compensation": ("投诉补偿", "Compensation"),
        "m_payable_status_owed": ("待支付", "Owed"),
        "m_payable_status_claimed": ("保险理赔中", "Claimed"),
        "m_payable_status_paid": ("已结清", "Paid"),
        "m_protection": (
            "新购卡 {custody}% 银行存管，{insured}% 履约保证保险（已售卡保持售出时的比例）",
            "New cards: {custody}% in bank custody, {insured}% insured (cards sold keep theirs)",
        ),
        "m_ratio_followed": (
            "{at}：风险等级 {grade}，新购卡存管比例 {before}% → {after}%",
            "{at}: rated {grade}, new cards' custody {before}% → {after}%",
        ),
        "m_uscc": ("统一社会信用代码", "Unified social credit code"),
        "m_industry": ("行业", "Industry"),
        "m_address": ("地址", "Address"),
        # grade and reasons
        "m_your_grade": ("您的风险等级", "Your risk grade"),
        "m_not_rated": (
            "尚未评级：评级模型启用后，系统会根据各项官方数据自动评级。",
            "Not rated yet: once a rating model is active, your official records are rated.",
        ),
        "m_rated_at": ("评级时间 {at}，模型 {model}", "Rated {at}, model {model}"),
        "m_overrides": ("强制降级原因", "Grade floored because"),
        "m_override_dishonest-debtor": ("列入失信被执行人名单", "listed as a dishonest debtor"),
        "m_override_licence-revoked": ("营业执照被吊销", "business licence revoked"),
        "m_override_deregistration-filed": ("已申请注销", "deregistration filed"),
        "m_override_abnormal-operations": ("列入经营异常名录", "on the abnormal operations list"),
        "m_override_exit-pattern": (
            "180 天内减资、股权转让、法人变更",
            "capital cut, equity transfer and new legal representative within 180 days",
        ),
        "m_reasons": ("评级原因", "Why this grade"),
        "m_no_reasons": (
            "没有拉高风险的因素：各项数据都不差于一般商户。",
            "Nothing raises your risk: every signal is as good as a typical merchant's.",
        ),
        "m_reason": (
            "{label}：{value}（一般商户：{typical}），使违约概率上升 {points} 个百分点",
            (
                "{label}: {value} (typical merchant: {typical}); raises the probability of"
                " default by {points} points"
            ),
        ),
        "m_reason_source": (
            "来源：{provenance}，截至 {as_of}",
            "Source: {provenance}, as of {as_of}",
        ),
        "m_improve_title": ("如何改善", "What would improve it"),
        "m_improve": (
            "{label}：{value} → {action}（一般商户：{typical}）",
            "{label}: {value} → {action} (typical: {typical})",
        ),
        "m_do_lower": ("降低", "bring it down"),
        "m_do_raise": ("提高", "bring it up"),
        "m_do_typical": ("向一般商户的水平靠拢", "bring it to the typical level"),
        "m_do_report": (
            "确保该项数据如实报送（缺少数据按风险计）",
            "make sure it is reported (missing data counts as risk)",
        ),
        "m_do_keep": ("已优于一般商户，请保持", "already better than typical; keep it so"),
        "m_no_data": ("暂无数据", "no data"),
        "m_yes": ("是", "yes"),
        "m_no": ("否", "no"),
        "m_cat_active": ("存续", "active"),
        "m_cat_suspended": ("停业", "suspended"),
        "m_cat_closing": ("清算中", "closing"),
        "m_grade_history": ("等级变化", "Grade changes"),
        "m_change": (
            "{at}：{from_grade} → {to_grade}（{cause}）",
            "{at}: {from_grade} → {to_grade} ({cause})",
        ),
        # figures
        "m_figures": ("销售与结算", "Sales and settlement"),
        "m_cards_sold": ("已售卡数", "Cards sold"),
        "m_sold": ("售卡收入", "Sold"),
        "m_paid_out_at_sale": ("售卡时到账（保险部分）", "Paid to you at sale (insured part)"),
        "m_released": ("核销后存管释放", "Released from custody on use"),
        "m_refunded": ("已退款", "Refunded"),
        "m_receivable": ("应付消费者退款", "Refunds you still owe"),
        "m_custody_held": ("存管余额", "Held in custody"),
        "m_insured_cover": ("保险保障额", "Insured cover"),
        "m_outstanding": ("消费者未用余额", "Consumers' unused balances"),
        "m_to_do": ("待办", "To do"),
        "m_todo_complaints": ("{n} 条投诉待答复", "{n} complaint(s) to answer"),
        "m_todo_refunds": ("{n} 个退款申请待处理", "{n} refund request(s) to answer"),
        "m_todo_none": ("暂无待办事项", "Nothing waiting for you"),
        # products
        "m_products": ("卡产品", "Card products"),
        "m_no_products": ("还没有卡产品。", "No card products yet."),
        "m_new_product": ("新建卡产品", "New card product"),
        "m_name": ("名称", "Name"),
        "m_kind": ("类型", "Kind"),
        "m_kind_stored_value": ("储值卡", "Stored value"),
        "m_kind_sessions": ("次卡", "Sessions"),
        "m_price": ("售价（元）", "Price (yuan)"),
        "m_units": ("面值（元）或次数", "Face value (yuan) or sessions"),
        "m_units_hint": (
            "储值卡填面值（元），次卡填次数",
            "Stored value: face value in yuan; sessions: number of uses",
        ),
        "m_face": ("面值 / 次数", "Face / sessions"),
        "m_sessions_n": ("{n} 次", "{n} sessions"),
        "m_anonymous": ("不记名卡", "Anonymous card"),
        "m_anonymous_hint": (
            "不记名卡售价不超过 {limit}，有效期至少 {days} 天；记名卡不超过 {registered}，长期有效",
            (
                "Anonymous: at most {limit}, valid at least {days} days; registered: at most"
                " {registered}, never expire"
            ),
        ),
        "m_registered": ("记名", "Registered"),
        "m_anonymous_short": ("不记名", "Anonymous"),
        "m_validity_days": ("有效期（天）", "Valid for (days)"),
        "m_never_expires": ("长期有效", "Never expires"),
        "m_terms": ("使用条款", "Terms"),
        "m_create": ("创建", "Create"),
        "m_retire": ("停售", "Retire"),
        "m_retire_confirm": (
            "确定停售“{name}”？已售的卡不受影响。",
            "Stop selling “{name}”? Cards already sold are not affected.",
        ),
        "m_product_status_active": ("在售", "On sale"),
        "m_product_status_retired": ("已停售", "Retired"),
        "m_done_created": ("卡产品已创建。", "The product was created."),
        "m_done_retired": ("卡产品已停售。", "The product was retired."),
        "m_done_accepted": ("已同意退款，款项已退回消费者。", "Refund accepted and paid back."),
        "m_done_refused": ("已拒绝退款申请。", "Refund request refused."),
        "m_done_answered": ("答复已提交，转监管部门调解。", "Answer sent; the regulator mediates."),
        "m_form_errors": ("请修改标出的内容。", "Please correct the marked fields."),
        "m_err_required": ("必填", "required"),
        "m_err_too_long": ("最多 {n} 个字", "at most {n} characters"),
        "m_err_yuan": (
            "请填写金额（元），如 800 或 800.50",
            "an amount in yuan, like 800 or 800.50",
        ),
        "m_err_count": ("请填写大于 0 的整数", "a whole number above 0"),
        "m_err_kind": ("请选择类型", "choose a kind"),
        "m_err_days": ("1 到 36500 天", "1 to 36500 days"),
        "m_err_form_stale": ("表单已过期，请重新提交", "this form is stale; send it again"),
        # qr
        "m_qr_title": ("柜台收款码", "Counter QR code"),
        "m_qr_intro": (
            "把收款码贴在柜台：消费者扫码即可查看您的资质、风险等级和资金保障，并购卡。",
            (
                "Put the code on your counter: consumers scan it to see who you are, your grade"
                " and how their money is protected, and buy cards."
            ),
        ),
        "m_qr_alt": ("柜台收款码", "Counter QR code"),
        "m_qr_downloads": ("下载", "Download"),
        "m_qr_png": ("二维码 PNG", "QR code PNG"),
        "m_qr_svg": ("二维码 SVG", "QR code SVG"),
        "m_poster_pdf": ("打印海报 PDF", "Print poster PDF"),
        "m_poster_svg": ("海报 SVG", "Poster SVG"),
        "m_qr_link": ("码内链接", "The code's link"),
        "m_qr_not_selling": (
            "当前状态下扫码会被拒绝付款：{why}",
            "While your status is this, a scan refuses payment: {why}",
        ),
        # redeem
        "m_redeem_title": ("核销", "Redeem a card"),
        "m_redeem_intro": (
            "请消费者在卡页面出示核销码：扫码所得内容或 6 位数字均可填入。",
            (
                "Ask the customer to show the code on their card page: paste what the scanner"
                " reads, or type the 6 digits."
            ),
        ),
        "m_code": ("核销码（扫码内容或 6 位数字）", "Code (scanned text or 6 digits)"),
        "m_measure": ("计量方式", "Measure"),
        "m_measure_yuan": ("按金额（储值卡，元）", "Amount (stored value, yuan)"),
        "m_measure_sessions": ("按次数（次卡）", "Sessions (session card)"),
        "m_amount_or_sessions": ("本次用量", "Amount used"),
        "m_redeem": ("核销", "Redeem"),
        "m_receipt": ("核销成功", "Redeemed"),
        "m_receipt_replayed": ("该笔核销已记录（重复提交）", "Already recorded (a repeated form)"),
        "m_taken": ("本次使用", "Used now"),
        "m_left": ("卡内剩余", "Left on the card"),
        "m_refundable_left": ("可退金额", "Refundable"),
        "m_released_now": ("存管释放给您", "Released to you from custody"),
        # refunds
        "m_refunds_title": ("退款申请", "Refund requests"),
        "m_refunds_none": ("没有待处理的退款申请。", "No refund requests to answer."),
        "m_refunds_done": ("已处理", "Answered"),
        "m_card": ("卡号", "Card"),
        "m_reason_given": ("消费者理由", "Consumer's reason"),
        "m_requested_at": ("申请时间", "Requested"),
        "m_refundable": ("应退金额", "Refundable now"),
        "m_answer": ("答复", "Answer"),
        "m_refuse_reason": ("拒绝理由", "Why you refuse"),
        "m_accept": ("同意退款", "Accept and refund"),
        "m_accept_confirm": ("确定退款 {amount} 给消费者？", "Refund {amount} to the consumer?"),
        "m_refuse": ("拒绝", "Refuse"),
        "m_refund_status_pending": ("待处理", "Waiting"),
        "m_refund_status_accepted": ("已同意", "Accepted"),
        "m_refund_status_refused": ("已拒绝", "Refused"),
        "m_refuse_needs_reason": ("拒绝时请说明理由", "say why you refuse"),
        # complaints
        "m_complaints_title": ("投诉", "Complaints"),
        "m_complaints_none": ("没有投诉。", "No complaints."),
        "m_kind_not_delivered": ("未提供服务", "Service not delivered"),
        "m_kind_quality": ("服务质量", "Quality"),
        "m_kind_refund_refused": ("拒绝退款", "Refund refused"),
        "m_kind_closed_or_moved": ("停业或搬迁", "Closed or moved"),
        "m_kind_other": ("其他", "Other"),
        "m_dispute_filed": ("提交时间", "Filed"),
        "m_overdue": ("已逾期", "Overdue"),
        "m_amount_asked": ("诉求金额", "Asks back"),
        "m_dispute_status_filed": ("待您答复", "Waiting for your answer"),
        "m_dispute_status_mediation": ("监管调解中", "In mediation"),
        "m_dispute_status_decided": ("已处理，待消费者确认", "Decided, consumer to confirm"),
        "m_dispute_status_confirmed": ("已办结", "Closed"),
        "m_dispute_status_reopened": ("消费者申请复核", "Reopened"),
        "m_your_answer": ("您的答复", "Your answer"),
        "m_offer": ("愿意退还（元，可不填）", "You offer back (yuan, optional)"),
        "m_send_answer": ("提交答复", "Send answer"),
        "m_decision": ("监管决定", "Regulator's decision"),
        "m_decision_refund": ("全额退款", "Full refund"),
        "m_decision_partial": ("部分补偿", "Partial compensation"),
        "m_decision_reject": ("不支持投诉", "Complaint rejected"),
        "m_timeline": ("处理过程", "Timeline"),
        "m_step_filed": ("消费者投诉", "Filed"),
        "m_step_answered": ("商户答复", "Answered"),
        "m_step_decided": ("监管决定", "Decided"),
        "m_step_confirmed": ("消费者确认", "Confirmed"),
        "m_step_reopened": ("申请复核", "Reopened"),
        "m_step_escalated": ("逾期升级", "Escalated"),
        "m_step_deemed-confirmed": ("视为确认", "Deemed confirmed"),
        "m_deadline_merchant": ("答复期限", "Answer by"),
        "m_deadline_regulator": ("监管处理期限", "Regulator decides by"),
        "m_deadline_consumer": ("消费者确认期限", "Consumer confirms by"),
        # what the services say
        "m_svc_product_refused": ("该卡产品不符合规定，不能销售", "this product may not be sold"),
        "m_svc_price_above_face": (
            "售价不得高于卡面值",
            "the price may not be above the face value",
        ),
        "m_svc_anon_limit": ("不记名卡售价不得超过 {limit} 元", "at most {limit} yuan (anonymous)"),
        "m_svc_reg_limit": ("记名卡售价不得超过 {limit} 元", "at most {limit} yuan (registered)"),
        "m_svc_face_limit": (
            "面值不得超过 {limit} 元",
            "the face value may be at most {limit} yuan",
        ),
        "m_svc_anon_validity": (
            "不记名卡有效期至少 {days} 天（3 年）",
            "an anonymous card is valid at least {days} days",
        ),
        "m_svc_reg_validity": ("记名卡不设有效期，请留空", "a registered card does not expire"),
        "m_svc_clause": (
            "条款含有“{clause}”：卡产品不得拒绝退款或使余额作废",
            "the terms say “{clause}”: no product may refuse refunds or forfeit a balance",
        ),
        "m_svc_no_products": ("当前状态（{status}）不能新建卡产品", "{status}: no new products"),
        "m_svc_no_code": (
            "没有这个有效的核销码，请顾客重新出示",
            "no such live code here; ask for a new one",
        ),
        "m_svc_code_used": (
            "该核销码已用过，请顾客重新出示",
            "this code was used; ask for a new one",
        ),
        "m_svc_code_expired": (
            "该核销码已过期，请顾客重新出示",
            "this code expired; ask for a new one",
        ),
        "m_svc_code_elsewhere": ("该核销码属于其他商户", "this code is for another merchant"),
        "m_svc_above_consent": (
            "顾客用此码同意的用量为 {most}，不能核销 {asked}（储值卡以分计）",
            "the customer agreed to {most}, not {asked}",
        ),
        "m_svc_card_short": (
            "卡内只剩 {left}，不能核销 {asked}（储值卡以分计）",
            "only {left} left; {asked} cannot be redeemed",
        ),
        "m_svc_too_many": (
            "尝试次数过多，请 {seconds} 秒后再试",
            "too many tries; wait {seconds} s",
        ),
        "m_svc_no_redeem": ("当前状态不能核销", "this merchant may not redeem cards now"),
        "m_svc_answered": ("该投诉已答复", "this complaint was already answered"),
        "m_svc_dispute_moved": ("该投诉已进入“{status}”，不再接受答复", "now {status}: no answer"),
        "m_svc_offer_max": ("最多为实付金额 {fen}", "at most the {fen} paid"),
        "m_svc_request_done": ("该申请已处理（{status}）", "this request was already {status}"),
        "m_err_code_malformed": (
            "这不是有效的核销码，请重新扫码或输入 6 位数字",
            "not a redemption code; scan again or type the 6 digits",
        ),
        "m_err_code_expired": (
            "该核销码已过期，请顾客重新出示",
            "this code expired; ask for a new one",
        ),
        "m_err_code_refused": (
            "该核销码无法验证，请顾客刷新后重新出示",
            "this code cannot be verified; ask the customer for a new one",
        ),
    }
)

# -- the services' words ------------------------------------------------------------------

_SERVICE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"this product may not be sold", "m_svc_product_refused"),
        (r"the price may not be above the card's face value", "m_svc_price_above_face"),
        (
            r"an anonymous card may not be sold for more than (?P<limit>[\d,.]+) yuan",
            "m_svc_anon_limit",
        ),
        (
            r"a registered card may not be sold for more than (?P<limit>[\d,.]+) yuan",
            "m_svc_reg_limit",
        ),
        (r"the face value may not be above (?P<limit>[\d,.]+) yuan", "m_svc_face_limit"),
        (
            r"an anonymous card must be valid for at least (?P<days>\d+) days.*",
            "m_svc_anon_validity",
        ),
        (r"a registered card does not expire; leave validity empty", "m_svc_reg_validity"),
        (r"the terms say ['\"](?P<clause>.+?)['\"]: .*", "m_svc_clause"),
        (r"a (?P<status>\w+) merchant cannot define products", "m_svc_no_products"),
        (r"no such live code at this merchant.*", "m_svc_no_code"),
        (r"this code has already been used.*", "m_svc_code_used"),
        (r"this code has expired.*", "m_svc_code_expired"),
        (r"this code was issued for another merchant", "m_svc_code_elsewhere"),
        (
            r"the customer agreed to (?P<most>\d+) units with this code, not (?P<asked>\d+)",
            "m_svc_above_consent",
        ),
        (
            r"the card has (?P<left>\d+) units left; (?P<asked>\d+) cannot be redeemed",
            "m_svc_card_short",
        ),
        (r"too many attempts; try again in (?P<seconds>\d+) seconds", "m_svc_too_many"),
        (r"this merchant may not redeem cards now", "m_svc_no_redeem"),
        (r"this complaint was already answered", "m_svc_answered"),
        (r"this dispute is (?P<status>\w+); it no longer takes an answer", "m_svc_dispute_moved"),
        (
            r"(?:an offer is at most the )?(?:0 to )?(?P<fen>\d+) fen(?: paid for the card)?",
            "m_svc_offer_max",
        ),
        (r"this request was already (?P<status>\w+)", "m_svc_request_done"),
        (r"required", "m_err_required"),
        (r"at most (?P<n>\d+) characters", "m_err_too_long"),
    )
)
"""What the services say (in English), in the page's words; anything else is shown as said."""


def _say(lang: str, message: str) -> str:
    """A service's message in the visitor's language (the services speak English)."""
    if lang == "en":
        return message
    for pattern, key in _SERVICE_WORDS:
        found = pattern.fullmatch(message)
        if found:
            values = {name: _said_value(lang, name, v) for name, v in found.groupdict().items()}
            return translate(lang, key, **values)
    return message


def _said_value(lang: str, name: str, value: str) -> str:
    if name == "fen":
        return yuan(int(value))
    if name == "status":
        for prefix in ("m_status_", "m_refund_status_", "m_dispute_status_"):
            if f"{prefix}{value}" in MESSAGES:
                return translate(lang, f"{prefix}{value}")
    return value


def _said(lang: str, errors: Mapping[str, str]) -> dict[str, str]:
    return {name: _say(lang, message) for name, message in errors.items()}


# -- reasons in plain words --------------------------------------------------------------


def _label(feature: str, lang: str) -> str:
    key = f"m_f_{feature}"
    if key in MESSAGES:
        return translate(lang, key)
    return LABELS.get(feature, feature.replace("_", " "))


def _shown(feature: str, value: object, lang: str) -> str:
    """A feature's value as a merchant reads it: yuan for money, yes/no for facts."""
    if value is None:
        return translate(lang, "m_no_data")
    if feature in BOOLEAN_FEATURES:
        return translate(lang, "m_yes" if value in (True, 1, 1.0) else "m_no")
    if isinstance(value, str):
        key = f"m_cat_{value}"
        return translate(lang, key) if key in MESSAGES else value
    if not isinstance(value, (int, float)):
        return str(value)
    number = float(value)
    if feature == "tax_arrears_fen":
        return yuan(round(number))
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}"


def _action(feature: str, value: object, reference: object) -> str:
    """Which way to move a feature that raised the risk (a message key)."""
    if value is None:
        return "m_do_report"
    direction = MONOTONE.get(feature, 0)
    numbers = (int, float)
    if (
        direction
        and isinstance(value, numbers)
        and isinstance(reference, numbers)
        and (float(value) - float(reference)) * direction <= 0
    ):
        return "m_do_keep"
    specific = f"m_do_{feature}"
    if specific in MESSAGES:
        return specific
    return {1: "m_do_lower", -1: "m_do_raise"}.get(direction, "m_do_typical")


@dataclass(frozen=True)
class Explained:
    """One reason of a rating, said in the visitor's language, and what would improve it."""

    feature: str
    said: str
    advice: str
    source: str | None


def explain(reason: Mapping[str, Any], lang: str) -> Explained:
    """A stored reason (``scoring.rating.Reason.to_dict``) as two sentences and its source.

    The advice follows the feature's declared direction (``scoring.MONOTONE``: +1 means more
    is riskier, so bring it down) against the reference value, a typical merchant's.
    """
    feature = str(reason["feature"])
    value, reference = reason.get("value"), reason.get("reference")
    label = _label(feature, lang)
    shown, typical = _shown(feature, value, lang), _shown(feature, reference, lang)
    points = f"{float(reason.get('contribution', 0.0)) * 100:.1f}"
    record = reason.get("record")
    return Explained(
        feature=feature,
        said=translate(lang, "m_reason", label=label, value=shown, typical=typical, points=points),
        advice=translate(
            lang,
            "m_improve",
            label=label,
            value=shown,
            typical=typical,
            action=translate(lang, _action(feature, value, reference)),
        ),
        source=translate(
            lang,
            "m_reason_source",
            provenance=record.get("provenance", ""),
            as_of=record.get("as_of", ""),
        )
        if isinstance(record, dict)
        else None,
    )


# -- forms ------------------------------------------------------------------------------


def parse_yuan(text: str) -> int | None:
    """``800``, ``800.5``, ``¥1,000.00`` → fen; anything else → None."""
    cleaned = _SPACE.sub("", text).replace(",", "").replace("，", "").lstrip("¥￥")
    found = _YUAN.match(cleaned)
    if found is None:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def _count(text: str) -> int | None:
    cleaned = text.strip()
    return int(cleaned) if _COUNT.match(cleaned) else None


def _product_draft(data: Mapping[str, str], lang: str) -> tuple[ProductDraft, dict[str, str]]:
    """The draft the form describes, and what is wrong with its fields before the rules."""
    errors: dict[str, str] = {}
    name = data.get("name", "").strip()
    if not name:
        errors["name"] = translate(lang, "m_err_required")
    elif len(name) > MAX_NAME:
        errors["name"] = translate(lang, "m_err_too_long", n=MAX_NAME)
    kind = data.get("kind", "")
    if kind not in {"stored_value", "sessions"}:
        errors["kind"] = translate(lang, "m_err_kind")
    price = parse_yuan(data.get("price", ""))
    if not price:
        errors["price"] = translate(lang, "m_err_yuan")
    units_text = data.get("units", "")
    units = parse_yuan(units_text) if kind == "stored_value" else _count(units_text)
    if not units:
        errors["units"] = translate(lang, "m_err_yuan" if kind == "stored_value" else "m_err_count")
    validity_text = data.get("validity_days", "").strip()
    validity = _count(validity_text) if validity_text else None
    if validity_text and not (validity and validity <= MAX_VALIDITY_DAYS):
        errors["validity_days"] = translate(lang, "m_err_days")
    terms = data.get("terms", "")
    if len(terms) > MAX_TERMS:
        errors["terms"] = translate(lang, "m_err_too_long", n=MAX_TERMS)
    draft = ProductDraft(
        name=name,
        kind=kind,
        price=price or 0,
        units=units or 0,
        validity_days=validity,
        anonymous=data.get("anonymous") in {"on", "1", "true"},
        terms=terms,
    )
    return draft, errors


def _refund_answer(data: Mapping[str, str], lang: str) -> tuple[str, dict[str, str]]:
    answer = data.get("answer", "").strip()
    if len(answer) > MAX_TEXT:
        return answer, {"answer": translate(lang, "m_err_too_long", n=MAX_TEXT)}
    return answer, {}


def _errors_of(exc: Exception, default_field: str, lang: str) -> dict[str, str]:
    """A service's refusal as field errors; one without fields goes beside ``default_field``."""
    if isinstance(exc, qr.QrError):  # its words are for consumers at a counter code
        key = (
            "m_err_code_malformed"
            if isinstance(exc, qr.MalformedCode)
            else "m_err_code_expired"
            if isinstance(exc, qr.ExpiredCode)
            else "m_err_code_refused"
        )
        return {default_field: translate(lang, key)}
    fields = exc.fields if isinstance(exc, AppError) else {}
    return _said(lang, fields) if fields else {default_field: _say(lang, str(exc))}


def _new_key() -> str:
    return uuid.uuid4().hex


# -- what the pages show ---------------------------------------------------------------


@dataclass(frozen=True)
class PendingRefund:
    """A refund request and what accepting it would pay back now."""

    request: RefundRequest
    refundable: int


async def _pending_refunds(db: Db, requests: Sequence[RefundRequest]) -> list[PendingRefund]:
    """The requests still waiting, each with the card's refundable amount from the ledger."""
    ledger = escrow_ledger(db)
    return [
        PendingRefund(r, (await ledger.card(r.merchant_id, r.card_id)).outstanding)
        for r in requests
        if r.status == RefundStatus.PENDING
    ]


class MerchantConsoleController(Controller):
    """The merchant's own pages under ``/console``."""

    path = "/console"
    include_in_schema = False
    guards = [requires(Role.MERCHANT)]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    # -- overview -----------------------------------------------------------------------

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Status, grade with reasons and advice, sales and settlement, what waits."""
        lang = lang_of(request)
        merchant = await merchants.own_merchant(db, me)
        industry = next(
            (i for i in await merchants.industries(db) if i.code == merchant.industry), None
        )
        rating = await ratings.current(db, merchant.id)
        history = list(await ratings.history(db, merchant.id)) if rating else []
        figures = await escrow.settlement(db, merchant.id)
        to_answer = await disputes.merchant_disputes(db, me, DisputeStatus.FILED.value)
        refunds = await cards.merchant_refund_requests(db, me, RefundStatus.PENDING.value)
        reasons = [explain(r, lang) for r in rating.reasons] if rating else []
        return page(
            request,
            "merchant/overview.html",
            merchant=merchant,
            blocks=await blocks.of(db, merchant.id),
            industry=(industry.name_en if lang == "en" else industry.name_zh) if industry else "",
            grade=rating.grade if rating else UNRATED,
            colour=colour(rating.grade if rating else UNRATED),
            rating=rating,
            rated_at=when(rating.rated_at) if rating else "",
            reasons=reasons,
            history=[
                {
                    "at": when(c.changed_at),
                    "from_grade": c.from_grade or "—",
                    "to_grade": c.to_grade,
                    "cause": c.cause,
                }
                for c in reversed(history[-5:])
            ],
            figures=figures,
            custody_pct=merchant.custody_ratio_bp / 100,
            insured_pct=(10_000 - merchant.custody_ratio_bp) / 100,
            complaints_waiting=len(to_answer),
            refunds_waiting=len(refunds),
            ratio_changes=[
                translate(
                    lang,
                    "m_ratio_followed",
                    at=when(m.taken_at),
                    grade=m.params["grade"],
                    before=f"{m.params['from'] / 100:g}",
                    after=f"{m.params['to'] / 100:g}",
                )
                for m in reversed(await measures.measures_of(db, merchant.id))
                if m.kind == MeasureKind.GRADE_ACTION
            ][:5],
        )

    # -- products -----------------------------------------------------------------------

    async def _products(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        form: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        error: str | None = None,
        done: str | None = None,
    ) -> Template:
        merchant = await merchants.own_merchant(db, me)
        shown = {"name", "kind", "price", "units", "validity_days", "anonymous", "terms"}
        rules = get_settings().cards
        return page(
            request,
            "merchant/products.html",
            merchant=merchant,
            limits={
                "limit": yuan(rules.anonymous_limit),
                "registered": yuan(rules.registered_limit),
                "days": rules.anonymous_min_validity_days,
            },
            products=await merchants.products_of(db, merchant.id, active_only=False),
            form=form or {"kind": "stored_value"},
            errors=errors or {},
            other_errors=[v for k, v in (errors or {}).items() if k not in shown],
            error=error,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/products")
    async def products(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """The merchant's products and a form for a new one."""
        return await self._products(request, db, me, done=done)

    @post("/products")
    async def create_product(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Create a product; every rule it breaks is shown beside its field."""
        same_origin(request)
        lang = lang_of(request)
        draft, errors = _product_draft(data, lang)
        if errors:
            return await self._products(
                request, db, me, form=data, errors=errors, error=translate(lang, "m_form_errors")
            )
        try:
            async with db.begin():
                await merchants.create_product(db, me, draft)
        except (Invalid, Conflict) as exc:
            return await self._products(
                request,
                db,
                me,
                form=data,
                errors=_said(lang, exc.fields),
                error=_say(lang, str(exc)),
            )
        return back_to("/console/products?done=created")

    @post("/products/{product_id:uuid}/retire")
    async def retire_product(
        self, request: Request[Any, Any, Any], product_id: FromPath[uuid.UUID], db: Db, me: Me
    ) -> Redirect:
        """Stop selling a product (another merchant's is 'not found')."""
        same_origin(request)
        async with db.begin():
            await merchants.retire_product(db, me, product_id)
        return back_to("/console/products?done=retired")

    # -- counter QR ---------------------------------------------------------------------

    @get("/qr")
    async def counter_qr(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """The counter code and its downloads (served by the API, with this sign-in)."""
        async with db.begin():
            merchant = await merchants.own_merchant(db, me)
            ring = await keyring(db, signing=True)
        return page(
            request,
            "merchant/qr.html",
            merchant=merchant,
            url=qr.counter_url(get_settings().cards.public_base_url, merchant.id, ring),
            not_selling=await cards.selling_problem(db, merchant),
        )

    # -- redeeming ----------------------------------------------------------------------

    @get("/redeem")
    async def redeem_form(self, request: Request[Any, Any, Any]) -> Template:
        """Type or paste the customer's code."""
        return page(
            request, "merchant/redeem.html", form={"measure": "yuan"}, key=_new_key(), errors={}
        )

    @post("/redeem")
    async def redeem(self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me) -> Template:
        """Redeem through the same use case as the API; the receipt or the error beside it."""
        same_origin(request)
        lang = lang_of(request)
        code = _SPACE.sub("", data.get("code", ""))
        measure = "sessions" if data.get("measure") == "sessions" else "yuan"
        units = (parse_yuan if measure == "yuan" else _count)(data.get("units", ""))
        key = data.get("key", "")
        errors: dict[str, str] = {}
        if not code:
            errors["code"] = translate(lang, "m_err_required")
        elif len(code) > MAX_CODE:
            errors["code"] = translate(lang, "m_err_too_long", n=MAX_CODE)
        if not units:
            errors["units"] = translate(lang, "m_err_yuan" if measure == "yuan" else "m_err_count")
        if len(key) not in KEY_LENGTHS:
            key = _new_key()
            errors.setdefault("code", translate(lang, "m_err_form_stale"))
        form = {"code": code, "measure": measure, "units": data.get("units", "")}
        receipt = None
        if not errors and units:
            digits = code if _DIGITS.match(code) else None
            try:
                receipt = await redeem_counting_digits(
                    db,
                    me,
                    token=None if digits else code,
                    digits=digits,
                    units=units,
                    idempotency_key=key,
                )
            except escrow.InsufficientBalance as exc:
                errors = _errors_of(exc, "units", lang)
            except (AppError, escrow.EscrowError, qr.QrError) as exc:
                errors = _errors_of(exc, "code", lang)
        if receipt is not None:
            return page(
                request,
                "merchant/redeem.html",
                form={"measure": measure},
                key=_new_key(),
                errors={},
                receipt=receipt,
                measure=measure,
            )
        return page(request, "merchant/redeem.html", form=form, key=key, errors=errors)

    # -- refund requests ----------------------------------------------------------------

    async def _refunds(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        answer: str = "",
        done: str | None = None,
    ) -> Template:
        found = await cards.merchant_refund_requests(db, me, None)
        return page(
            request,
            "merchant/refunds.html",
            pending=await _pending_refunds(db, found),
            answered=[r for r in found if r.status != RefundStatus.PENDING],
            failed=failed,
            errors=errors or {},
            answer=answer,
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/payables")
    async def payables(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """What the merchant owes consumers after refunds, by age, and the pay button."""
        merchant_id = payables.merchant_of(me)
        found = await payables.payables_of(db, [merchant_id])
        lang = lang_of(request)
        return page(
            request,
            "merchant/payables.html",
            flash=translate(lang, "m_payables_done_paid") if done == "paid" else "",
            error="",
            owed=sum(p.owed for p in found),
            claimed=sum(p.claimed for p in found),
            by_age=payables.by_age(found, utcnow()),
            payables=list(reversed(found)),
            days=get_settings().cards.payable_business_days,
            key=_new_key(),
        )

    @post("/payables/pay")
    async def pay_payables(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Redirect:
        """Pay everything owed now at the provider's pay page (the sandbox's here)."""
        same_origin(request)
        key = data.get("key", "")
        if not 8 <= len(key) <= 200:  # noqa: PLR2004 - the API's Idempotency-Key bounds
            key = _new_key()
        async with db.begin():
            started = await payables.start_payment(db, me, SandboxProvider(), key)
        return back_to(started.pay_url)

    @get("/refunds")
    async def refunds(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Refund requests outside cooling-off, to accept or refuse."""
        return await self._refunds(request, db, me, done=done)

    @post("/refunds/{request_id:uuid}/accept")
    async def accept_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Accept: the ledger refunds the card's outstanding amount."""
        return await self._answer_refund(request, request_id, data, db, me, accept=True)

    @post("/refunds/{request_id:uuid}/refuse")
    async def refuse_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Refuse, saying why."""
        return await self._answer_refund(request, request_id, data, db, me, accept=False)

    async def _answer_refund(
        self,
        request: Request[Any, Any, Any],
        request_id: uuid.UUID,
        data: Mapping[str, str],
        db: Db,
        me: Me,
        *,
        accept: bool,
    ) -> Template | Redirect:
        same_origin(request)
        lang = lang_of(request)
        answer, errors = _refund_answer(data, lang)
        if not accept and not answer:
            errors = {"answer": translate(lang, "m_refuse_needs_reason")}
        if not errors:
            try:
                async with db.begin():
                    await cards.answer_refund(db, me, request_id, accept=accept, answer=answer)
            except (Invalid, Conflict, escrow.EscrowError) as exc:
                errors = _errors_of(exc, "answer", lang)
        if errors:
            return await self._refunds(
                request, db, me, failed=request_id, errors=errors, answer=answer
            )
        return back_to(f"/console/refunds?done={'accepted' if accept else 'refused'}")

    # -- complaints ---------------------------------------------------------------------

    async def _complaints(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        *,
        failed: uuid.UUID | None = None,
        errors: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        done: str | None = None,
    ) -> Template:
        now = utcnow()
        views = await disputes.merchant_disputes(db, me)
        return page(
            request,
            "merchant/complaints.html",
            views=views,
            overdue={
                v.dispute.id
                for v in views
                if v.dispute.status == DisputeStatus.FILED
                and v.dispute.deadline_at is not None
                and v.dispute.deadline_at < now
            },
            failed=failed,
            errors=errors or {},
            form=form or {},
            notice=said_done(lang_of(request), "m_done_", done),
        )

    @get("/complaints")
    async def complaints(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: Done = None
    ) -> Template:
        """Complaints about the merchant, those waiting for its answer first."""
        return await self._complaints(request, db, me, done=done)

    @post("/complaints/{dispute_id:uuid}/answer")
    async def answer_complaint(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Answer (once): the dispute goes to the regulator for mediation."""
        same_origin(request)
        lang = lang_of(request)
        text = data.get("text", "")
        offer_text = data.get("offer", "").strip()
        offer = parse_yuan(offer_text) if offer_text else None
        errors: dict[str, str] = {}
        if offer_text and offer is None:
            errors["offer"] = translate(lang, "m_err_yuan")
        if not text.strip():
            errors["text"] = translate(lang, "m_err_required")
        if not errors:
            try:
                async with db.begin():
                    await disputes.answer(db, me, dispute_id, text, offer)
            except (Invalid, Conflict) as exc:
                said = _errors_of(exc, "text", lang)
                errors = {"offer" if k == "offer_fen" else k: v for k, v in said.items()}
        if errors:
            return await self._complaints(
                request, db, me, failed=dispute_id, errors=errors, form=data
            )
        return back_to("/console/complaints?done=answered")


__all__ = ["MerchantConsoleController", "explain", "parse_yuan"]
