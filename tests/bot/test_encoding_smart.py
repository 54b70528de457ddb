"""Smart encoding, part warnings and splitting, with hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_PARTS,
    SMART_REPLACEMENTS,
    is_gsm7,
    measure,
    smart_encode,
    split_parts,
)

GSM = sorted(GSM7_BASIC | GSM7_EXTENSION)
MAPPED = sorted(SMART_REPLACEMENTS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It\u2019s \u201cfine\u201d", 'It\'s "fine"'),
        ("9\u201317 \u2014 open", "9-17 - open"),
        ("Wait\u2026", "Wait..."),
        ("10\u00a0am\u202fsharp", "10 am sharp"),
        ("\u2022 one\n\u2022 two", "* one\n* two"),
        ("Acme\u2122 \u00a9 \u00ae", "AcmeTM (c) (R)"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("\u00abquoted\u00bb", '"quoted"'),
        ("tab\there", "tab here"),
        ("José ć 😀", "José ć 😀"),  # letters and emoji are never changed
    ],
)
def test_smart_encode_table(raw, expected):
    assert smart_encode(raw) == expected


def test_smart_encoding_can_turn_a_message_back_into_gsm():
    body = "Don\u2019t miss our sale \u2014 50% off\u2026"
    assert measure(body).encoding == "ucs2"
    assert measure(body, smart=True) == measure(smart_encode(body))
    assert measure(body, smart=True).encoding == "gsm7"


@pytest.mark.parametrize(
    ("body", "parts", "warning"),
    [
        ("a" * 918, 6, None),
        ("a" * 919, 7, "this message needs 7 SMS parts; messages over 6 parts are cut short"),
        ("ж" * 402, 6, None),
        ("ж" * 403, 7, "this message needs 7 SMS parts"),
    ],
)
def test_a_warning_beyond_six_parts(body, parts, warning):
    size = measure(body)
    assert size.parts == parts
    if warning is None:
        assert size.warning is None
    else:
        assert size.warning.startswith(warning)


@pytest.mark.parametrize(
    ("body", "sizes"),
    [
        ("", []),
        ("a" * 160, [160]),
        ("a" * 161, [153, 8]),
        ("a" * 152 + "€" + "a" * 10, [152, 11]),  # the escape sequence moves whole to part two
        ("€" * 81, [76, 5]),
        ("ж" * 71, [67, 4]),
        ("ж" * 66 + "😀" + "ж" * 5, [66, 6]),  # the surrogate pair moves whole
    ],
)
def test_split_parts(body, sizes):
    parts = split_parts(body)
    assert [len(p) for p in parts] == sizes
    assert "".join(parts) == body


def _reference_parts(body: str) -> int:
    """Greedy packing, the way a GSM encoder fills parts."""
    gsm = all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body)
    cost = [
        (2 if ch in GSM7_EXTENSION else 1) if gsm else (2 if ord(ch) > 0xFFFF else 1) for ch in body
    ]
    if sum(cost) <= (160 if gsm else 70):
        return 1
    capacity, parts, used = (153 if gsm else 67), 1, 0
    for c in cost:
        if used + c > capacity:
            parts, used = parts + 1, 0
        used += c
    return parts


@given(st.text(alphabet=GSM + ["ж", "😀", "é"], max_size=1300))
def test_parts_match_a_reference_packing(body):
    size = measure(body)
    assert size.parts == _reference_parts(body)
    assert size.too_long == (size.parts > MAX_PARTS)


@given(st.text(alphabet=sorted(GSM7_BASIC - {"\x1b"}), max_size=1300))
def test_without_two_unit_characters_parts_follow_the_clicksend_table(body):
    n = len(body)
    assert measure(body).parts == (1 if n <= 160 else -(-n // 153))


@given(
    st.text(alphabet=sorted(GSM7_BASIC), max_size=200),
    st.text(alphabet=sorted(GSM7_EXTENSION), max_size=200),
)
def test_extension_characters_count_two_septets(basic, extension):
    assert measure(basic + extension).units == len(basic) + 2 * len(extension)


@given(st.text(alphabet=GSM + ["ж", "😀"], min_size=1, max_size=1300))
def test_split_never_breaks_a_character_and_respects_capacity(body):
    parts = split_parts(body)
    assert "".join(parts) == body
    assert len(parts) == measure(body).parts
    if len(parts) > 1:
        gsm = is_gsm7(body)
        capacity = 153 if gsm else 67
        for part in parts:
            assert (
                measure(part).units <= capacity
                if gsm
                else len(part.encode("utf-16-le")) // 2 <= capacity
            )


@given(st.text(alphabet=GSM + MAPPED, max_size=400))
def test_smart_encoding_of_mapped_characters_is_gsm7(body):
    assert is_gsm7(smart_encode(body))


@given(st.text(max_size=300))
def test_smart_encoding_is_idempotent(body):
    once = smart_encode(body)
    assert smart_encode(once) == once


def test_every_replacement_is_gsm7_and_every_key_is_not():
    assert all(is_gsm7(value) for value in SMART_REPLACEMENTS.values())
    assert not any(is_gsm7(key) for key in SMART_REPLACEMENTS)
