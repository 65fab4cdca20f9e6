"""Reasons in plain words: what a signal is called and which way it pushed the grade."""

from __future__ import annotations

from typing import Any

from scoring import CATALOGUE

BOOLEAN_FEATURES = frozenset(k.feature for k in CATALOGUE if k.type == "bool")

LABELS: dict[str, str] = {
    "registration_status": "registration status",
    "registration_age_years": "years in business",
    "registration_capital_change": "change of registered capital (%)",
    "registration_abnormal_operations": "on the abnormal-operations list (经营异常)",
    "registration_licence_revoked": "business licence revoked",
    "registration_deregistration_filed": "deregistration filed",
    "tax_arrears_fen": "overdue tax (欠税)",
    "tax_filing_gap_months": "months without a tax return",
    "court_enforcement_cases": "open court enforcement cases (被执行人)",
    "court_dishonest_debtor": "listed as a dishonest debtor (失信)",
    "credit_public_rating": "public credit rating",
    "credit_penalties": "administrative penalties in 3 years",
    "social_security_headcount": "employees with social insurance",
    "social_security_contribution_gap_months": "months of unpaid social insurance (社保断缴)",
    "bank_inflow_trend_pct": "bank inflows over 3 months (%)",
    "bank_frozen": "a bank account is frozen",
    "complaints_count_30d": "complaints in the last 30 days",
    "complaints_count_7d": "complaints in the last 7 days",
    "sales_surge_pct": "prepaid sales against the usual (%)",
    "sales_max_discount_pct": "deepest card discount (%)",
    "sales_outstanding_to_revenue": "unredeemed card balances against sales",
}


def _shown(value: object) -> str:
    if value is None:
        return "no data"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def reason_text(reason: dict[str, Any]) -> str:
    """One stored reason as a sentence: the signal, its value, and its weight on the risk."""
    feature = str(reason["feature"])
    label = LABELS.get(feature, feature.replace("_", " "))
    value = reason.get("value")
    if feature == "tax_arrears_fen" and isinstance(value, (int, float)):
        shown = f"¥{value / 100:,.2f}"
    elif feature in BOOLEAN_FEATURES and value is not None:
        shown = "yes" if value in (True, 1, 1.0) else "no"
    else:
        shown = _shown(value)
    points = float(reason["contribution"]) * 100
    return f"{label}: {shown} (raises the probability of default by {points:.1f} points)"
