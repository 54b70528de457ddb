"""The sandboxed Jinja2 environment that renders user-authored message templates (pure).

It is separate from the aiohttp-jinja2 environment of the HTML pages, and stricter than
Jinja's own :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`, on which it builds:

- Globals are only ``range`` (at most :data:`MAX_RANGE` items); ``lipsum``, ``cycler``,
  ``joiner``, ``namespace`` and ``dict`` are gone. Filters are a whitelist of text and
  list filters (no ``format``, ``center``, ``indent``, ``wordwrap``, ``xmlattr``...).
- Reaching for Python internals (``''.__class__``, ``x.__globals__``, ``str.format``)
  raises :class:`~jinja2.sandbox.SecurityError` at once instead of rendering empty.
- Every render runs against a :class:`Budget`: a deadline and a number of loop
  iterations. Every ``for`` loop is rewritten to iterate through a guard that spends
  the budget, and every call, attribute access and filter checks the deadline, so
  nested loops and recursive macros stop with an error instead of hanging.
- ``*`` and ``**`` are intercepted: repeating a string or list beyond
  :data:`MAX_VALUE_CHARS`, or a power with a huge result, is refused before it is
  computed; ``%`` on a string (printf formatting) is refused. No value handed to a
  call or filter may be longer than :data:`MAX_VALUE_CHARS`.
- Missing values render empty (a lenient, chainable undefined), so
  ``{{ contact.first_name | default('there', true) }}`` falls back.

Values reach templates as :class:`Drop` objects built from plain mappings: attribute
access reads the mapping and nothing else (a drop has no methods to call).
"""

from __future__ import annotations

import contextvars
import operator
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

__all__ = [
    "GUARD_NAME",
    "MAX_ITERATIONS",
    "MAX_RANGE",
    "MAX_VALUE_CHARS",
    "Budget",
    "BudgetExceeded",
    "Drop",
    "MessageEnvironment",
    "guard_loops",
    "to_drop",
]

MAX_RANGE = 1000
MAX_ITERATIONS = 10_000
MAX_VALUE_CHARS = 10_000
MAX_INT_BITS = 256
GUARD_NAME = "_smsdesk_loop"

SAFE_FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "first",
    "float",
    "int",
    "join",
    "last",
    "length",
    "list",
    "lower",
    "max",
    "min",
    "replace",
    "reverse",
    "round",
    "sort",
    "string",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
]


class BudgetExceeded(Exception):
    """A render went past its time, loop or size limit."""


