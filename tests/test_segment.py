"""Tests for cotgraph.segment: each cutting rule, the offset contract, and real traces."""

from __future__ import annotations

import glob
import json
import time
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotgraph.model import Source, Step, Trace
from cotgraph.segment import (
    DEFAULT_MARKERS,
    ProtectedSpan,
    SegmentConfig,
    protected_spans,
    segment,
    segment_many,
)

DATA = Path(__file__).parents[1].parent / "shared" / "data"
GRANULARITIES = ("sentence", "step", "paragraph")
SENT0 = SegmentConfig(granularity="sentence", min_chars=0)
STEP0 = SegmentConfig(granularity="step", min_chars=0)


def texts(steps: list[Step]) -> list[str]:
    return [s.text for s in steps]


def check_contract(text: str, steps: list[Step], trace_id: str = "") -> None:
    """The offset contract of segment.py's docstring, checked from scratch."""
    owner = [0] * len(text)
    prev_end = 0
    for i, step in enumerate(steps):
        assert step.idx == i
        assert step.trace_id == trace_id
        assert text[step.start : step.end] == step.text
        assert prev_end <= step.start < step.end <= len(text)
        assert not step.text[0].isspace() and not step.text[-1].isspace()
        for k in range(step.start, step.end):
            owner[k] += 1
        prev_end = step.end
    for k, ch in enumerate(text):
        if ch.isspace():
            assert owner[k] <= 1
        else:
            assert owner[k] == 1, f"character {k} ({ch!r}) belongs to {owner[k]} steps"
    if not text.strip():
        assert steps == []


def no_cut_inside(text: str, steps: list[Step]) -> None:
    """No step starts or ends strictly inside a protected span."""
    for span in protected_spans(text):
        for step in steps:
            assert not (span.start < step.start < span.end), (span, step)
            assert not (span.start < step.end < span.end), (span, step)


# --- markers -------------------------------------------------------------------------------------


def test_marker_opens_step_and_is_recorded() -> None:
    text = "I computed x to be five here. Wait, that is not right at all."
    steps = segment(text)
    assert texts(steps) == ["I computed x to be five here.", "Wait, that is not right at all."]
    assert [s.markers for s in steps] == [[], ["wait"]]


def test_longest_marker_wins() -> None:
    text = "The sum is clearly twelve here. But wait, the sum may be thirteen. Hmm, wait, is it?"
    steps = segment(text, STEP0)
    assert [s.markers for s in steps] == [[], ["but wait"], ["hmm wait"]]


def test_markers_case_insensitive_after_quotes_and_emphasis() -> None:
    text = 'The value is large enough now. "WAIT, that is odd." **Alternatively** we could sum.'
    steps = segment(text, STEP0)
    assert [s.markers for s in steps] == [[], ["wait"], ["alternatively"]]


def test_markers_need_word_boundaries() -> None:
    text = "We need the list in order. Sort the list first please. Nowhere to go but onwards."
    assert len(segment(text, STEP0)) == 1


def test_marker_mid_sentence_does_not_open() -> None:
    text = "I think that, wait, the times are long, so we need more of them here."
    assert len(segment(text, STEP0)) == 1


def test_chained_markers_are_all_recorded() -> None:
    steps = segment("The first value is 12 here. Wait, actually, let me check this again.")
    assert steps[1].markers == ["wait", "actually", "let me check"]


def test_marker_at_line_start_opens_step() -> None:
    text = "So the result is\n\\[ x = 5 \\]\nWait, that is not the result we need."
    steps = segment(text)
    assert steps[-1].text.startswith("Wait") and steps[-1].markers == ["wait"]


def test_marker_spelling_variants() -> None:
    steps = segment("The sum is twelve as computed. Hmmm, let me double check it.", STEP0)
    assert steps[1].markers == ["hmm", "let me double-check"]


def test_custom_markers() -> None:
    config = SegmentConfig(markers=("Eureka", "  Look   here "), min_chars=0)
    assert config.markers == ("eureka", "look here")
    steps = segment("We try a long approach. Eureka! It works. Look here, a proof. Wait, no.", config)
    assert [s.markers for s in steps] == [[], ["eureka"], ["look here"]]


def test_default_markers_are_normalised() -> None:
    assert all(m == " ".join(m.lower().split()) for m in DEFAULT_MARKERS)
    assert {"wait", "but wait", "alternatively", "hmm", "let me check"} <= set(DEFAULT_MARKERS)


# --- paragraphs and granularity ------------------------------------------------------------------


