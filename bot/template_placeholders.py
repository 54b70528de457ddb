"""ClickSend and Routee placeholders turned into Jinja expressions (pure).

ClickSend templates write ``(First Name)``, ``(Last Name)``, ``(Custom 1)``...; Routee
writes ``[~{firstName}]``. Both are rewritten into the equivalent ``{{ contact.… }}``
before a template is compiled, so the three styles render alike and can be mixed.
Only the placeholders in :data:`CLICKSEND_PLACEHOLDERS` are recognised (case and spacing
are free: ``(first name)``, ``( First  Name )``); any other words in brackets are plain
text and stay as written. A Routee label that is not a standard contact field reads the
contact's custom field of that name (``contact.fields["label"]``). Text inside Jinja
tags (``{{ … }}``, ``{% … %}``, ``{# … #}``) is left alone.

:func:`translate` also returns an :class:`OffsetMap`, so an error found in the rewritten
text is reported at its line and column in what the author typed.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

__all__ = ["CLICKSEND_PLACEHOLDERS", "ROUTEE_LABELS", "OffsetMap", "to_jinja", "translate"]

CLICKSEND_PLACEHOLDERS: dict[str, str] = {
    "first name": "contact.first_name",
    "firstname": "contact.first_name",
    "last name": "contact.last_name",
    "lastname": "contact.last_name",
    "email": "contact.email",
    "email address": "contact.email",
    "phone": "contact.phone_number",
    "phone number": "contact.phone_number",
    "mobile": "contact.phone_number",
    "mobile number": "contact.phone_number",
    "custom 1": "contact.custom_1",
    "custom 2": "contact.custom_2",
    "custom 3": "contact.custom_3",
    "custom 4": "contact.custom_4",
}
ROUTEE_LABELS: dict[str, str] = {
    "firstname": "contact.first_name",
    "lastname": "contact.last_name",
    "email": "contact.email",
    "mobile": "contact.phone_number",
    "phone": "contact.phone_number",
    "phonenumber": "contact.phone_number",
    "custom1": "contact.custom_1",
    "custom2": "contact.custom_2",
    "custom3": "contact.custom_3",
    "custom4": "contact.custom_4",
}

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_CLICKSEND = re.compile(r"\(\s*([A-Za-z]+(?:\s+[A-Za-z0-9]+)?)\s*\)")
_ROUTEE = re.compile(r"\[~\{\s*([\w .-]{1,64}?)\s*\}\]")


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Positions in rewritten text -> positions in the original."""

    starts: tuple[int, ...] = ()  # where each replacement starts in the rewritten text
    ends: tuple[int, ...] = ()  # where it ends
    shifts: tuple[int, ...] = ()  # total (rewritten - original) length up to its end

    def original(self, position: int) -> int:
        index = bisect.bisect_right(self.starts, position) - 1
        if index < 0:
            return position
        if position < self.ends[index]:  # inside a replacement: its placeholder's start
            return self.starts[index] - (self.shifts[index - 1] if index else 0)
        return position - self.shifts[index]


def to_jinja(body: str) -> str:
    """``body`` with ClickSend and Routee placeholders as Jinja expressions."""
    return translate(body)[0]


def translate(body: str) -> tuple[str, OffsetMap]:
    """Like :func:`to_jinja`, with the map back to positions in ``body``."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    shifts: list[int] = []
    cursor = length = shift = 0
    for start, end, replacement in _replacements(body):
        parts += [body[cursor:start], replacement]
        length += start - cursor
        starts.append(length)
        length += len(replacement)
        ends.append(length)
        shift += len(replacement) - (end - start)
        shifts.append(shift)
        cursor = end
    parts.append(body[cursor:])
    return "".join(parts), OffsetMap(tuple(starts), tuple(ends), tuple(shifts))


def _replacements(body: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    position = 0
    for tag in _JINJA_TAG.finditer(body):
        found += _in_text(body, position, tag.start())
        position = tag.end()
    return found + _in_text(body, position, len(body))


def _in_text(body: str, start: int, end: int) -> list[tuple[int, int, str]]:
    found = []
    for match in _CLICKSEND.finditer(body, start, end):
        target = CLICKSEND_PLACEHOLDERS.get(" ".join(match.group(1).lower().split()))
        if target:
            found.append((match.start(), match.end(), "{{ " + target + " }}"))
    for match in _ROUTEE.finditer(body, start, end):
        label = match.group(1)
        target = ROUTEE_LABELS.get(re.sub(r"[\s_.-]", "", label.lower()))
        expression = target or f'contact.fields["{label}"]'
        found.append((match.start(), match.end(), "{{ " + expression + " }}"))
    return sorted(found)
