"""Classify an inbound SMS as opt-out, opt-in, help, possible opt-out or nothing (pure).

Why this exists: the FCC's 2024 revocation order (FCC 24-24, in force since 2025-04-11)
makes a reply of STOP, QUIT, END, REVOKE, OPT OUT, CANCEL or UNSUBSCRIBE a per se valid
revocation of consent under the TCPA, consent may be revoked "by any reasonable means",
and it must be honoured within ten business days. Carriers (CTIA) additionally expect
STOP/START/HELP keyword handling. The database side (bot/optout.py and its callers)
applies the result; this module only decides, using the standard library alone, so it
can run on every inbound message and be tested as a table.

How a message is read (:func:`classify`), in order:

a. ``OPT_OUT``: after :func:`normalize`, the words can be split completely into opt-out
   keywords, opt-out phrases and filler words, with at least one keyword or phrase.
   Filler words are politeness, pronouns and the "object" of the request (please, me,
   texting, messages, list, consent...), so "Stop texting me", "I want to opt out",
   "revoke my consent" and "Please remove me from your list" qualify. "Short" is not a
   word count: any non-filler word ("appointment", "price", "but") disqualifies.
b. ``OPT_IN``: the same with opt-in keywords. ``conditional_opt_in_keywords`` (YES, SI)
   count only while the sender is opted out, because "yes" is an everyday answer;
   START and UNSTOP always count.
c. ``HELP``: the same with help keywords ("help?", "Help please", "more info").
d. ``POSSIBLE_OPT_OUT``: any other message that contains an opt-out keyword or phrase as
   whole words ("cancel my appointment for tomorrow", "I want to end my subscription
   but first tell me the price"). These must go to a person promptly: under the
   "reasonable means" rule they may well be revocations, so they are never ignored and
   never applied automatically.
e. ``NONE``: everything else, including keywords inside other words ("stopwatch",
   "weekend", "cancellation").

Judgement calls:

* Negations (no, not, dont, never, but...) are never filler, so "don't stop" or
  "no stop" is only POSSIBLE. Where a negation is the request itself it is spelled out as
  a phrase ("do not text me", "no more texts") or a multi-word filler ("no thanks").
* Apostrophes are deleted rather than turned into spaces ("don't" -> "dont"), so straight,
  curly and modifier-letter apostrophes all read the same.
* Letters spaced out ("S T O P") are single letters, not a keyword: NONE. Emoji, symbols
  and punctuation are word separators; format characters (zero-width space/joiner, soft
  hyphen) are deleted.
* Matching also folds diacritics on Latin letters ("no más" = "no mas", "sí" = "si"); other
  scripts are matched exactly as normalised, since their marks are part of the letters.
* A message that is entirely opt-out keywords and filler is OPT_OUT however long it is;
  a message with opt-out *and* opt-in or help keywords ("stop start", "help stop") is
  POSSIBLE, never OPT_IN or HELP: an opt-out signal is never silently dropped.
* Vocabulary entries are normalised on construction, so operators may write "Opt-Out" or
  "NO MÁS"; an entry that normalises to nothing, or a filler word that is also a keyword
  or phrase, is refused (a filler keyword would make "yes, stop" ambiguous).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_VOCABULARY",
    "ENGLISH",
    "SPANISH",
    "Intent",
    "Vocabulary",
    "classify",
    "merged",
    "normalize",
]


class Intent(StrEnum):
    """What an inbound message asks for, as far as consent is concerned."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    POSSIBLE_OPT_OUT = "possible_opt_out"
    NONE = "none"


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

# Characters people (and phone keyboards) use as apostrophes. Deleted before NFKC so that
# U+00B4 does not decompose into a space plus a combining accent.
_APOSTROPHES = dict.fromkeys(
    map(ord, "'`\u00b4\u02bc\u2018\u2019\u201b\u2032\uff07"),
    None,
)


def _ascii_table() -> dict[int, int | None]:
    """ASCII fast path: letters and digits stay, apostrophes go, the rest is a space."""
    table: dict[int, int | None] = {}
    for code in range(128):
        char = chr(code)
        if not char.isalnum():
            table[code] = ord(" ")
    table.update(dict.fromkeys(map(ord, "'`"), None))
    return table


_ASCII_TABLE = _ascii_table()