def test_paragraph_breaks_cut_at_every_granularity() -> None:
    text = "First paragraph is here and long.\n  \t\nSecond paragraph is here too."
    for g in GRANULARITIES:
        steps = segment(text, SegmentConfig(granularity=g))
        assert texts(steps) == ["First paragraph is here and long.", "Second paragraph is here too."]


def test_step_granularity_keeps_sentences_together() -> None:
    text = "I add two and three. That gives five here. Then I double it to ten."
    assert texts(segment(text, STEP0)) == [text]


def test_sentence_granularity_cuts_every_sentence() -> None:
    text = "I add two and three. That gives five here! Is it ten? Then I double it."
    assert texts(segment(text, SENT0)) == [
        "I add two and three.",
        "That gives five here!",
        "Is it ten?",
        "Then I double it.",
    ]


def test_sentence_granularity_cuts_list_items_and_after_headings() -> None:
    text = "We list the facts:\n- the first fact here\n- the second fact here\n**Result**\nIt is 5"
    assert texts(segment(text, SENT0)) == [
        "We list the facts:",
        "- the first fact here",
        "- the second fact here",
        "**Result**",
        "It is 5",
    ]


def test_sentence_granularity_keeps_wrapped_lines_together() -> None:
    text = "The formula we need is\n\\[ A = P(1 + r) \\]\nwhere r is the rate."
    assert texts(segment(text, SENT0)) == [text]


def test_paragraph_granularity_ignores_markers_but_records_them() -> None:
    text = "Wait, the sum is 12. Alternatively it is 13. So what?\n\nNow we go on to the next one."
    steps = segment(text, SegmentConfig(granularity="paragraph", min_chars=0))
    assert len(steps) == 2
    assert [s.markers for s in steps] == [["wait"], ["now"]]


# --- protected spans -----------------------------------------------------------------------------

MATH_FORMS = [
    "$x = 5. Wait y = 3$",
    "$$x = 5. Wait y = 3$$",
    "\\(x = 5. Wait y = 3\\)",
    "\\[x = 5. Wait y = 3\\]",
    "\\begin{align}x &= 5. Wait\\\\ y &= 3\\end{align}",
]


@pytest.mark.parametrize("math", MATH_FORMS)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_never_splits_inside_math(math: str, granularity: str) -> None:
    text = f"We get the result {math} as shown. Wait, check it."
    steps = segment(text, SegmentConfig(granularity=granularity, min_chars=0))  # type: ignore[arg-type]
    assert any(math in s.text for s in steps)
    assert protected_spans(text) == [ProtectedSpan(18, 18 + len(math), "math")]
    if granularity != "paragraph":
        assert steps[-1].text == "Wait, check it."


def test_sentence_can_end_inside_math_but_not_at_a_factorial() -> None:
    text = "We get the value \\[ x = 5. \\] Then we stop here. We get \\[ 4! \\] and that is all."
    assert texts(segment(text, SENT0)) == [
        "We get the value \\[ x = 5. \\]",
        "Then we stop here.",
        "We get \\[ 4! \\] and that is all.",
    ]


def test_currency_dollar_does_not_open_math() -> None:
    text = "It costs $20. Wait, the other one costs $1.90, which is less."
    assert protected_spans(text) == []
    steps = segment(text, STEP0)
    assert texts(steps) == ["It costs $20.", "Wait, the other one costs $1.90, which is less."]
    assert protected_spans("After a month: $100 * 1.005 = $100.50. So we go on.") == []
    assert protected_spans("Between $5-$10 here.") == []
    spans = protected_spans("The distance from point $A$ to point $B$ is 7.")
    assert [(s.start, s.end) for s in spans] == [(24, 27), (37, 40)]
    assert [s.kind for s in protected_spans("$3(1+3)$ and $x$5")] == ["math"]


def test_math_never_crosses_a_blank_line() -> None:
    text = "The price is $5 in total here\n\nWait, $x$ is what we want to compute."
    assert [(s.start, s.end) for s in protected_spans(text)] == [(37, 40)]
    assert len(segment(text)) == 2


def test_escaped_dollars_and_backslashes() -> None:
    assert protected_spans("a \\$5 and \\$6 here") == []
    assert protected_spans("line \\\\[2pt] and more") == []
    assert [(s.start, s.end) for s in protected_spans("\\(a \\\\) b\\)")] == [(0, 11)]


def test_unclosed_delimiters_are_plain_text() -> None:
    for text in ("We have \\( x. Wait, no.", "We have $$ x. Wait, no.", "We use `x. Wait, no."):
        assert protected_spans(text) == []
        assert texts(segment(text, STEP0))[-1] == "Wait, no."


