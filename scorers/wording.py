"""How reasons read: feature labels and numbers an officer takes in at a glance."""

from __future__ import annotations

import math

_LABELS = {
    "value_eur": "value EUR",
    "log_value_per_kg": "value per kg (log10)",
    "hs_chapter": "HS chapter",
    "hs_heading": "HS heading",
    "hs6": "HS subheading",
    "hs_missing": "HS code missing",
    "aeo": "AEO trader",
    "api_lead_minutes": "API lead minutes",
    "api_late": "API late",
}


def feature_label(name: str) -> str:
    """Readable label of a feature name.

    >>> feature_label("value_per_kg"), feature_label("hs_chapter")
    ('value per kg', 'HS chapter')
    >>> feature_label("attr_payment_type"), feature_label("measure_tax_rate")
    ('declared payment type', 'declared tax rate')
    """
    for prefix in ("attr_", "measure_"):  # the authority's own declaration fields
        if name.startswith(prefix):
            return "declared " + name[len(prefix):].replace("_", " ")
    return _LABELS.get(name, name.replace("_", " "))


def figure(value: float) -> str:
    """A number with two significant digits at most, and no exponent.

    >>> [figure(v) for v in (2.13, 38.4, 1234.6, 0.0421, -7.0, 0.0)]
    ['2.1', '38', '1235', '0.042', '-7', '0']
    """
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 10 or magnitude == 0:
        return f"{value:.0f}"
    digits = 1 - math.floor(math.log10(magnitude))
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def signed(value: float) -> str:
    """A contribution in log-odds with its sign.

    >>> signed(1.26), signed(-0.4)
    ('+1.3', '-0.4')
    """
    return f"{value:+.1f}"
