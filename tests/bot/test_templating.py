"""Message templates: variables, fallbacks, placeholders, validation, the sandbox."""

from __future__ import annotations

import re
import time

import pytest

from bot.templating import (
    KNOWN_VARIABLES,
    TOO_DEEP,
    RenderError,
    TemplateIssue,
    Validation,
    build_context,
    render,
    to_jinja,
    validate,
)

CONTEXT = build_context(
    contact={
        "first_name": "Ann",
        "last_name": None,
        "phone_number": "+61411111111",
        "email": "ann@example.com",
        "custom_1": "gold",
        "custom_2": "",
        "fields": {"Loyalty Tier": "platinum", "city": "Perth"},
    },
    conversation={"id": 42, "status": "open", "our_number": "+61422222222"},
    message={"body": "PRICE? <script>"},
    agent={"name": "Sam"},
    business={"name": "Acme & Co"},
    match={"term": "price", "groups": ["123"], "named": {"order": "123"}},
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hi {{ contact.first_name }}!", "Hi Ann!"),
        ("Hi {{ contact.last_name | default('there', true) }}", "Hi there"),
        ("Hi {{ contact.last_name | default('there') }}", "Hi there"),  # None is left out
        ("[{{ contact.custom_2 | default('none', true) }}]", "[none]"),
        ("[{{ contact.custom_2 | default('none') }}]", "[]"),  # empty string is a value
        ("[{{ contact.custom_4 }}]", "[]"),  # missing renders empty
        ("{{ business.name }} / {{ agent.name }}", "Acme & Co / Sam"),  # no HTML escaping
        ("You said: {{ message.body }}", "You said: PRICE? <script>"),
        ("#{{ conversation.id + 1 }} {{ conversation.status | upper }}", "#43 OPEN"),
        ("Order {{ match.named.order }} / {{ match.groups[0] }}", "Order 123 / 123"),
        ("{{ contact.fields.city }}", "Perth"),
        ('{{ contact.fields["Loyalty Tier"] }}', "platinum"),
        ("{{ contact.nothing.deeper | default('x', true) }}", "x"),
        ("{% if contact.custom_1 == 'gold' %}VIP{% else %}hi{% endif %}", "VIP"),
        ("{% for i in range(3) %}{{ loop.index }}{% endfor %}", "123"),
        ("line\n", "line\n"),  # trailing newline kept
        ("(Unknown Words) stay", "(Unknown Words) stay"),
        ("{{ match.groups | sort | join(',') }}", "123"),
        ("{{ contact.first_name | upper }} {{ 'ann marie' | title }}", "ANN Ann Marie"),
        ("{{ contact.first_name | replace('n', 'N') }}", "ANN"),
        ("{{ [3, 1, 2] | sort | join('-') }} {{ [1, 2] | sum }}", "1-2-3 3"),
    ],
)
def test_render(body, expected):
    assert render(body, CONTEXT) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hi (First Name) (Last Name)", "Hi Ann "),
        ("Hi (first name), ( FIRST   NAME )", "Hi Ann, Ann"),
        ("(Custom 1)/(Email)/(Phone Number)", "gold/ann@example.com/+61411111111"),
        ("Hi [~{firstName}] [~{lastName}]!", "Hi Ann !"),
        ("Tier [~{Loyalty Tier}] in [~{city}]", "Tier platinum in Perth"),
        ("[~{unknownLabel}]", ""),
        ("(First Name) and {{ contact.first_name }} and [~{firstName}]", "Ann and Ann and Ann"),
        ('{{ "(First Name)" }}', "(First Name)"),  # left alone inside Jinja tags
        ("(First Name)(Last Name)", "Ann"),
    ],
)
def test_placeholders_render_like_jinja(body, expected):
    assert render(body, CONTEXT) == expected


def test_to_jinja_rewrites_both_styles():
    assert to_jinja("Hi (First Name) [~{lastName}] (hello)") == (
        "Hi {{ contact.first_name }} {{ contact.last_name }} (hello)"
    )