def test_code_fence_is_never_split() -> None:
    fence = "```python\nx = 1. Wait no.\n\ny = 2\n```"
    text = f"Let me write some code now.\n{fence}\nWait, it prints 1. Then we go on."
    for g in GRANULARITIES:
        steps = segment(text, SegmentConfig(granularity=g, min_chars=0))  # type: ignore[arg-type]
        assert any(fence in s.text for s in steps), g
    assert protected_spans(text) == [ProtectedSpan(28, 28 + len(fence), "fence")]


def test_unclosed_code_fence_runs_to_end() -> None:
    text = "Let me write code.\n~~~\nprint(1)\n\nWait. This is still code.\n"
    spans = protected_spans(text)
    assert spans == [ProtectedSpan(19, len(text) - 1, "fence")]
    assert texts(segment(text, SENT0)) == ["Let me write code.", text[19:-1]]


def test_inline_code_is_never_split() -> None:
    text = "Use `a. Wait b` here please. Then continue with ``x ` y. Now z`` too."
    steps = segment(text, SENT0)
    assert texts(steps) == ["Use `a. Wait b` here please.", "Then continue with ``x ` y. Now z`` too."]
    assert [s.kind for s in protected_spans(text)] == ["code", "code"]


def test_list_numbers_stay_with_their_items() -> None:
    text = "Steps:\n1. Add the numbers.\n2. Multiply them.\na) Check.\nii. Done it."
    steps = segment(text, SENT0)
    assert texts(steps) == ["Steps:", "1. Add the numbers.", "2. Multiply them.", "a) Check.", "ii. Done it."]


def test_abbreviations_do_not_end_sentences() -> None:
    text = (
        "Dr. Fu met Mr. Jones, e.g. at noon, i.e. lunch, vs. Prof. X approx. 3 times "
        "(see Fig. 2, Eq. 3 and No. 5 etc. for it)."
    )
    assert texts(segment(text, SENT0)) == [text]


def test_no_is_a_sentence_unless_a_number_follows() -> None:
    assert texts(segment("Is it five? No. It is six.", SENT0)) == ["Is it five?", "No.", "It is six."]


def test_single_letter_ends_a_sentence() -> None:
    text = "So the answer is x. Wait, it is y. The temperature is 20 °C. Then we stop."
    assert texts(segment(text, SENT0)) == [
        "So the answer is x.",
        "Wait, it is y.",
        "The temperature is 20 °C.",
        "Then we stop.",
    ]


def test_decimals_do_not_end_sentences() -> None:
    text = "The value is 3.14 and .5 and 0.25 here. Next sentence is here."
    assert texts(segment(text, SENT0)) == ["The value is 3.14 and .5 and 0.25 here.", "Next sentence is here."]


# --- merging short fragments ---------------------------------------------------------------------


def test_short_fragment_merges_into_the_following_step() -> None:
    text = "Hmm. The value of x is clearly twelve here."
    steps = segment(text, SegmentConfig(granularity="sentence"))
    assert texts(steps) == [text]
    assert steps[0].markers == ["hmm"]
    assert len(segment(text, SENT0)) == 2


def test_short_last_fragment_merges_into_the_previous_step() -> None:
    text = "The value of x is clearly twelve here. Wait. Yes."
    steps = segment(text, SegmentConfig(granularity="sentence"))
    assert texts(steps) == [text]
    assert steps[0].markers == ["wait"]


def test_min_chars_counts_non_whitespace() -> None:
    text = "a b c d e f g h i j. The next sentence is long enough."
    # "a b c d e f g h i j." is 20 characters long but has 11 non-whitespace ones.
    assert len(segment(text, SegmentConfig(granularity="sentence", min_chars=12))) == 1
    assert len(segment(text, SegmentConfig(granularity="sentence", min_chars=11))) == 2


def test_short_fragments_chain_until_long_enough() -> None:
    text = "Hmm. Wait. Okay. Now the long sentence comes here."
    steps = segment(text, SegmentConfig(granularity="sentence"))
    assert texts(steps) == [text]
    assert steps[0].markers == ["hmm", "wait", "okay", "now"]


def test_one_short_text_is_one_step() -> None:
    assert texts(segment("  Wait.  ")) == ["Wait."]


# --- API -----------------------------------------------------------------------------------------


def test_empty_and_whitespace_give_no_steps() -> None:
    for text in ("", " ", "\n\n\t \u2003\n"):
        for g in GRANULARITIES:
            assert segment(text, SegmentConfig(granularity=g)) == []


