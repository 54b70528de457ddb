"""Opt-out / opt-in / help classification of inbound SMS, as tables of real-looking texts."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import optout_keywords
from bot.optout_keywords import (
    DEFAULT_VOCABULARY,
    SPANISH,
    Intent,
    Vocabulary,
    classify,
    merged,
    normalize,
)

OUT = Intent.OPT_OUT
IN = Intent.OPT_IN
HELP = Intent.HELP
MAYBE = Intent.POSSIBLE_OPT_OUT
NONE = Intent.NONE

BILINGUAL = merged(DEFAULT_VOCABULARY, SPANISH)

# (text, opted_out, expected) with the default (English) vocabulary.
ENGLISH_CASES = [
    # each default keyword alone, in assorted casing and punctuation
    ("STOP", False, OUT),
    ("stop", False, OUT),
    ("Stop", False, OUT),
    ("stop.", False, OUT),
    ("Stop!!!", False, OUT),
    ("🛑 stop 🛑", False, OUT),
    (" Stop ", False, OUT),
    ("STOP\n", False, OUT),
    ("\tstop\r\n", False, OUT),
    ("ＳＴＯＰ", False, OUT),  # fullwidth, folded by NFKC
    ("STOPALL", False, OUT),
    ("STOP ALL", False, OUT),
    ("Unsubscribe", False, OUT),
    ("CANCEL", False, OUT),
    ("end.", False, OUT),
    ("Quit", False, OUT),
    ("REVOKE", False, OUT),
    ("optout", False, OUT),
    ("Opt out", False, OUT),
    ("opt-out", False, OUT),
    ("OPT_OUT", False, OUT),
    ("stop", True, OUT),  # still an opt-out while already opted out
    ("s\u200btop", False, OUT),  # zero-width space is invisible, not a separator
    ("STOP 👍🏽", False, OUT),  # emoji with skin tone modifier
    # spaced-out letters are single letters, not a keyword
    ("S T O P", False, NONE),
    # short requests built around a keyword
    ("please stop", False, OUT),
    ("Stop texting me", False, OUT),
    ("stop sending me messages", False, OUT),
    ("unsubscribe me please", False, OUT),
    ("I want to opt out", False, OUT),
    ("revoke my consent", False, OUT),
    ("cancel please", False, OUT),
    ("Stop, thanks", False, OUT),
    ("Hi, could you please stop texting me? Thank you!", False, OUT),
    ("STOP STOP STOP", False, OUT),
    ("No thanks, stop", False, OUT),
    ("stop all messages from this number immediately", False, OUT),
    ("I'd like to cancel my subscription", False, OUT),
    ("Stop it now 😡", False, OUT),
    # opt-out phrases without a keyword
    ("remove me from this list", False, OUT),
    ("Take me off your list", False, OUT),
    ("do not text me", False, OUT),
    ("Don't text me", False, OUT),
    ("Dont contact me again", False, OUT),
    ("Please remove me", False, OUT),
    ("leave me alone!", False, OUT),
    ("No more texts please", False, OUT),
    ("I don\u2019t want these texts", False, OUT),  # curly apostrophe
    ("Please opt me out", False, OUT),
    ("wrong number, stop", False, OUT),
    ("unsub", False, OUT),
    # possible opt-outs: a keyword or phrase among words that are not filler
    ("don't stop now, what's the price?", False, MAYBE),
    ("cancel my appointment for tomorrow", False, MAYBE),
    ("I want to end my subscription but first tell me the price", False, MAYBE),
    ("how do I stop these texts?", False, MAYBE),
    ("Can you remove me and my wife from the list", False, MAYBE),
    ("do not stop", False, MAYBE),
    ("stop start", False, MAYBE),
    ("help stop", False, MAYBE),
    ("yes stop", True, MAYBE),
    ("I'll be at the bus stop at 5", False, MAYBE),
    ("please opt out my husband too", False, MAYBE),
    # near misses: keyword only inside another word
    ("stopwatch", False, NONE),
    ("ending soon?", False, NONE),
    ("unstoppable", False, NONE),
    ("cancellation policy?", False, NONE),
    ("Weekend hours?", False, NONE),
    ("quitting time", False, NONE),
    ("endless fun", False, NONE),
    ("Stopped by yesterday, thanks", False, NONE),
    ("What are your hours?", False, NONE),
    # opt-in
    ("YES", True, IN),
    ("yes", False, NONE),  # YES only confirms a return from opt-out
    ("Yes please", True, IN),
    ("yes please", False, NONE),
    ("START", False, IN),
    ("start", True, IN),
    ("Unstop", False, IN),
    ("unstop", True, IN),
    ("Start texting me again please", True, IN),
    ("yes, start", False, IN),  # START counts; YES is harmless beside it
    # help
    ("HELP", False, HELP),
    ("help?", False, HELP),
    ("Help please", False, HELP),
    ("info", False, HELP),
    ("INFO!", False, HELP),
    ("more info", False, HELP),
    ("I need help", True, HELP),
    ("help with my order", False, NONE),
    # nothing at all
    ("", False, NONE),
    ("   ", False, NONE),
    ("\n\t", False, NONE),
    ("🛑🛑🛑", False, NONE),
    ("👍", True, NONE),
    ("?!", False, NONE),
    ("please", False, NONE),  # filler alone is not a request
    ("thanks!", True, NONE),
]

# (text, opted_out, expected) with English + Spanish merged.
SPANISH_CASES = [
    ("PARAR", False, OUT),
    ("alto", False, OUT),
    ("Cancelar", False, OUT),
    ("baja por favor", False, OUT),
    ("Quiero darme de baja", False, OUT),
    ("DETENER", False, OUT),
    ("fin", False, OUT),
    ("terminar", False, OUT),
    ("No más mensajes", False, OUT),
    ("no mas mensajes", False, OUT),
    ("NO MÁS", False, OUT),
    ("Ya no más mensajes, gracias", False, OUT),
    ("No me envíen más mensajes", False, OUT),
    ("No quiero recibir más mensajes", False, OUT),
    ("no me gusta el precio", False, NONE),
    ("no me envien mensajes", False, OUT),
    ("Bórrame de la lista", False, OUT),
    ("stop por favor", False, OUT),  # languages mix
    ("¿Abren el fin de semana?", False, MAYBE),
    ("COMENZAR", False, IN),
    ("iniciar", True, IN),
    ("sí", True, IN),
    ("Si por favor", True, IN),
    ("si", False, NONE),
    ("ayuda", False, HELP),
    ("¿Ayuda?", False, HELP),
    ("STOP", False, OUT),  # English still works in the merged vocabulary
]


@pytest.mark.parametrize(("text", "opted_out", "expected"), ENGLISH_CASES)
def test_english_default_vocabulary(text, opted_out, expected):
    assert classify(text, opted_out=opted_out) is expected


@pytest.mark.parametrize(("text", "opted_out", "expected"), SPANISH_CASES)
def test_spanish_with_merged_vocabulary(text, opted_out, expected):
    assert classify(text, opted_out=opted_out, vocabulary=BILINGUAL) is expected


@pytest.mark.parametrize("text", ["PARAR", "baja por favor", "No más mensajes", "ayuda"])
def test_spanish_is_not_in_the_default_vocabulary(text):
    assert classify(text) is NONE


def test_the_tables_are_large_enough():
    assert len(ENGLISH_CASES) + len(SPANISH_CASES) >= 70


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("  Stop!!!  ", "stop"),
        ("🛑 stop 🛑", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("don't", "dont"),
        ("Don\u2019t Stop", "dont stop"),
        ("rock `n\u00b4 roll", "rock n roll"),
        ("opt-out", "opt out"),
        ("Stop,thanks", "stop thanks"),
        ("line\nbreak\ttab", "line break tab"),
        ("Straße", "strasse"),
        ("No Más", "no más"),
        ("ﬁn", "fin"),  # ligature, via NFKC
        ("①②", "12"),
        ("s\u00adtop", "stop"),  # soft hyphen
        ("👨\u200d👩\u200d👧 hi", "hi"),  # emoji ZWJ sequence
        ("1\ufe0f\u20e3 yes", "1 yes"),  # keycap: digit kept, selector and mark dropped
        ("Привет, СТОП", "привет стоп"),
        ("नमस्ते!", "नमस्ते"),  # Devanagari vowel signs stay with their letters
        ("停止。", "停止"),
        ("", ""),
        ("  \n ", ""),
        ("💬💬", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_an_operator_added_keyword_works():
    vocabulary = merged(
        DEFAULT_VOCABULARY,
        Vocabulary(opt_out_keywords={"Stopp", "Take a hike"}, help_keywords={"Hours?"}),
    )
    assert classify("STOPP", vocabulary=vocabulary) is OUT
    assert classify("take a hike please", vocabulary=vocabulary) is OUT
    assert classify("hours", vocabulary=vocabulary) is HELP
    assert classify("stopp the bus", vocabulary=vocabulary) is MAYBE
    assert classify("STOPP") is NONE  # the default vocabulary is untouched


def test_removing_a_default_keyword():
    without_cancel = DEFAULT_VOCABULARY.without("CANCEL")
    assert "cancel" not in without_cancel.opt_out_keywords
    assert classify("cancel", vocabulary=without_cancel) is NONE
    assert classify("cancel my appointment", vocabulary=without_cancel) is NONE
    assert classify("stop", vocabulary=without_cancel) is OUT
    # "cancel please" falls back to POSSIBLE only if another keyword is present
    assert classify("cancel, stop", vocabulary=without_cancel) is MAYBE


def test_removing_by_dataclass_replace_also_rebuilds_the_index():
    vocabulary = dataclasses.replace(
        DEFAULT_VOCABULARY, opt_out_keywords=DEFAULT_VOCABULARY.opt_out_keywords - {"end"}
    )
    assert classify("end", vocabulary=vocabulary) is NONE
    assert classify("end my subscription", vocabulary=vocabulary) is NONE
    assert classify("end") is OUT


def test_removing_an_accented_entry_by_its_plain_spelling():
    vocabulary = merged(DEFAULT_VOCABULARY, SPANISH).without("no mas")
    assert classify("No más", vocabulary=vocabulary) is NONE


def test_vocabulary_entries_are_normalised():
    vocabulary = Vocabulary(opt_out_keywords=["  Opt-Out!! "], opt_out_phrases=("NO MÁS",))
    assert vocabulary.opt_out_keywords == frozenset({"opt out"})
    assert vocabulary.opt_out_phrases == frozenset({"no más"})
    assert classify("no mas", vocabulary=vocabulary) is OUT


def test_default_vocabulary_lists_the_fcc_words():
    for word in ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"):
        assert word in DEFAULT_VOCABULARY.opt_out_keywords


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opt_out_keywords": ["🛑"]}, "no letters or digits"),
        ({"filler_words": ["stop"], "opt_out_keywords": ["STOP"]}, "may not also be keywords"),
    ],
)
def test_bad_vocabularies_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary(**kwargs)


def test_a_bare_string_is_not_a_collection_of_keywords():
    with pytest.raises(TypeError, match="not one string"):
        Vocabulary(opt_out_keywords="stop")


def test_merging_nothing_gives_an_empty_vocabulary():
    assert classify("stop", vocabulary=merged()) is NONE


def test_vocabularies_are_hashable_and_compare_by_content():
    assert merged(DEFAULT_VOCABULARY) == DEFAULT_VOCABULARY
    assert hash(merged(DEFAULT_VOCABULARY)) == hash(DEFAULT_VOCABULARY)


def test_intent_values_are_stable_strings():
    assert [i.value for i in Intent] == [
        "opt_out",
        "opt_in",
        "help",
        "possible_opt_out",
        "none",
    ]
    assert Intent.OPT_OUT == "opt_out"


def test_a_long_message_is_classified():
    body = "hello there " * 200 + "please stop"
    assert classify(body) is MAYBE
    assert classify("please " * 300 + "stop") is OUT


def test_the_module_imports_only_the_standard_library():
    tree = ast.parse(Path(optout_keywords.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


@given(st.text())
def test_normalize_is_idempotent_and_classify_total(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert classify(text, vocabulary=BILINGUAL) in Intent