def test_placeholders_fall_back_with_default():
    body = "Hi {{ contact.first_name | default('there', true) }}"
    assert render(body, build_context()) == "Hi there"
    assert render(body, build_context(contact={"first_name": ""})) == "Hi there"


def test_build_context_refuses_objects():
    with pytest.raises(TypeError, match="contact.first_name must be a plain value, not object"):
        build_context(contact={"first_name": object()})


def test_known_variables_cover_the_documented_names():
    expected = {
        "contact.first_name",
        "contact.last_name",
        "contact.phone_number",
        "contact.email",
        "contact.custom_1",
        "contact.custom_4",
        "conversation.id",
        "conversation.status",
        "conversation.our_number",
        "message.body",
        "agent.name",
        "business.name",
    }
    assert expected <= KNOWN_VARIABLES


@pytest.mark.parametrize(
    ("body", "message", "line", "column"),
    [
        ("Hi {{ contact.first_name ", "unexpected end of template", 1, 26),
        ("{{ 1 + }}", "unexpected 'end of print statement'", 1, 8),
        ("ok\nHi {{ a b }}", "expected token 'end of print statement', got 'b'", 2, 9),
        # the column is counted in what the author typed, before placeholders expand
        ("(First Name) (First Name) {{ a b }}", "got 'b'", 1, 32),
        ("line one\n(First Name) {% if %}", "Expected an expression", 2, 20),
        ("{% for x in y %}", "Jinja was looking for the following tags: 'endfor'", 1, 17),
        ("Hi {{ 'a' ! }}", "unexpected char '!' at 10", 1, 11),
        ("Order\nno {#5 please", "Missing end of comment tag", 2, 4),
    ],
)
def test_syntax_errors_have_line_and_column(body, message, line, column):
    result = validate(body)
    assert not result.ok
    [issue] = result.errors
    assert message in issue.message
    assert (issue.line, issue.column) == (line, column)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{{ ''.__class__.__mro__ }}", "'__class__' is not available"),
        ("{{ cycler.__init__.__globals__ }}", "'__globals__' is not available"),
        ("{{ contact['__class__'] }}", "'__class__' is not available"),
        ("{{ contact._values }}", "'_values' is not available"),
        ("{{ self }}", "'self' is not available"),
        ("{{ lipsum(10) }}", "'lipsum' is not available"),
        ("{{ namespace(a=1) }}", "'namespace' is not available"),
        ("{{ '{0.__class__}'.format(1) }}", "'format' is not available"),
        ("{% include 'other' %}", "cannot include or import"),
        ("{% import 'x' as y %}", "cannot include or import"),
        ("{{ contact | nosuch }}", "No filter named 'nosuch'"),
        ("{{ 'a' | center(1000000000) }}", "No filter named 'center'"),
        ("{{ 'a' * 10**9 }}", "repetition beyond 10000 characters"),
        ("{{ 9**9**9 }}", "a power is too large"),
        ("{{ '%s' % 1 }}", "'%' formatting is not available"),
        ("{{ 'x'.ljust(1000000000) }}", "a number above 10000 passed to ljust"),
        ("{{ range(10**6) | list }}", "range() is limited to 1000 items"),
        ("{{ 'ab' | replace('', 'xxxxxxxxxx' * 1000) }}", "too long"),
    ],
)
def test_sandbox_reaching_attempts_are_errors(body, error):
    result = validate(body)
    assert not result.ok
    assert any(error in issue.message for issue in result.errors), result.errors
    with pytest.raises(RenderError):
        render(body, CONTEXT)


