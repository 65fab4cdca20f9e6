"""Words on the pages, in Chinese (the default) and English.

Each area's module adds its own messages with :func:`add`; a template says ``t("key")``.
A key without a translation shows the key itself, which a test looks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"

MESSAGES: dict[str, tuple[str, str]] = {}
"""key -> (Chinese, English); ``{name}`` placeholders are filled by keyword."""


def add(messages: Mapping[str, tuple[str, str]]) -> None:
    """Register an area's messages; a key defined twice with different words is a mistake."""
    for key, words in messages.items():
        held = MESSAGES.get(key)
        if held is not None and held != words:
            msg = f"message {key!r} is defined twice with different words"
            raise ValueError(msg)
        MESSAGES[key] = words


def translate(lang: str, key: str, **values: Any) -> str:  # noqa: ANN401
    """The words for ``key`` in ``lang`` (Chinese unless ``en``), placeholders filled."""
    words = MESSAGES.get(key)
    if words is None:
        return key
    text = words[1] if lang == "en" else words[0]
    return text.format(**values) if values else text


add(
    {
        "brand": ("预付保", "Prepaid Guard"),
        "tagline": (
            "预付款 100% 保障：30% 银行存管，70% 履约保证保险",
            "Every fen guaranteed: 30% in bank custody, 70% insured",
        ),
        "sign_in": ("登录", "Sign in"),
        "sign_out": ("退出", "Sign out"),
        "username": ("用户名", "User name"),
        "password": ("密码", "Password"),
        "phone": ("手机号", "Phone"),
        "sms_code": ("短信验证码", "SMS code"),
        "send_code": ("发送验证码", "Send code"),
        "staff_sign_in": ("工作人员登录", "Staff sign-in"),
        "consumer_sign_in": ("消费者登录", "Consumer sign-in"),
        "working": ("处理中…", "Working…"),
        "back": ("返回", "Back"),
        "save": ("保存", "Save"),
        "confirm": ("确认", "Confirm"),
        "cancel": ("取消", "Cancel"),
        "yuan": ("元", "yuan"),
        "not_found": ("找不到该页面", "Page not found"),
        "error_title": ("出错了", "Something went wrong"),
        "grade": ("风险等级", "Risk grade"),
        "grade_NR": ("未评级", "Not rated"),
        "language": ("English", "中文"),
        "home": ("首页", "Home"),
        "block_custody-shortfall": (
            "存管账户对账短缺，新卡销售已暂停，待监管部门核实后恢复",
            "New sales are blocked: the custody account is short of the ledger until reconciled",
        ),
        "block_policy-ended": (
            "保险保单已终止，新卡销售已暂停",
            "New sales are blocked: the insurance policy has ended",
        ),
        "block_grade-review": (
            "风险等级触发复核，新卡销售已暂停，待监管部门复核",
            "New sales are held until a regulator reviews the risk grade",
        ),
        "block_hard-stop": (
            "营业执照被吊销或已申请注销，禁止销售新卡",
            "New sales are stopped: licence revoked or deregistration filed",
        ),
    }
)
