"""How the analysis writes its numbers in reports and reasons, in one place."""

from __future__ import annotations

import math

TINY_P = 1e-10
"""P-values below it are written ``< 1e-10``: more digits say nothing more."""


def p_value(p: float) -> str:
    """A p-value for reading: ``0.032``, ``0.00041``, ``< 1e-10``; ``n/a`` when undefined."""
    if p is None or math.isnan(p):
        return "n/a"
    if p < TINY_P:
        return f"< {TINY_P:.0e}"
    if p < 0.001:
        return f"{p:.2g}"
    return f"{p:.3f}"


def signed(value: float, digits: int = 1, unit: str = "") -> str:
    """``+1.2``, ``-0.5 ms``; ``n/a`` when undefined."""
    if value is None or math.isnan(value):
        return "n/a"
    text = f"{value:+.{digits}f}"
    if text in ("+0." + "0" * digits, "-0." + "0" * digits):
        text = "0." + "0" * digits if digits else "0"
    return f"{text} {unit}" if unit else text


def percent(value: float, digits: int = 1) -> str:
    """An effect in percent: ``+12.3%``."""
    text = signed(value, digits)
    return text if text == "n/a" else text + "%"


def interval(lower: float, upper: float, digits: int = 1) -> str:
    """An interval of effects in percent: ``[+1.2, +3.4]``."""
    if lower is None or upper is None or math.isnan(lower) or math.isnan(upper):
        return "n/a"
    return f"[{signed(lower, digits)}, {signed(upper, digits)}]"