def test_trace_ids() -> None:
    trace = Trace(id="t1", reasoning="The sum is 12 here. Wait, it is 13.", source=Source(path="x"))
    assert {s.trace_id for s in segment(trace)} == {"t1"}
    assert {s.trace_id for s in segment(trace.reasoning)} == {""}
    assert {s.trace_id for s in segment(trace.reasoning, trace_id="t2")} == {"t2"}
    with pytest.raises(TypeError):
        segment(b"bytes")  # type: ignore[arg-type]


def test_segment_many_matches_segment() -> None:
    reasonings = [
        "The sum is 12 here. Wait, it is 13.",
        "",
        "Hmm. $x$ is\n\nNow it is long enough to stand alone.",
        "One more text. Alternatively we do it in another way.",
    ]
    traces = [Trace(id=f"t{i}", reasoning=r, source=Source(path="x", record=i)) for i, r in enumerate(reasonings)]
    for g in GRANULARITIES:
        config = SegmentConfig(granularity=g)
        got = list(segment_many(iter(traces), config, batch_size=3))
        assert [t for t, _ in got] == traces
        assert [steps for _, steps in got] == [segment(t, config) for t in traces]


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SegmentConfig(granularity="word")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SegmentConfig(min_chars=-1)
    with pytest.raises(TypeError):
        SegmentConfig(markers="wait")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        list(segment_many([], batch_size=0))


def test_very_long_text() -> None:
    sentence = "The value of $x_{i}$ is 3.14 here. Wait, let me check it again. "
    text = sentence * 18_000  # about 1.2 million characters, one paragraph
    assert len(text) > 1_000_000
    for g in GRANULARITIES:
        steps = segment(text, SegmentConfig(granularity=g))
        assert steps[0].start == 0 and steps[-1].end == len(text.rstrip())
        if g == "step":
            assert len(steps) == 18_001  # the first sentence, then one step per "Wait"
            assert steps[1].text == "Wait, let me check it again. The value of $x_{i}$ is 3.14 here."
            assert steps[1].markers == ["wait", "let me check"]
    check_contract(text, segment(text))


@pytest.mark.parametrize("unit", ["a \\( b ", "\\begin{x} a ", "a `` b ``` c ", "x $$ y \\[ z "])
def test_unclosed_openers_stay_linear(unit: str) -> None:
    """Many openers without closers in one paragraph: a naive closer search is quadratic here
    (tens of seconds); the scan must stay linear."""
    text = unit * (400_000 // len(unit))
    start = time.perf_counter()
    steps = segment(text, SegmentConfig(granularity="sentence"))
    assert time.perf_counter() - start < 5.0
    check_contract(text, steps)


def test_unicode_text() -> None:
    text = "Das Ergebnis ist 5 — gut. 待って、これは違う。 Wait, ça ne marche pas 😀. Hmm… ok."
    for g in GRANULARITIES:
        steps = segment(text, SegmentConfig(granularity=g, min_chars=0))
        check_contract(text, steps)
    assert any(s.markers == ["wait"] for s in segment(text, STEP0))


# --- properties ----------------------------------------------------------------------------------

PIECES = [
    "Wait",
    "wait, ",
    "But wait",
    "Hmm",
    "Alternatively, ",
    "Let me check",
    "So ",
    "Now",
    "The answer is 5",
    "Dr. ",
    "e.g. ",
    "3.14",
    ".5",
    "1. ",
    "2) ",
    "- ",
    "$",
    "$$",
    "$20",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "\\begin{align}",
    "\\end{align}",
    "\\",
    "`",
    "```",
    "~~~",
    ". ",
    "! ",
    "? ",
    "\n",
    "\n\n",
    " ",
    "\t",
    '"',
    "x",
    "**",
    "\u2029",
    "\u3002",
]
mixed_text = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=60).map("".join)
configs = st.builds(
    SegmentConfig,
    granularity=st.sampled_from(GRANULARITIES),
    min_chars=st.sampled_from([0, 1, 20, 80]),
)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(text=st.text(), config=configs)
def test_contract_on_arbitrary_unicode(text: str, config: SegmentConfig) -> None:
    steps = segment(text, config)
    check_contract(text, steps)
    no_cut_inside(text, steps)