def _is_variation_selector(char: str) -> bool:
    """Emoji presentation selectors are marks, but belong to the emoji, not a word."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _word_chars(text: str) -> str:
    """Map every character by its Unicode category: keep words, space out the rest."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        major = category[0]
        if major in "LN":
            out.append(char)
        elif category in ("Mn", "Mc"):
            # Marks belong to the letter before them (Devanagari vowel signs, Thai tones);
            # after a separator or an emoji they are debris.
            if out and out[-1] != " " and not _is_variation_selector(char):
                out.append(char)
        elif category == "Cf":
            continue  # zero-width joiner/space, soft hyphen, bidi marks: invisible
        else:
            out.append(" ")  # punctuation, symbols, emoji, spaces, controls
    return "".join(out)


def normalize(text: str) -> str:
    """Reduce a message to lower-case words separated by single spaces.

    NFKC (so fullwidth "ＳＴＯＰ" and ligatures read as ASCII) and case folding, then
    letters, digits and their marks of any script are kept, apostrophes are deleted and
    punctuation, symbols and emoji become spaces. Pure ASCII (most SMS) skips the
    Unicode work.
    """
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_TABLE).split())
    text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
    text = unicodedata.normalize("NFKC", text.casefold()).translate(_APOSTROPHES)
    return " ".join(_word_chars(text).split())


def _fold_latin(text: str) -> str:
    """Drop diacritics from Latin letters only ("más" -> "mas"), for matching.

    Marks on other scripts are part of the letter, so they are left alone.
    """
    if text.isascii():
        return text
    out: list[str] = []
    base_is_ascii = False
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            if not base_is_ascii:
                out.append(char)
            continue
        out.append(char)
        base_is_ascii = char.isascii()
    return unicodedata.normalize("NFC", "".join(out))


def _words(text: str) -> tuple[str, ...]:
    """The matching form of a message or vocabulary entry: normalised, folded words."""
    return tuple(_fold_latin(normalize(text)).split())


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

# Bit flags for what an entry (a run of words) is; one entry may be several.
_OPT_OUT = 1
_OPT_OUT_PHRASE = 2
_OPT_IN = 4
_OPT_IN_IF_OPTED_OUT = 8
_HELP = 16
_FILLER = 32

_OPT_OUT_SIGNAL = _OPT_OUT | _OPT_OUT_PHRASE
_OPT_OUT_ALLOWED = _OPT_OUT_SIGNAL | _FILLER
_OPT_IN_ALLOWED = _OPT_IN | _OPT_IN_IF_OPTED_OUT | _FILLER
_HELP_ALLOWED = _HELP | _FILLER


@dataclass(frozen=True)
class _Index:
    """Precomputed lookups so classify() does set and dict probes only."""

    kinds: dict[tuple[str, ...], int]
    longest: int
    opt_out_words: frozenset[str]  # every word that may appear in an OPT_OUT message
    opt_in_words: frozenset[str]
    help_words: frozenset[str]
    opt_out_starts: frozenset[str]  # first words of opt-out keywords and phrases


