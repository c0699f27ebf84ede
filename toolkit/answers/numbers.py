"""Numbers in answers: what counts as one, and its value (used by every answer kind).

Thousands separators (``,``, thin, no-break and plain spaces: ``1 000`` is 1000; a first group
never starts with 0), signs (``-``, ``−``, ``+``), decimals (``.5``; a decimal comma as in
``1000,99`` or ``0,111``), simple fractions (``2/3``), percents, currency and glued units
(``1,000.99m²``). A digit inside a word (``AZYUK2A``) is not a number, and ``2x`` is an
expression, not the number 2. Every pattern is linear: no nested unbounded quantifiers.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = (
    r"(?:%|°[CF]?|[€£¥₹$]|m²|m³|cm²|cm³|km²|km/h|m/s|mph|kg|mg|km|cm|mm|ml|mL|min|hrs|hr|"
    r"lbs|lb|oz|ft|yd|mi|g|m|s|h|l|L)"
)
_NUMBER = re.compile(
    r"(?<![\w.])[-+−]?[$€£¥₹]?"
    r"(?:[1-9]\d{0,2}(?:(?:,|\u2009|\u202f|\u00a0| )\d{3})+(?![\d,])(?:\.\d+)?"  # 1,000.5 / 1 000
    r"|0,\d+(?![\d,])"  # 0,111: a decimal comma
    r"|\d+/\d+(?![\d/]|\.\d)"  # 2/3
    r"|\d+(?:\.\d+|,\d{1,2}(?![\d,]))?"  # 3.14, 1000,99
    r"|\.\d+)"  # .5
    rf"(?:\s?{_UNITS})?(?![\w])"
)
_NUMBER_NOISE = re.compile(r"\\[!,;: ]|\{,\}|\\text\{[^{}]*\}|\\(?:mathrm|textbf)\{[^{}]*\}")


def number_matches(text: str) -> list[re.Match[str]]:
    """Number tokens, positions kept (LaTeX spacing and ``\\text{}`` blanked, not removed)."""
    return list(_NUMBER.finditer(_NUMBER_NOISE.sub(lambda m: " " * len(m.group()), text)))


def find_numbers(text: str) -> list[str]:
    return [m.group() for m in number_matches(text)]


def parse_number(text: str | None) -> Decimal | None:
    """A candidate that is exactly one number (signs, separators, currency, units, percent
    allowed) as a Decimal; ``None`` otherwise."""
    if text is None:
        return None
    cleaned = _NUMBER_NOISE.sub(" ", str(text)).replace("\\$", "$").replace("\\%", "%").strip()
    cleaned = cleaned.rstrip(".").strip()
    if not cleaned:
        return None
    numbers = find_numbers(cleaned)
    if len(numbers) != 1 or numbers[0].strip() != cleaned:
        return None
    return _to_decimal(numbers[0])


_TOKEN = re.compile(rf"([-+−]?)[$€£¥₹]?(\.?\d[\d.,\u2009\u202f\u00a0 ]*?)(?:\s?{_UNITS})?")


def _to_decimal(token: str) -> Decimal | None:
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        return None
    sign, digits = match.group(1).replace("−", "-"), match.group(2).strip()
    if re.fullmatch(r"\d+,\d{1,2}|0,\d+", digits):
        digits = digits.replace(",", ".")  # a decimal comma
    digits = re.sub(r"[,\u2009\u202f\u00a0 ]", "", digits)
    try:
        value = Decimal(sign + digits)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def normalize_number(token: str) -> str:
    """A number as the canonical short string (``1,080`` → ``1080``, ``5.50`` → ``5.5``); text
    that is not a number is returned stripped."""
    value = _to_decimal(token)
    if value is None:
        return token.strip()
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return "0" if text in ("-0", "+0") else text