@PROPERTY_SETTINGS
@given(text=mixed_text, config=configs)
def test_contract_on_reasoning_like_text(text: str, config: SegmentConfig) -> None:
    steps = segment(text, config, trace_id="t")
    check_contract(text, steps, trace_id="t")
    no_cut_inside(text, steps)
    for step in steps:
        assert set(step.markers) <= set(config.markers)
    if config.min_chars and len(steps) > 1:
        assert all(sum(map(len, s.text.split())) >= config.min_chars for s in steps)


@settings(max_examples=100, deadline=None)
@given(text=mixed_text)
def test_protected_spans_are_ordered_and_disjoint(text: str) -> None:
    spans = protected_spans(text)
    for a, b in pairwise(spans):
        assert a.end <= b.start
    for s in spans:
        assert 0 <= s.start < s.end <= len(text)
        if s.kind == "math" and text[s.start] == "$" and text[s.start + 1] != "$":
            assert not text[s.start + 1].isspace() and not text[s.end - 2].isspace()


@settings(max_examples=100, deadline=None)
@given(text=mixed_text)
def test_granularities_nest(text: str) -> None:
    """Without merging, every paragraph boundary is a step boundary and every step boundary is a
    sentence boundary."""
    starts = {g: {s.start for s in segment(text, SegmentConfig(granularity=g, min_chars=0))} for g in GRANULARITIES}
    assert starts["paragraph"] <= starts["step"] <= starts["sentence"]


# --- real data -----------------------------------------------------------------------------------


def _cut_math(text: str) -> bool:
    """Whether a step's text has unbalanced math delimiters (the benchmark's currency-aware
    definition): ``$$``, ``\\(``/``\\)``, ``\\[``/``\\]`` counts must pair up, and a single
    ``$`` left unpaired by pandoc's rules must be a currency sign (a digit follows it)."""
    t = text.replace("\\$", "")
    if t.count("$$") % 2 or t.count("\\(") != t.count("\\)") or t.count("\\[") != t.count("\\]"):
        return True
    t = t.replace("$$", "  ")
    dollars = [i for i, ch in enumerate(t) if ch == "$"]
    i = 0
    while i < len(dollars):
        p = dollars[i]
        nxt = t[p + 1 : p + 2]
        if nxt and not nxt.isspace() and i + 1 < len(dollars):
            q = dollars[i + 1]
            if not t[q - 1].isspace() and not t[q + 1 : q + 2].isdigit():
                i += 2
                continue
        if not nxt.isdigit():
            return True
        i += 1
    return False


def test_cut_math_definition() -> None:
    assert _cut_math("\\[ a = \\frac{4028!") and _cut_math("$x +") and _cut_math("y$ is")
    assert not _cut_math("It costs $100 in total") and not _cut_math("$A$ and $B$ and $5")


def _anchors() -> list[tuple[str, str]]:
    out = []
    for path in sorted(glob.glob(str(DATA / "thought-anchors.com/src/app/data/*/*/*/base_solution.json"))):
        with open(path, encoding="utf-8") as f:
            out.append((path, json.load(f)["solution"].split("</think>", 1)[0]))
    return out


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")
def test_thought_anchors_traces() -> None:
    traces = _anchors()
    assert len(traces) == 42
    for g in GRANULARITIES:
        config = SegmentConfig(granularity=g)
        n_steps = 0
        for path, text in traces:
            steps = segment(text, config, trace_id=path)
            check_contract(text, steps, trace_id=path)
            no_cut_inside(text, steps)
            bad = [s.text for s in steps if _cut_math(s.text)]
            assert not bad, (path, bad[:3])
            assert all(sum(map(len, s.text.split())) >= 20 for s in steps)
            n_steps += len(steps)
        # The paper cut these traces into 6,011 sentence chunks; steps are coarser.
        assert 1000 < n_steps < 6011


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")
def test_other_shared_traces_keep_the_contract() -> None:
    texts_: list[str] = []
    for path in glob.glob(str(DATA / "thought-branches/faithfulness/good_problems/*.json")):
        with open(path, encoding="utf-8") as f:
            texts_ += [r["reasoning_text"] for r in json.load(f) if r.get("reasoning_text")]
    for path in glob.glob(str(DATA / "thoughtology/reasoning_chains_r1/*.jsonl")):
        with open(path, encoding="utf-8") as f:
            texts_ += [json.loads(line)["answer"] for line in f if line.strip()]
    assert len(texts_) > 100
    traces = [Trace(id=str(i), reasoning=t, source=Source(path="x", record=i)) for i, t in enumerate(texts_)]
    for trace, steps in segment_many(traces):
        check_contract(trace.reasoning, steps, trace_id=trace.id)
        assert not [s.text for s in steps if _cut_math(s.text)]
