"""Named message templates: validation and rendering in a sandbox (pure).

A message template (ClickSend's ``/sms/templates`` shape: ``template_id``,
``template_name``, ``body``) is shared by keyword-rule replies, agents' canned replies
and campaigns. Its body is Jinja2 text with these variables (:data:`KNOWN_VARIABLES`):

- ``contact.first_name``, ``.last_name``, ``.phone_number``, ``.email``,
  ``.custom_1`` … ``.custom_4`` and named custom fields as ``contact.fields.<name>``;
- ``conversation.id``, ``.status``, ``.our_number``, ``.phone_number``, ``.assignee``;
- ``message.body``, ``message.phone_number``;
- ``match.term``, ``match.groups``, ``match.named.<group>`` (the keyword rule's match);
- ``agent.name``, ``agent.first_name``, ``agent.email``;
- ``business.name``, ``.phone_number``, ``.email``, ``.website``.

A missing value renders empty and Jinja's ``default`` filter supplies a fallback:
``{{ contact.first_name | default('there', true) }}``. ClickSend ``(First Name)`` and
Routee ``[~{firstName}]`` placeholders work too (:mod:`bot.template_placeholders`).

:func:`validate` is what saving a template (or a rule with a reply) runs: syntax errors
with line and column, attempts to reach Python internals, unknown filters and failing
sample renders are errors; unknown variables and a sample render longer than six SMS
parts are warnings. :func:`render` renders completely or raises :class:`RenderError`:
never a partial text. The sandbox and its limits are in :mod:`bot.template_sandbox`.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError
from jinja2.parser import Parser
from jinja2.sandbox import SecurityError

from bot import template_sandbox as sandbox
from bot.encoding import MAX_PARTS, measure
from bot.template_placeholders import OffsetMap, to_jinja, translate

__all__ = [
    "KNOWN_VARIABLES",
    "MAX_TEMPLATE_CHARS",
    "RenderError",
    "TemplateIssue",
    "Validation",
    "build_context",
    "render",
    "to_jinja",
    "validate",
]

MAX_TEMPLATE_CHARS = 5000
_SECTIONS = {
    "contact": (
        "first_name last_name phone_number email custom_1 custom_2 custom_3 custom_4 fields"
    ),
    "conversation": "id status our_number phone_number assignee",
    "message": "body phone_number",
    "match": "term groups named",
    "agent": "name first_name email",
    "business": "name phone_number email website",
}
KNOWN_VARIABLES: frozenset[str] = frozenset(
    f"{root}.{name}" for root, names in _SECTIONS.items() for name in names.split()
)
_OPEN_ENDED = ("contact.fields", "match.named", "match.groups")
_SPECIAL_NAMES = frozenset({"loop", "range", "caller", "varargs", "kwargs"})
_REFUSED_NAMES = frozenset({"self", "lipsum", "cycler", "joiner", "namespace", "dict"})
_SAMPLE = {
    "contact": {
        "first_name": "Alex",
        "last_name": "Sample",
        "phone_number": "+61411111111",
        "email": "alex@example.com",
        **{f"custom_{n}": f"custom {n}" for n in range(1, 5)},
        "fields": {},
    },
    "conversation": {"id": 1, "status": "open", "our_number": "+61411111112"},
    "message": {"body": "price?", "phone_number": "+61411111111"},
    "match": {"term": "price", "groups": (), "named": {}},
    "agent": {"name": "Sam Agent", "first_name": "Sam", "email": "sam@example.com"},
    "business": {"name": "Example Co", "phone_number": "+61411111112"},
}


@dataclass(frozen=True, slots=True)
class TemplateIssue:
    message: str
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Validation:
    errors: list[TemplateIssue]
    warnings: list[TemplateIssue]

    @property
    def ok(self) -> bool:
        return not self.errors


class RenderError(Exception):
    """A template could not be rendered; the message names the problem."""


def build_context(
    *,
    contact: Mapping[str, Any] | None = None,
    conversation: Mapping[str, Any] | None = None,
    message: Mapping[str, Any] | None = None,
    agent: Mapping[str, Any] | None = None,
    business: Mapping[str, Any] | None = None,
    match: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of a render, from plain mappings (None values are left out, so
    they render empty and ``default(…, true)`` falls back). Anything but plain values
    (str, int, float, bool, None, and lists / mappings of them) is refused."""
    sections = {
        "contact": contact,
        "conversation": conversation,
        "message": message,
        "agent": agent,
        "business": business,
        "match": match,
    }
    return {name: _plain(name, values or {}) for name, values in sections.items()}


