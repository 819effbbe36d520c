import pytest

from tkw.validation.nhs_number import check_digit, is_ten_digits


@pytest.mark.parametrize("number", ["9476719931", "9707606312", "9054613556", "9618388816", "9000000009"])
def test_valid_nhs_numbers(number: str) -> None:
    assert is_ten_digits(number)
    assert check_digit(number).valid


@pytest.mark.parametrize(("number", "expected"), [("4857773456", 7), ("3478526985", 1)])
def test_the_official_examples_fail_the_check(number: str, expected: int) -> None:
    result = check_digit(number)
    assert not result.valid
    assert result.expected == expected


def test_remainder_ten_means_no_valid_check_digit() -> None:
    # 1000000010: 1*10 + 1*2 = 12, 12 mod 11 = 1, 11 - 1 = 10
    result = check_digit("1000000010")
    assert (result.valid, result.expected) == (False, None)


@pytest.mark.parametrize(
    "value",
    ["947671993", "94767199310", "947 671 993", "\uff19\uff14\uff17\uff16\uff17\uff11\uff19\uff19\uff13\uff11", ""],
)
def test_not_ten_ascii_digits(value: str) -> None:
    assert not is_ten_digits(value)