def _entries(name: str, values: Iterable[str]) -> frozenset[str]:
    """Normalise one vocabulary field; refuse a bare string and empty entries."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a collection of strings, not one string")
    result = set()
    for value in values:
        normalised = normalize(value)
        if not normalised:
            raise ValueError(f"{name} entry {value!r} has no letters or digits")
        result.add(normalised)
    return frozenset(result)


@dataclass(frozen=True)
class Vocabulary:
    """The words :func:`classify` recognises, all normalised (see :func:`normalize`).

    Entries may be several words ("opt out", "no thanks"). Filler words are what may
    surround a keyword without making the message more than a request: politeness,
    pronouns, and the thing being stopped (texts, messages, list, consent).
    ``conditional_opt_in_keywords`` opt in only while the sender is opted out (YES).
    Fields accept any iterable of strings and are stored as normalised frozensets.
    """

    opt_out_keywords: frozenset[str] = frozenset()
    opt_in_keywords: frozenset[str] = frozenset()
    help_keywords: frozenset[str] = frozenset()
    filler_words: frozenset[str] = frozenset()
    opt_out_phrases: frozenset[str] = frozenset()
    conditional_opt_in_keywords: frozenset[str] = frozenset()
    _index: _Index = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.init:
                object.__setattr__(self, f.name, _entries(f.name, getattr(self, f.name)))
        self._refuse_filler_keywords()
        object.__setattr__(self, "_index", self._build_index())

    def _refuse_filler_keywords(self) -> None:
        """A filler word that is also a keyword would let keywords excuse each other."""
        signals = (
            self.opt_out_keywords
            | self.opt_out_phrases
            | self.opt_in_keywords
            | self.conditional_opt_in_keywords
            | self.help_keywords
        )
        clash = {_words(w) for w in self.filler_words} & {_words(w) for w in signals}
        if clash:
            names = ", ".join(sorted(" ".join(words) for words in clash))
            raise ValueError(f"filler words may not also be keywords or phrases: {names}")

    def _build_index(self) -> _Index:
        kinds: dict[tuple[str, ...], int] = {}
        for flag, values in (
            (_OPT_OUT, self.opt_out_keywords),
            (_OPT_OUT_PHRASE, self.opt_out_phrases),
            (_OPT_IN, self.opt_in_keywords),
            (_OPT_IN_IF_OPTED_OUT, self.conditional_opt_in_keywords),
            (_HELP, self.help_keywords),
            (_FILLER, self.filler_words),
        ):
            for value in values:
                words = _words(value)
                kinds[words] = kinds.get(words, 0) | flag

        def words_of(mask: int) -> frozenset[str]:
            return frozenset(w for entry, kind in kinds.items() if kind & mask for w in entry)

        return _Index(
            kinds=kinds,
            longest=max(map(len, kinds), default=0),
            opt_out_words=words_of(_OPT_OUT_ALLOWED),
            opt_in_words=words_of(_OPT_IN_ALLOWED),
            help_words=words_of(_HELP_ALLOWED),
            opt_out_starts=frozenset(
                entry[0] for entry, kind in kinds.items() if kind & _OPT_OUT_SIGNAL
            ),
        )

    def without(self, *entries: str) -> Vocabulary:
        """A copy with ``entries`` removed from every field (an operator's exclusions)."""
        drop = {_words(entry) for entry in entries}  # "no mas" also drops "no más"
        changes = {
            f.name: frozenset(v for v in getattr(self, f.name) if _words(v) not in drop)
            for f in dataclasses.fields(self)
            if f.init
        }
        return dataclasses.replace(self, **changes)


def merged(*vocabularies: Vocabulary) -> Vocabulary:
    """One vocabulary recognising everything any of ``vocabularies`` recognises."""
    names = [f.name for f in dataclasses.fields(Vocabulary) if f.init]
    return Vocabulary(
        **{name: frozenset().union(*(getattr(v, name) for v in vocabularies)) for name in names}
    )


def _with_prefixes(prefixes: Iterable[str], rests: Iterable[str]) -> frozenset[str]:
    """Every "prefix rest" combination, to spell out negated requests compactly."""
    rests = tuple(rests)
    return frozenset(f"{prefix} {rest}" for prefix in prefixes for rest in rests)


_EN_OBJECTS = ("texts", "text", "messages", "msgs", "sms")

ENGLISH = DEFAULT_VOCABULARY = Vocabulary(
    opt_out_keywords=frozenset(
        {"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke"}
        | {"optout", "opt out"}
    ),
    opt_in_keywords=frozenset({"start", "unstop"}),
    conditional_opt_in_keywords=frozenset({"yes"}),
    help_keywords=frozenset({"help", "info"}),
    filler_words=frozenset(
        # politeness and greetings
        {"please", "pls", "plz", "plse", "thanks", "thank", "thx", "thnx", "ty", "tks"}
        | {"no thanks", "no thank", "hi", "hello", "hey", "sorry", "ok", "okay", "k"}
        # who and how
        | {"i", "me", "my", "you", "u", "your", "ur", "we", "us", "our", "them", "it"}
        | {"want", "wanna", "to", "would", "id", "like", "need", "can", "could", "will"}
        | {"just", "now", "right", "immediately", "asap", "for good", "again"}
        # what is being stopped
        | {"texting", "text", "texts", "txt", "txts", "sending", "send", "messaging"}
        | {"messages", "message", "msgs", "msg", "sms", "contacting", "calling"}
        | {"bothering", "spamming", "spam", "consent", "subscription", "subscriptions"}
        | {"mailing", "list", "lists", "number", "phone", "alerts", "notifications"}
        | {"updates", "reminders", "all", "any", "more", "anymore", "from", "of"}
        | {"this", "these", "that", "those", "the"}
    ),
    opt_out_phrases=frozenset(
        {"remove me", "remove my number", "remove this number", "take me off"}
        | {"take my number off", "opt me out", "leave me alone", "unsub", "unsuscribe"}
        | {"unsubcribe", "remove me from this list", "remove me from your list"}
        | {"take me off your list", "take me off this list", "wrong number stop"}
        | _with_prefixes(("no more",), _EN_OBJECTS)
        | _with_prefixes(
            ("dont", "do not"),
            ("text me", "contact me", "message me", "msg me", "sms me", "send me")
            + tuple(f"want {what}" for what in _EN_OBJECTS)
            + tuple(f"want {whose} {what}" for whose in ("these", "your") for what in _EN_OBJECTS)
            + tuple(f"want any more {what}" for what in _EN_OBJECTS),
        )
    ),
)

SPANISH = Vocabulary(
    opt_out_keywords=frozenset(
        {"parar", "alto", "cancelar", "baja", "detener", "fin", "terminar", "no más", "no mas"}
    ),
    opt_in_keywords=frozenset({"comenzar", "iniciar"}),
    conditional_opt_in_keywords=frozenset({"sí", "si"}),
    help_keywords=frozenset({"ayuda"}),
    filler_words=frozenset(
        {"por favor", "porfavor", "porfa", "xfa", "xfavor", "gracias", "hola", "vale"}
        | {"me", "mi", "mis", "ya", "de", "del", "a", "la", "las", "el", "los", "lo"}
        | {"quiero", "quisiera", "dar", "darme", "ahora", "inmediatamente", "todo"}
        | {"todos", "mensajes", "mensaje", "msj", "msjs", "textos", "texto", "sms"}
        | {"enviar", "enviarme", "envíen", "manden", "mandar", "recibir", "lista"}
        | {"esta", "este", "estos", "estas", "número", "suscripción", "favor", "más"}
    ),
    opt_out_phrases=frozenset(
        {"no me envíen", "no me manden", "no me escriban", "no me contacten"}
        | {"no me molesten", "dejen de enviarme", "deja de enviarme", "dejen de escribirme"}
        | {"no quiero mensajes", "no quiero recibir", "no quiero más mensajes"}
        | {"bórrame", "bórrenme", "sácame", "sáquenme", "quítame", "quítenme"}
        | {"elimíname", "elimínenme", "eliminar mi número"}
    ),
)


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------


def _covered(
    words: tuple[str, ...],
    index: _Index,
    vocabulary_words: frozenset[str],
    allowed: int,
    signal: int,
) -> bool:
    """Can ``words`` be split wholly into ``allowed`` entries, one of them a ``signal``?

    A small dynamic programme over entry lengths, so multi-word entries ("opt out",
    "no thanks") combine in any order; a word outside the vocabulary fails at once.
    """
    if not all(word in vocabulary_words for word in words):
        return False
    count = len(words)
    # state[i]: 0 unreachable, 1 reached without a signal, 2 reached with one
    state = [0] * (count + 1)
    state[0] = 1
    for start in range(count):
        if not state[start]:
            continue
        for stop in range(start + 1, min(count, start + index.longest) + 1):
            kind = index.kinds.get(words[start:stop], 0)
            if kind & allowed:
                reached = 2 if state[start] == 2 or kind & signal else 1
                state[stop] = max(state[stop], reached)
    return state[count] == 2


def _mentions_opt_out(words: tuple[str, ...], index: _Index) -> bool:
    """Does any run of whole words equal an opt-out keyword or phrase?"""
    for start, word in enumerate(words):
        if word not in index.opt_out_starts:
            continue
        for stop in range(start + 1, min(len(words), start + index.longest) + 1):
            if index.kinds.get(words[start:stop], 0) & _OPT_OUT_SIGNAL:
                return True
    return False


def classify(
    text: str, *, opted_out: bool = False, vocabulary: Vocabulary = DEFAULT_VOCABULARY
) -> Intent:
    """Decide what an inbound message asks for (rules a-e in the module docstring).

    ``opted_out`` is whether the sender is currently opted out; it only decides whether
    YES-like confirmations opt back in.
    """
    words = _words(text)
    if not words:
        return Intent.NONE
    index = vocabulary._index
    if _covered(words, index, index.opt_out_words, _OPT_OUT_ALLOWED, _OPT_OUT_SIGNAL):
        return Intent.OPT_OUT
    opt_in_signal = _OPT_IN | (_OPT_IN_IF_OPTED_OUT if opted_out else 0)
    if _covered(words, index, index.opt_in_words, _OPT_IN_ALLOWED, opt_in_signal):
        return Intent.OPT_IN
    if _covered(words, index, index.help_words, _HELP_ALLOWED, _HELP):
        return Intent.HELP
    if _mentions_opt_out(words, index):
        return Intent.POSSIBLE_OPT_OUT
    return Intent.NONE
