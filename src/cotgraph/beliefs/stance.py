"""How a step holds a belief: raised, entertained, endorsed or rejected.

Read from the sentence that carries the evidence: negation or dismissal near the cue rejects it;
a hedge or a question entertains it; a causal or assertive frame ("since this is a test",
"so I'll go with the professor") endorses it; a bare mention raises it.
"""

from __future__ import annotations

import re

from cotgraph.model import Stance

NEGATION = re.compile(
    r"\b(?:not|n't|no|never|neither|nor|unlikely|doubt(?:ful)?|regardless|ignore|ignoring|disregard\w*|"
    r"dismiss\w*|rather than|instead of|irrelevant|shouldn't (?:rely|trust|matter)|can't rely|"
    r"despite|even though|even if|wrong|mistaken|incorrect|no reason to|no indication|no sign)\b"
)
"""Words that deny or drop a belief when they come shortly before (or right after) its cue."""

HEDGE = re.compile(
    r"\?|\b(?:maybe|might|perhaps|possibly|possible|could|may|seems?|seemingly|appears?|probably|likely|"
    r"suppose|presumably|wonder|whether|if|guess|suspect|potentially|or is|is it|is this|are they|"
    r"i think|i feel|sort of|kind of)\b"
)
"""Hedges and questions: the belief is entertained, not asserted."""

ASSERT = re.compile(
    r"\b(?:since|because|given(?: that)?|as (?:the|this|it|a)|so|therefore|thus|hence|according to|"
    r"clearly|obviously|definitely|certainly|indeed|i'll|i will|we'll|let's go with|go with|follow|"
    r"trust|rely on|based on|this is|it's|it is|that's)\b"
)
"""Causal or assertive frames: the belief is held and acted on."""

_NOT_SURE = re.compile(r"\b(?:not|n't) (?:sure|certain|clear|entirely sure|quite sure)\b|\bno idea\b|\bnot sure\b")


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence of ``text`` that holds ``text[start:end]`` (offsets relative to ``text``)."""
    left = max(text.rfind(ch, 0, start) for ch in ".!?\n")
    right_candidates = [i for i in (text.find(ch, end) for ch in ".!?\n") if i >= 0]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    lo = left + 1
    while lo < start and text[lo].isspace():
        lo += 1
    return lo, min(right, len(text))


def stance_of(sentence: str, cue_start: int | None = None, cue_end: int | None = None) -> Stance:
    """The stance of a belief in ``sentence``; ``cue_start``/``cue_end`` (relative to the sentence)
    locate the cue, so that negation is read near it rather than anywhere in the sentence. Without
    a cue (a tag from similarity alone) nothing locates a denial, so the stance is never
    ``rejected``."""
    lowered = sentence.lower()
    if cue_start is not None and cue_end is not None:
        before = lowered[max(0, cue_start - 60) : cue_start]
        after = lowered[cue_end : cue_end + 40]
        near = _NOT_SURE.sub(" unsure ", before + " " + after)  # "not sure" hedges; it does not deny
        if NEGATION.search(near):
            return "rejected"
    if HEDGE.search(lowered):
        return "entertained"
    if ASSERT.search(lowered):
        return "endorsed"
    return "raised"
