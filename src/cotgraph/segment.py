"""Cut a trace's reasoning text into steps: the nodes of the search graph.

Why not plain sentence splitting: reasoning models write in a mix of prose, LaTeX, code and lists,
and they change direction with discourse markers ("Wait", "Alternatively", "Let me check").
A step should be one move of the search, so a step opens at such a marker or at a paragraph
break, and it never cuts through a formula, a code block, a list number, an abbreviation or a
decimal number (a cut there gives nodes that are meaningless on their own, and half formulas
break rendering).

How: a single left-to-right scan finds the *protected spans* (math, code fences, inline code) and
the paragraph breaks (blank lines outside code fences). Each paragraph, with its protected spans
masked out, goes through spaCy's rule-based ``sentencizer`` (``spacy.blank("en")``, no model
download) for candidate sentence boundaries, which rules specific to reasoning text then filter.
Fragments shorter than ``min_chars`` merge into a neighbour.

Offsets and whitespace (the contract the tests check):

- ``text[step.start:step.end] == step.text`` for every step, where ``text`` is
  ``trace.reasoning`` (or the string given);
- steps are in order and do not overlap; a step never starts or ends with whitespace
  (``str.isspace``), and the whitespace *between* two steps belongs to neither;
- every non-whitespace character of the text belongs to exactly one step;
- empty or whitespace-only text gives no steps.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

from cotgraph.model import Step, Trace

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "ABBREVIATIONS",
    "DEFAULT_MARKERS",
    "HALT_MARKERS",
    "Granularity",
    "ProtectedSpan",
    "SegmentConfig",
    "protected_spans",
    "segment",
    "segment_many",
]

Granularity = Literal["sentence", "step", "paragraph"]
"""``sentence``: every sentence, and every line that starts a list item, a heading or a marker.
``step``: sentences stay together until a discourse marker opens a sentence or a blank line
comes. ``paragraph``: only blank lines cut."""

HALT_MARKERS: tuple[str, ...] = (
    # Backtracking and self-correction: the "wait" family that R1, QwQ and their distills use
    # when they abandon a line of thought (the markers counted in the "aha moment" analyses).
    "wait",
    "but wait",
    "wait wait",
    "oh wait",
    "no wait",
    "hmm wait",
    "wait a minute",
    "wait a second",
    "hold on",
    "but hold on",
    "hang on",
    "on second thought",
    "actually",
    "oops",
    "hmm",
    "oh",
)
"""Openers with which a model stops itself; the graph stage reads them as a sign of backtracking."""

DEFAULT_MARKERS: tuple[str, ...] = (
    *HALT_MARKERS,
    # Branching: an alternative line is opened.
    "alternatively",
    "another approach",
    "another way",
    "another idea",
    "another thought",
    "what if",
    "or maybe",
    "maybe instead",
    "instead",
    "let me try",
    "let's try",
    "let me consider",
    "let's consider",
    # Verification: an earlier result is checked (the graph's ``verify`` edges start here).
    "let me check",
    "let's check",
    "let me verify",
    "let's verify",
    "let me double-check",
    "let's double-check",
    "let me confirm",
    "let me recheck",
    "let me re-check",
    "let me re-examine",
    "let me recalculate",
    "let me recompute",
    "let me reconsider",
    "let me re-evaluate",
    "let me make sure",
    "double-checking",
    "to verify",
    "to double-check",
    # Reflection and restarts: the model steps back or returns to an earlier point.
    "let me think",
    "let's think",
    "let me see",
    "let's see",
    "let me recall",
    "let me go back",
    "going back",
    "let me start over",
    "let me rethink",
    # Transitions: the openers R1-style models use to start a new move ("Okay, so", "Now, ...",
    # "So, ..."). They are weak on their own, but they do mark where a new step begins.
    "okay so",
    "ok so",
    "alright so",
    "all right so",
    "okay",
    "alright",
    "so",
    "now",
)
"""Discourse markers that open a step, matched case-insensitively at the start of a sentence or
line (after optional quotes, brackets or ``*``), on word boundaries, longest first. Words may be
separated by whitespace or a comma ("Okay, so", "Hmm, wait"), and a hyphen also matches a space
or nothing ("double check"). The step records the marker in this normalised, lower-case form."""

ABBREVIATIONS: tuple[str, ...] = (
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "cf",
    "approx",
    "fig",
    "figs",
    "eq",
    "eqs",
    "eqn",
    "nos",
    "vol",
    "pp",
    "resp",
    "ref",
    "sec",
    "thm",
    "al",
)
"""Words that end with a period and never end a sentence here ("Dr. Fu", "e.g. 3", "approx.
5"). ``No.`` is handled apart: it is an abbreviation only before a digit or ``#`` ("No. 5"), since
"No." is also a whole sentence in reasoning ("Is it 5? No.")."""


@dataclass(frozen=True)
class SegmentConfig:
    """How to cut a trace into steps."""

    granularity: Granularity = "step"
    min_chars: int = 20
    """Fragments with fewer than this many non-whitespace characters merge into the following
    step (into the previous one when they are last). Non-whitespace, because step texts carry
    no outer whitespace and indentation inside a fragment says nothing about its content.
    ``0`` turns merging off."""
    markers: tuple[str, ...] = field(default=DEFAULT_MARKERS)
    """Discourse markers that open a step; see ``DEFAULT_MARKERS``."""

    def __post_init__(self) -> None:
        """Validate, and normalise the markers (lower-case, single spaces) so steps record one
        form whatever the user typed."""
        if self.granularity not in get_args(Granularity):
            raise ValueError(f"granularity must be one of {get_args(Granularity)}")
        if self.min_chars < 0:
            raise ValueError("min_chars must be >= 0")
        if isinstance(self.markers, str):
            raise TypeError("markers must be a sequence of strings, not a string")
        norm = tuple(dict.fromkeys(" ".join(m.lower().split()) for m in self.markers))
        if any(not m for m in norm):
            raise ValueError("markers must not be empty")
        object.__setattr__(self, "markers", norm)


class ProtectedSpan(NamedTuple):
    """A span of text a step boundary may not fall inside: ``kind`` is ``math``, ``code``
    (inline) or ``fence`` (a fenced code block)."""

    start: int
    end: int
    kind: str


# --- scanning: protected spans and paragraph breaks -------------------------------------------

_TOKEN_RE = re.compile(r"\\\\|\\\$|\\\(|\\\[|\\begin\{([A-Za-z]+\*?)\}|\$\$|\$|`+|~{3,}")
_PAREN_CLOSE_RE = re.compile(r"\\\\|\\\)")
_BRACKET_CLOSE_RE = re.compile(r"\\\\|\\\]")
_DDOLLAR_CLOSE_RE = re.compile(r"\\\\|\\\$|\$\$")
_DOLLAR_CLOSE_RE = re.compile(r"\\\\|\\\$|\$")
_BACKTICKS_RE = re.compile(r"`+")
_BREAK_RE = re.compile(r"\n[^\S\n]*\n|\u2029")
_WS_RE = re.compile(r"\s*")
_NONWS_RE = re.compile(r"\S")


@lru_cache(maxsize=64)
def _fence_close_re(char: str, length: int) -> re.Pattern[str]:
    """A closing fence line: the fence character at least as many times as the opener."""
    return re.compile(r"^[^\S\n]*(" + re.escape(char) + "{" + str(length) + r",})[^\S\n]*$", re.MULTILINE)


def _first_closer(pattern: re.Pattern[str], closer: str, text: str, pos: int, end: int) -> int:
    """Start of the first ``closer`` in ``text[pos:end]`` that is not escaped, or -1. The
    pattern matches escaped pairs (``\\\\``, ``\\$``) too, so they are stepped over."""
    for m in pattern.finditer(text, pos, end):
        if m.group() == closer:
            return m.start()
    return -1


def _scan(text: str) -> tuple[list[ProtectedSpan], list[tuple[int, int]]]:
    """Find the protected spans and the paragraph breaks of ``text`` in one pass.

    Math uses pandoc's rules so that currency stays text: ``$`` opens only before a non-space,
    closes only after a non-space and not before a digit, and the first ``$`` after an opener
    decides (``$20 and $30`` is not math). No math or inline code crosses a blank line; an
    opener without its closer is plain text. A fence (three or more backticks or tildes at a line
    start) runs to its closing line, or to the end of the text when unclosed. Backslash pairs
    and ``\\$`` are escapes. Breaks are the whitespace runs holding a blank line (or U+2029),
    outside fences.
    """
    n = len(text)
    raw_breaks = [m.start() for m in _BREAK_RE.finditer(text)]

    def bound(pos: int) -> int:
        i = bisect_left(raw_breaks, pos)
        return raw_breaks[i] if i < len(raw_breaks) else n

    # A closer search that failed up to a bound fails for every later opener with that bound:
    # remembering it keeps a paragraph full of unclosed openers linear, not quadratic.
    failed: set[tuple[str, int]] = set()

    def find(pattern: re.Pattern[str], closer: str, start: int) -> int:
        end = bound(start)
        if (closer, end) in failed:
            return -1
        j = _first_closer(pattern, closer, text, start, end)
        if j < 0:
            failed.add((closer, end))
        return j

    spans: list[ProtectedSpan] = []
    pos = 0
    search = _TOKEN_RE.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        s, e = m.span()
        tok = m.group()
        head = tok[0]
        pos = e
        if head == "\\":
            second = tok[1]
            if second == "(" or second == "[":
                pattern = _PAREN_CLOSE_RE if second == "(" else _BRACKET_CLOSE_RE
                closer = "\\)" if second == "(" else "\\]"
                j = find(pattern, closer, e)
                if j >= 0:
                    spans.append(ProtectedSpan(s, j + 2, "math"))
                    pos = j + 2
            elif second == "b":
                end_tag = "\\end{" + m.group(1) + "}"
                end = bound(e)
                j = -1 if (end_tag, end) in failed else text.find(end_tag, e, end)
                if j < 0:
                    failed.add((end_tag, end))
                else:
                    spans.append(ProtectedSpan(s, j + len(end_tag), "math"))
                    pos = j + len(end_tag)
        elif head == "$":
            if tok == "$$":
                j = find(_DDOLLAR_CLOSE_RE, "$$", e)
                if j >= 0:
                    spans.append(ProtectedSpan(s, j + 2, "math"))
                    pos = j + 2
            elif e < n and not text[e].isspace():
                j = _first_closer(_DOLLAR_CLOSE_RE, "$", text, e, bound(e))
                if j >= 0 and not text[j - 1].isspace() and not (j + 1 < n and "0" <= text[j + 1] <= "9"):
                    spans.append(ProtectedSpan(s, j + 1, "math"))
                    pos = j + 1
        else:  # backticks or tildes
            k = s - 1
            while k >= 0 and text[k] in " \t":
                k -= 1
            if len(tok) >= 3 and (k < 0 or text[k] == "\n"):
                line_end = text.find("\n", e)
                close = None if line_end < 0 else _fence_close_re(head, len(tok)).search(text, line_end + 1)
                end = len(text.rstrip()) if close is None else close.end(1)
                spans.append(ProtectedSpan(s, end, "fence"))
                pos = end
            elif head == "`":
                end = bound(e)
                if (tok, end) in failed:
                    continue
                for c in _BACKTICKS_RE.finditer(text, e, end):
                    if c.end() - c.start() == len(tok):
                        spans.append(ProtectedSpan(s, c.end(), "code"))
                        pos = c.end()
                        break
                else:
                    failed.add((tok, end))

    breaks: list[tuple[int, int]] = []
    fences = [(sp.start, sp.end) for sp in spans if sp.kind == "fence"]
    fence_starts = [f[0] for f in fences]
    last_end = -1
    for b in raw_breaks:
        if b < last_end:
            continue
        i = bisect_right(fence_starts, b) - 1
        if i >= 0 and b < fences[i][1]:
            continue
        bs = b
        while bs > 0 and text[bs - 1].isspace():
            bs -= 1
        be = _WS_RE.match(text, b).end()  # type: ignore[union-attr]
        breaks.append((bs, be))
        last_end = be
    return spans, breaks


def protected_spans(text: str) -> list[ProtectedSpan]:
    """The math, inline-code and code-fence spans of ``text``, in order and disjoint: the places
    no step boundary may fall inside (a boundary at a span's start or end is fine)."""
    return _scan(text)[0]


# --- rules on candidate boundaries ------------------------------------------------------------

_ABBREV_RE = re.compile(r"(?:^|[^\w.])(?:" + "|".join(re.escape(a) for a in ABBREVIATIONS) + r")\.$", re.IGNORECASE)
_NO_RE = re.compile(r"(?:^|[^\w.])no\.$", re.IGNORECASE)
_LIST_NUMBER_RE = re.compile(r"\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)]|[-*+•]")
_LIST_ITEM_START_RE = re.compile(r"(?:\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)]|[-*+•]|#{1,6})(?:\s|$)")
_HEADING_LINE_RE = re.compile(r"#{1,6}\s[^\n]*|\*\*[^*\n]+\*\*:?[^\S\n]*(?=\n|$)")
_LINE_START_RE = re.compile(r"[\n\r\u2028][^\S\n\r\u2028]*(?=\S)")
_OPENING_PUNCT = frozenset("\"'“‘«([{*")
_MARKER_PREFIX = r"[\"'“”‘’«»(\[*]*"
_MARKER_SEP = r"[\s,;:.!?…\-–—*\"'“”‘’)]*"
_MARKER_END = r"(?![\w'’\-])"
_MAX_CHAIN = 6
_WORD_VARIANTS = {"hmm": "hm+"}
"""Spellings a marker word also matches: models write "Hm", "Hmm" and "Hmmm" alike."""


class _MarkerMatcher(NamedTuple):
    """Compiled marker patterns: the first marker at a position, a chained one after it, and
    the first word of any marker (to find candidates quickly)."""

    first: re.Pattern[str]
    chained: re.Pattern[str]
    first_word: re.Pattern[str]
    names: tuple[str, ...]

    def occurs(self, text: str, pos: int = 0) -> bool:
        """Whether any marker occurs in ``text[pos:]`` (a pre-check before the sentencizer)."""
        return any(self.first.match(text, m.start()) for m in self.first_word.finditer(text, pos))


@lru_cache(maxsize=32)
def _marker_matcher(markers: tuple[str, ...]) -> _MarkerMatcher | None:
    """Compile the markers once per marker set (longest first, so "but wait" beats "but")."""
    if not markers:
        return None
    ordered = sorted(markers, key=len, reverse=True)
    alts = []
    first_words: set[str] = set()
    for i, marker in enumerate(ordered):
        words = []
        for word in marker.split(" "):
            if word in _WORD_VARIANTS:
                words.append(_WORD_VARIANTS[word])
                continue
            parts = [re.escape(p) for p in word.split("-")]
            words.append(r"[\-‐‑ ]?".join(parts))
        alts.append(f"(?P<m{i}>" + r"[\s,]+".join(words) + ")")
        first_words.add(words[0])
    body = "(?:" + "|".join(alts) + ")" + _MARKER_END
    return _MarkerMatcher(
        re.compile(_MARKER_PREFIX + body, re.IGNORECASE),
        re.compile(_MARKER_SEP + body, re.IGNORECASE),
        re.compile(r"\b(?:" + "|".join(sorted(first_words, key=len, reverse=True)) + r")\b", re.I),
        tuple(ordered),
    )


def _markers_at(matcher: _MarkerMatcher | None, text: str, pos: int, end: int) -> list[str]:
    """The markers that open the text at ``pos`` (a chain such as "Hmm, wait, actually")."""
    if matcher is None:
        return []
    m = matcher.first.match(text, pos, end)
    found: list[str] = []
    while m is not None and len(found) < _MAX_CHAIN:
        found.append(matcher.names[int(m.lastgroup[1:])])  # type: ignore[index]
        m = matcher.chained.match(text, m.end(), end)
    return found


def _inside(starts: Sequence[int], ends: Sequence[int], pos: int) -> bool:
    """Whether ``pos`` falls strictly inside one of the (sorted, disjoint) spans."""
    i = bisect_right(starts, pos) - 1
    return i >= 0 and starts[i] < pos < ends[i]


def _sentence_start_ok(text: str, p: int, unit_start: int) -> bool:
    """Whether a sentencizer boundary at ``p`` (a non-space character) is a real sentence start:
    it follows whitespace (so "3.14" and "x.y" never split), and what ends before it is no
    abbreviation and no list number ("1." stays with its item)."""
    before = text[max(unit_start, p - 24) : p].rstrip()
    if _ABBREV_RE.search(before):
        return False
    if _NO_RE.search(before) and (text[p].isdigit() or text[p] == "#"):
        return False
    lo = max(unit_start, p - 64)  # a list number is short: look back one short line at most
    newline = text.rfind("\n", lo, p)
    if newline < 0 and lo > unit_start:
        return True
    head = text[max(lo, newline + 1) : p].strip()
    return not (len(head) <= 8 and _LIST_NUMBER_RE.fullmatch(head))


# --- spaCy --------------------------------------------------------------------------------------


@cache
def _nlp() -> Language:
    """The shared blank English pipeline with the rule-based sentencizer (built once, lazily:
    importing cotgraph should not load spaCy).

    spaCy's English tokenizer keeps a single letter with its period as one token (initials,
    "J. Smith"), so no sentence could end there. In reasoning text such a letter is nearly always
    a variable or an option ("so the answer is x. Wait", "the answer is D. But wait"), so single
    letters are split from their period; the other abbreviations (``Dr.``, ``e.g.``) stay.
    """
    import string

    import spacy
    from spacy.symbols import ORTH

    nlp = spacy.blank("en")
    rules = nlp.tokenizer.rules or {}
    nlp.tokenizer.rules = {k: v for k, v in rules.items() if not _LETTER_DOT_RE.fullmatch(k)}
    for letter in string.ascii_letters:
        nlp.tokenizer.add_special_case(letter + ".", [{ORTH: letter}, {ORTH: "."}])
    nlp.add_pipe("sentencizer")
    return nlp


_LETTER_DOT_RE = re.compile(r"°?[^\W\d_]\.")


def _sentence_starts(docs_texts: list[str]) -> list[list[int]]:
    """Sentence-start offsets (beyond 0) of each text, from spaCy's sentencizer."""
    if not docs_texts:
        return []
    from spacy.attrs import IDX, SENT_START

    nlp = _nlp()
    longest = max(len(t) for t in docs_texts)
    if longest >= nlp.max_length:
        # The blank pipeline keeps no per-token matrices, so long texts are safe: the limit
        # only guards against the memory of parsers and NER, which are absent here.
        nlp.max_length = longest + 1
    out: list[list[int]] = []
    for doc in nlp.pipe(docs_texts, batch_size=256):
        arr = doc.to_array([SENT_START, IDX])
        out.append(arr[1:, 1][arr[1:, 0] == 1].tolist())
    return out


# --- segmentation -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """One text after scanning: its units (paragraphs) and what spaCy should see of each."""

    text: str
    units: list[tuple[int, int]]
    span_starts: list[int]
    span_ends: list[int]
    spans: list[ProtectedSpan]
    to_nlp: list[tuple[int, str]]  # (unit index, masked unit text)


def _filler(length: int) -> str:
    """Neutral text of the given length: words of at most 15 letters, so that masks of every
    length do not each add a new string to spaCy's vocabulary."""
    return (_FILL_UNIT * (length // 16 + 1))[:length]


_FILL_UNIT = "x" * 15 + " "


def _mask(text: str, start: int, end: int, spans: list[ProtectedSpan]) -> str:
    """``text[start:end]`` with protected spans replaced by same-length filler, so the
    sentencizer sees no sentence ends inside them but offsets stay the same. Math that ends with
    a full stop ("\\[ x = 5. \\]") keeps it, so the sentence can still end there."""
    if not spans:
        return text[start:end]
    pieces: list[str] = []
    cur = start
    for sp in spans:
        pieces.append(text[cur : sp.start])
        length = sp.end - sp.start
        if sp.kind == "math" and length > 1 and text[sp.start : sp.end].rstrip("$\\)] \t\n").endswith("."):
            pieces.append(_filler(length - 1) + ".")
        else:
            pieces.append(_filler(length))
        cur = sp.end
    pieces.append(text[cur:end])
    return "".join(pieces)


def _prepare(text: str, config: SegmentConfig) -> _Prepared:
    """Scan ``text`` and decide which paragraphs need the sentencizer."""
    spans, breaks = _scan(text)
    units: list[tuple[int, int]] = []
    cur = 0
    for bs, be in [*breaks, (len(text), len(text))]:
        m = _NONWS_RE.search(text, cur, bs)
        if m is not None:
            end = bs
            while text[end - 1].isspace():
                end -= 1
            units.append((m.start(), end))
        cur = be
    span_starts = [sp.start for sp in spans]
    span_ends = [sp.end for sp in spans]
    to_nlp: list[tuple[int, str]] = []
    if config.granularity != "paragraph":
        matcher = _marker_matcher(config.markers)
        for ui, (us, ue) in enumerate(units):
            lo = bisect_left(span_ends, us + 1)
            hi = bisect_left(span_starts, ue)
            masked = _mask(text, us, ue, spans[lo:hi])
            # At step granularity only a marker can open a step inside a paragraph: skip spaCy
            # for paragraphs where no marker occurs at all.
            if config.granularity == "step" and (matcher is None or not matcher.occurs(masked, 1)):
                continue
            to_nlp.append((ui, masked))
    return _Prepared(text, units, span_starts, span_ends, spans, to_nlp)


def _fragments(prep: _Prepared, sentence_starts: dict[int, list[int]], config: SegmentConfig) -> list[tuple[int, int]]:
    """Cut each unit at the boundaries the granularity asks for; returns stripped spans."""
    text = prep.text
    starts, ends = prep.span_starts, prep.span_ends
    matcher = _marker_matcher(config.markers)
    frags: list[tuple[int, int]] = []
    for ui, (us, ue) in enumerate(prep.units):
        cuts: set[int] = set()
        if config.granularity != "paragraph":
            for off in sentence_starts.get(ui, ()):
                p = us + off
                m = _NONWS_RE.search(text, p, ue)
                if m is None:
                    continue
                p = m.start()
                while p > us and text[p - 1] in _OPENING_PUNCT:
                    p -= 1
                if p <= us or not text[p - 1].isspace() or _inside(starts, ends, p):
                    continue
                if not _sentence_start_ok(text, p, us):
                    continue
                if config.granularity == "sentence" or _markers_at(matcher, text, p, ue):
                    cuts.add(p)
            for m in _LINE_START_RE.finditer(text, us, ue):
                p = m.end()
                if _inside(starts, ends, p):
                    continue
                if _markers_at(matcher, text, p, ue):
                    cuts.add(p)
                elif config.granularity == "sentence":
                    # A line of its own: a list item or a heading, or the line after a heading.
                    if _LIST_ITEM_START_RE.match(text, p, ue) or _HEADING_LINE_RE.match(text, p, ue):
                        cuts.add(p)
                    else:
                        prev_start = max(us, text.rfind("\n", us, m.start()) + 1)
                        if _HEADING_LINE_RE.fullmatch(text[prev_start : m.start()].strip()):
                            cuts.add(p)
        bounds = [us, *sorted(cuts), ue]
        for a, b in pairwise(bounds):
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                frags.append((a, b))
    return frags


def _nonspace_len(text: str, start: int, end: int, enough: int) -> int:
    """Number of non-whitespace characters in ``text[start:end]``, exact below ``enough`` (only the
    comparison with ``min_chars`` needs it): a long fragment is judged on its head."""
    if end - start > 8 * enough:
        head = sum(map(len, text[start : start + 8 * enough].split()))
        if head >= enough:
            return head
    return sum(map(len, text[start:end].split()))


def _build_steps(
    prep: _Prepared, sentence_starts: dict[int, list[int]], config: SegmentConfig, trace_id: str
) -> list[Step]:
    """Fragments, merged to ``min_chars``, as ``Step`` objects with their opening markers."""
    text = prep.text
    matcher = _marker_matcher(config.markers)
    merged: list[tuple[int, int, list[str]]] = []
    pending: tuple[int, int, list[str], int] | None = None  # start, end, markers, size
    for a, b in _fragments(prep, sentence_starts, config):
        marks = _markers_at(matcher, text, a, b)
        size = _nonspace_len(text, a, b, config.min_chars) if config.min_chars else 0
        if pending is not None:
            a, marks, size = pending[0], pending[2] + marks, pending[3] + size
        if size >= config.min_chars:
            merged.append((a, b, marks))
            pending = None
        else:
            pending = (a, b, marks, size)
    if pending is not None:
        if merged:
            a, _, marks = merged[-1]
            merged[-1] = (a, pending[1], marks + pending[2])
        else:
            merged.append(pending[:3])
    return [
        # model_construct: the fields are built right here, so pydantic's validation is skipped.
        Step.model_construct(trace_id=trace_id, idx=i, start=a, end=b, text=text[a:b], markers=marks, kind=None)
        for i, (a, b, marks) in enumerate(merged)
    ]


def _segment_prepared(preps: list[_Prepared], config: SegmentConfig, ids: list[str]) -> list[list[Step]]:
    """Run the sentencizer over all the prepared texts' units at once, then build steps."""
    flat = [masked for prep in preps for _, masked in prep.to_nlp]
    starts = iter(_sentence_starts(flat))
    out = []
    for prep, tid in zip(preps, ids, strict=True):
        per_unit = {ui: next(starts) for ui, _ in prep.to_nlp}
        out.append(_build_steps(prep, per_unit, config, tid))
    return out


def segment(source: Trace | str, config: SegmentConfig | None = None, *, trace_id: str | None = None) -> list[Step]:
    """Cut a trace's reasoning (or a bare string) into steps.

    ``trace_id`` overrides the id the steps carry (default: the trace's id, or "" for a string).
    """
    config = config or SegmentConfig()
    if isinstance(source, Trace):
        text, tid = source.reasoning, source.id
    elif isinstance(source, str):
        text, tid = source, ""
    else:
        raise TypeError(f"segment() takes a Trace or a str, not {type(source).__name__}")
    if trace_id is not None:
        tid = trace_id
    return _segment_prepared([_prepare(text, config)], config, [tid])[0]


def segment_many(
    traces: Iterable[Trace], config: SegmentConfig | None = None, *, batch_size: int = 64
) -> Iterator[tuple[Trace, list[Step]]]:
    """Segment many traces, streaming: traces go to spaCy's ``nlp.pipe`` in batches, which is
    faster than one ``segment`` call per trace. Yields each trace with its steps, in order."""
    config = config or SegmentConfig()
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")

    def flush(batch: list[Trace]) -> Iterator[tuple[Trace, list[Step]]]:
        preps = [_prepare(t.reasoning, config) for t in batch]
        results = _segment_prepared(preps, config, [t.id for t in batch])
        yield from zip(batch, results, strict=True)

    batch: list[Trace] = []
    for trace in traces:
        batch.append(trace)
        if len(batch) >= batch_size:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)