def _plain(path: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(f"{path}.{k}", v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(path, v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{path} must be a plain value, not {type(value).__name__}")


def render(
    body: str, context: Mapping[str, Any], *, max_chars: int = 1600, timeout_s: float = 0.1
) -> str:
    """Render ``body`` completely, or raise :class:`RenderError` (never a partial text)."""
    template = _compiled(body)
    budget = sandbox.Budget(time.perf_counter() + timeout_s)
    token = sandbox.use_budget(budget)
    try:
        return _stream(template, {k: sandbox.to_drop(v) for k, v in context.items()}, max_chars)
    except RenderError:
        raise
    except sandbox.BudgetExceeded as exc:
        raise RenderError(str(exc)) from None
    except SecurityError as exc:
        raise RenderError(f"refused by the sandbox: {exc}") from None
    except RecursionError:
        raise RenderError("the template calls itself too deeply (recursion)") from None
    except Exception as exc:  # noqa: BLE001 - any failure inside a user template
        raise RenderError(f"the template failed: {_describe(exc)}") from None
    finally:
        sandbox.reset_budget(token)


def _stream(template: Any, context: dict[str, Any], max_chars: int) -> str:
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > max_chars:
            raise RenderError(f"the rendered message is longer than {max_chars} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _describe(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_ENV = sandbox.MessageEnvironment()
TOO_DEEP = "the template nests brackets or operators too deeply"


@functools.lru_cache(maxsize=256)
def _compiled(body: str) -> Any:
    if len(body) > MAX_TEMPLATE_CHARS:
        raise RenderError(f"the template is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        tree = _ENV.parse(to_jinja(body))
        for node in tree.find_all(nodes.Name):
            if node.name in _REFUSED_NAMES:
                raise RenderError(f"'{node.name}' is not available in message templates")
        return _ENV.from_string(sandbox.guard_loops(tree))
    except TemplateError as exc:
        raise RenderError(f"the template has an error: {_describe(exc)}") from None
    except RecursionError:  # Jinja parses and compiles recursively
        raise RenderError(TOO_DEEP) from None


def validate(body: str) -> Validation:
    """Check a template before it is saved (see the module docstring)."""
    try:
        return _validate(body)
    except RecursionError:  # "{{ [[[[…]]]] }}": Jinja parses and compiles recursively
        return Validation([TemplateIssue(TOO_DEEP)], [])


def _validate(body: str) -> Validation:
    if len(body) > MAX_TEMPLATE_CHARS:
        issue = TemplateIssue(f"the template is longer than {MAX_TEMPLATE_CHARS} characters")
        return Validation([issue], [])
    source, offsets = translate(body)
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return Validation([_syntax_issue(exc, body, source, offsets)], [])
    try:
        _ENV.compile(tree)
    except TemplateSyntaxError as exc:  # unknown filter or test
        return Validation([TemplateIssue(exc.message or str(exc), exc.lineno)], [])
    errors, warnings = _inspect(tree)
    if not errors:
        errors, sample_warnings = _sample_render(body)
        warnings += sample_warnings
    return Validation(errors, warnings)


def _inspect(tree: nodes.Template) -> tuple[list[TemplateIssue], list[TemplateIssue]]:
    errors: list[TemplateIssue] = []
    warnings: list[TemplateIssue] = []
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        errors.append(_at(node, "message templates cannot include or import other templates"))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attr = _attribute_name(node)
        if attr is not None and (attr.startswith("_") or attr in ("format", "format_map")):
            errors.append(_at(node, f"'{attr}' is not available in message templates"))
    undeclared = meta.find_undeclared_variables(tree)
    for node in tree.find_all(nodes.Name):
        if node.name in _REFUSED_NAMES:
            errors.append(_at(node, f"'{node.name}' is not available in message templates"))
    for name, node in _variable_uses(tree, undeclared):
        warnings.append(_at(node, f"unknown variable '{name}' (it will render empty)"))
    return _dedupe(errors), _dedupe(warnings)


def _variable_uses(tree: nodes.Template, undeclared: set[str]) -> list[tuple[str, nodes.Node]]:
    """Dotted names used from outside the template that are not known variables."""
    found = []
    inner = {id(n.node) for n in tree.find_all((nodes.Getattr, nodes.Getitem))}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue
        dotted = _dotted(node)
        if dotted is None or dotted.split(".")[0] not in undeclared:
            continue
        if not _is_known(dotted) and "._" not in dotted:
            found.append((dotted, node))
    return found


def _is_known(dotted: str) -> bool:
    root = dotted.split(".")[0]
    if root in _SPECIAL_NAMES or root in _REFUSED_NAMES:
        return True
    parts = dotted.split(".")
    if len(parts) == 1:
        return False
    head = ".".join(parts[:2])
    return head in KNOWN_VARIABLES and (len(parts) == 2 or head in _OPEN_ENDED)


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        attr = _attribute_name(node)
        inner = _dotted(node.node)
        if attr is None or inner is None:
            return inner
        return f"{inner}.{attr}"
    return None


def _attribute_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _at(node: nodes.Node, message: str) -> TemplateIssue:
    return TemplateIssue(message, getattr(node, "lineno", None))


def _dedupe(issues: list[TemplateIssue]) -> list[TemplateIssue]:
    return list(dict.fromkeys(issues))


def _sample_render(body: str) -> tuple[list[TemplateIssue], list[TemplateIssue]]:
    try:
        text = render(body, build_context(**_SAMPLE), max_chars=MAX_TEMPLATE_CHARS * 2)
    except RenderError as exc:
        return [TemplateIssue(str(exc))], []
    size = measure(text)
    if size.parts > MAX_PARTS:
        note = f"with sample values the message is {size.parts} SMS parts (over {MAX_PARTS})"
        return [], [TemplateIssue(note)]
    return [], []


_AT_OFFSET = re.compile(r"\bat (\d+)$")


def _syntax_issue(
    exc: TemplateSyntaxError, body: str, source: str, offsets: OffsetMap
) -> TemplateIssue:
    """The error at its line and column in what the author typed. Jinja reports the
    line; the column comes from the lexer's offset or from the failing token."""
    position = _error_position(exc, source)
    if position is None:
        return TemplateIssue(exc.message or str(exc), exc.lineno)
    original = offsets.original(position)
    line = body.count("\n", 0, original) + 1
    column = original - (body.rfind("\n", 0, original) + 1) + 1
    return TemplateIssue(exc.message or str(exc), line, column)


def _error_position(exc: TemplateSyntaxError, source: str) -> int | None:
    message = exc.message or ""
    if found := _AT_OFFSET.search(message):
        return int(found.group(1))
    if "end of comment" in message and "{#" in source:
        return source.rfind("{#")
    line_start = _line_start(source, exc.lineno)
    if line_start is None:
        return None
    token = _failing_token(source)
    line_end = source.find("\n", line_start)
    line_end = len(source) if line_end < 0 else line_end
    if token:
        index = source.find(token, line_start, line_end)
        if index >= 0:
            return index
    return line_end


def _line_start(source: str, lineno: int) -> int | None:
    start = 0
    for _ in range(lineno - 1):
        start = source.find("\n", start) + 1
        if start == 0:
            return None
    return start


def _failing_token(source: str) -> str | None:
    parser = Parser(_ENV, source)
    try:
        parser.parse()
    except TemplateSyntaxError:
        current = parser.stream.current
        return None if current.type == "eof" else str(current.value)
    return None
