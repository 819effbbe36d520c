"""The NHS number check digit (modulus 11).

Weights 10..2 on the first nine digits; the check digit is ``11 - (sum mod 11)``, where 11 means 0
and 10 means the number can never be valid. The official BaRS examples' 4857773456 and 3478526985
fail it (BARS-API.md §12.7), so callers report a failure as a warning, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckDigit:
    valid: bool
    expected: int | None  # None: no digit can make the first nine valid (remainder gives 10)
    found: int


def is_ten_digits(value: str) -> bool:
    return len(value) == 10 and value.isascii() and value.isdigit()


def check_digit(value: str) -> CheckDigit:
    """``value`` must be ten ASCII digits (see :func:`is_ten_digits`)."""
    total = sum(int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True))
    expected: int | None = 11 - total % 11
    if expected == 11:
        expected = 0
    elif expected == 10:
        expected = None
    found = int(value[9])
    return CheckDigit(valid=expected == found, expected=expected, found=found)