@dataclass(slots=True)
class Budget:
    deadline: float
    iterations: int = MAX_ITERATIONS
    undefined: set[str] = field(default_factory=set)

    def check(self) -> None:
        if time.perf_counter() > self.deadline:
            raise BudgetExceeded("the template took too long to render")

    def spend(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise BudgetExceeded(f"the template runs more than {MAX_ITERATIONS} loop iterations")
        self.check()


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def current_budget() -> Budget:
    budget = _BUDGET.get()
    if budget is None:  # rendering outside render(): a generous default
        budget = Budget(time.perf_counter() + 1.0)
        _BUDGET.set(budget)
    return budget


def use_budget(budget: Budget) -> contextvars.Token:
    return _BUDGET.set(budget)


def reset_budget(token: contextvars.Token) -> None:
    _BUDGET.reset(token)


class Drop:
    """Read-only attribute view of a plain mapping; nothing else is reachable."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        return ""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("drops are read-only")


def to_drop(value: Any) -> Any:
    """Mappings become drops (recursively); lists become tuples; scalars stay."""
    if isinstance(value, Drop):
        return value
    if isinstance(value, Mapping):
        return Drop({str(k): to_drop(v) for k, v in value.items() if v is not None})
    if isinstance(value, list | tuple):
        return tuple(to_drop(v) for v in value)
    return value


class LenientUndefined(ChainableUndefined):
    """Renders empty, chains through attributes, and remembers what was missing."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, Drop) and self._undefined_hint is None:
            return f"there is no value named {self._undefined_name!r} here"
        return super()._undefined_message

    def __str__(self) -> str:
        if self._undefined_name is not None:
            current_budget().undefined.add(self._undefined_name)
        return ""


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise BudgetExceeded(f"range() is limited to {MAX_RANGE} items")
    return values


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = current_budget()
    for item in iterable:
        budget.spend()
        yield item


def _check_value(value: Any) -> None:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise BudgetExceeded(f"a value is longer than {MAX_VALUE_CHARS} characters")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded("a number is too large")


def _guarded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        current_budget().check()
        for value in (*args, *kwargs.values()):
            _check_value(value)
        result = func(*args, **kwargs)
        _check_value(result)
        return result

    for attr in ("jinja_pass_arg",):
        if hasattr(func, attr):
            setattr(guarded, attr, getattr(func, attr))
    return guarded


def _safe_replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(value)
    hits = text.count(old) if count is None else min(count, text.count(old))
    if old == "" or len(text) + hits * (len(new) - len(old)) > MAX_VALUE_CHARS:
        raise BudgetExceeded("replace() would make a value too long")
    return text.replace(old, new) if count is None else text.replace(old, new, count)


def guard_loops(template: nodes.Template) -> nodes.Template:
    """Make every ``for`` loop iterate through the budget-spending guard."""
    for loop in template.find_all(nodes.For):
        guard = nodes.Name(GUARD_NAME, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    return template


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2 sandbox for SMS templates (plain text, limited, time-boxed)."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=LenientUndefined,
            keep_trailing_newline=True,
            finalize=lambda value: "" if value is None else value,
        )
        self.globals.clear()
        self.globals.update({"range": _bounded_range, GUARD_NAME: _loop_guard})
        filters = {name: self.filters[name] for name in SAFE_FILTERS}
        filters["replace"] = _safe_replace
        self.filters = {name: _guarded_filter(func) for name, func in filters.items()}
        self.tests = {name: self.tests[name] for name in _SAFE_TESTS}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        current_budget().check()
        if attr in ("format", "format_map") and isinstance(obj, str):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            f"'{attribute}' is not available in message templates"
            " (Python internals and methods that mutate or format are blocked)"
        )

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        current_budget().check()
        builtin = isinstance(__obj, types.BuiltinMethodType)
        for value in (*args, *kwargs.values()):
            _check_value(value)
            if builtin and isinstance(value, int) and abs(value) > MAX_VALUE_CHARS:
                raise BudgetExceeded(f"a number above {MAX_VALUE_CHARS} passed to {__obj.__name__}")
        result = super().call(__context, __obj, *args, **kwargs)
        _check_value(result)
        return result

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        current_budget().check()
        if op == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting is not available in message templates")
        if op == "*":
            _check_repeat(left, right)
        if op == "**":
            _check_power(left, right)
        result = _BINOPS[op](left, right)
        _check_value(result)
        return result


_SAFE_TESTS = [
    "defined",
    "undefined",
    "none",
    "number",
    "string",
    "sequence",
    "mapping",
    "boolean",
    "true",
    "false",
    "integer",
    "float",
    "even",
    "odd",
    "divisibleby",
    "lower",
    "upper",
    "in",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
]
_BINOPS = {"*": operator.mul, "**": operator.pow, "%": operator.mod}


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        repeats = isinstance(seq, str | list | tuple) and isinstance(times, int)
        if repeats and len(seq) * max(times, 0) > MAX_VALUE_CHARS:
            raise BudgetExceeded(f"repetition beyond {MAX_VALUE_CHARS} characters")
    both_ints = isinstance(left, int) and isinstance(right, int)
    if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded("a number is too large")


def _check_power(left: Any, right: Any) -> None:
    if not isinstance(right, int | float) or not isinstance(left, int | float):
        return
    if abs(right) > MAX_INT_BITS or (
        isinstance(left, int) and abs(left).bit_length() * abs(right) > MAX_INT_BITS
    ):
        raise BudgetExceeded("a power is too large")