PATHOLOGICAL = [
    (
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "more than 10000 loop iterations",
    ),
    ("{% for a in range(1000) %}" * 6 + "{% endfor %}" * 6, "more than 10000 loop iterations"),
    (
        "{% set l = [1,2,3,4,5,6,7,8,9,10] %}" + "{% for a in l %}" * 8 + "x" + "{% endfor %}" * 8,
        "longer than 1600 characters",
    ),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion"),
    ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}", "longer than 10000"),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "recursion"),
    ("{{ 'a' * 1000 }}" * 5, "longer than 1600 characters"),
    ("{{ " + "[" * 790 + "]" * 790 + " }}", "nests brackets or operators too deeply"),
    ("{{ " + "-" * 1500 + "1 }}", "nests brackets or operators too deeply"),
]


DEEP = ["{{ " + "[" * 790 + "]" * 790 + " }}", "{{ " + "-" * 1500 + "1 }}"]


@pytest.mark.parametrize("body", DEEP)
def test_too_deep_nesting_is_a_validation_error(body):
    assert validate(body) == Validation([TemplateIssue(TOO_DEEP)], [])


@pytest.mark.parametrize(("body", "error"), PATHOLOGICAL)
def test_pathological_templates_stop_quickly(body, error):
    start = time.perf_counter()
    with pytest.raises(RenderError, match=error):
        render(body, CONTEXT)
    assert time.perf_counter() - start < 2.0


def test_a_slow_template_hits_the_time_limit():
    body = (
        "{% for a in range(1000) %}{% for b in range(9) %}{{ 'x'.upper() }}{% endfor %}{% endfor %}"
    )
    with pytest.raises(RenderError, match="took too long to render"):
        render(body, CONTEXT, max_chars=100_000, timeout_s=0.001)


def test_render_never_returns_a_partial_text():
    body = "Hello {{ contact.first_name }} " + "{{ 'x' * 100 }}" * 20
    with pytest.raises(RenderError, match="longer than 500 characters"):
        render(body, CONTEXT, max_chars=500)
    assert render(body, CONTEXT, max_chars=5000).startswith("Hello Ann x")


def test_a_runtime_error_names_the_problem():
    with pytest.raises(RenderError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}", CONTEXT)


def test_drops_expose_only_their_values():
    with pytest.raises(RenderError, match="'_values' is not available"):
        render("{{ contact._values }}", CONTEXT)
    assert render("{{ contact.keys }}|{{ contact.items }}", CONTEXT) == "|"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{{ match.named.update({'a': 1}) }}", "there is no value named 'update' here"),
        ("{{ match.groups.append(1) }}", "'tuple object' has no attribute 'append'"),
    ],
)
def test_values_cannot_be_mutated(body, error):
    context = build_context(match={"named": {"a": "b"}, "groups": ["x"]})
    with pytest.raises(RenderError, match=re.escape(error)):
        render(body, context)
    assert context["match"] == {"named": {"a": "b"}, "groups": ["x"]}


@pytest.mark.parametrize(
    ("body", "warnings"),
    [
        ("Hi {{ contact.first_name }}", []),
        (
            "Hi {{ contact.nickname }}",
            ["unknown variable 'contact.nickname' (it will render empty)"],
        ),
        ("Hi {{ customer }}", ["unknown variable 'customer' (it will render empty)"]),
        ("{{ contact.fields.anything }} {{ match.named.x }}", []),
        ("{% set n = 'x' %}{{ n }}{% for i in range(2) %}{{ i }}{{ loop.index }}{% endfor %}", []),
        ("{% for k in contact.fields %}{{ k }}{% endfor %}", []),
        (
            "{{ 'x' * 1000 }}",
            ["with sample values the message is 7 SMS parts (over 6)"],
        ),
    ],
)
def test_validation_warnings(body, warnings):
    result = validate(body)
    assert result.ok, result.errors
    assert [w.message for w in result.warnings] == warnings


def test_unknown_variable_warning_has_the_line():
    assert validate("a\n{{ contact.nick }}").warnings == [
        TemplateIssue("unknown variable 'contact.nick' (it will render empty)", 2)
    ]


def test_a_too_long_template_is_refused():
    assert not validate("x" * 5001).ok
    with pytest.raises(RenderError, match="longer than 5000"):
        render("x" * 5001, CONTEXT)
