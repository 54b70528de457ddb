"""Pure core: phone normalisation and SMS part counting, as tables of cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.encoding import GSM7_BASIC, GSM7_EXTENSION, measure
from bot.phones import InvalidPhoneNumber, to_e164, to_e164_or_raw


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+14155550123", "US", "+14155550123"),
        ("(415) 555-0123", "US", "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("0411 111 111", "AU", "+61411111111"),
        ("61411111111", "US", "+61411111111"),
        ("+61 411 111 111", "US", "+61411111111"),
        ("0044 7777 777777", "GB", "+447777777777"),
        ("07777 777777", "GB", "+447777777777"),
        ("011 44 7777 777777", "US", "+447777777777"),
        (" +447777777777 ", "GB", "+447777777777"),
        ("+44777777777", "US", "+44777777777"),  # ClickSend test number: possible, not valid
    ],
)
def test_numbers_normalise_to_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("hello", "not a phone number"),
        ("+1", "not a phone number"),
        ("12", "wrong length"),
        ("+1" + "2" * 40, "longer than 32"),
        ("0412 345 678", "not a valid number in region US"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(raw, problem):
    with pytest.raises(InvalidPhoneNumber, match=problem):
        to_e164(raw, "US")


def test_alpha_sender_ids_are_kept_as_given():
    assert to_e164_or_raw("ACME", "US") == "ACME"


@pytest.mark.parametrize(
    ("body", "encoding", "parts"),
    [
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("a" * 918, "gsm7", 6),
        ("a" * 919, "gsm7", 7),
        ("€" * 80, "gsm7", 1),  # extension characters count twice
        ("€" * 81, "gsm7", 2),
        ("é" * 160, "gsm7", 1),
        ("ü" * 70, "gsm7", 1),
        ("ć" * 70, "ucs2", 1),
        ("ć" * 71, "ucs2", 2),
        ("ć" * 134, "ucs2", 2),
        ("ć" * 135, "ucs2", 3),
        ("😀" * 35, "ucs2", 1),  # surrogate pairs count as two UCS-2 units
        ("😀" * 36, "ucs2", 2),
    ],
)
def test_parts_follow_clicksend_tables(body, encoding, parts):
    size = measure(body)
    assert (size.encoding, size.parts) == (encoding, parts)


@given(st.text(alphabet=sorted(GSM7_BASIC), min_size=1, max_size=1300))
def test_gsm_parts_formula(body):
    n = len(body)
    assert measure(body).parts == (1 if n <= 160 else -(-n // 153))


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION) + ["ж"], min_size=1, max_size=600))
def test_one_non_gsm_character_makes_the_whole_message_ucs2(body):
    size = measure(body)
    assert size.encoding == ("ucs2" if "ж" in body else "gsm7")
