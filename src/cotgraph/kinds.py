"""Step kinds: what each step does in the search (plan, retrieve, compute, verify, backtrack,
explore, conclude, reason). The graph stage builds its typed edges from them: a ``backtrack`` step
returns to an earlier step, an ``explore`` step opens a branch, a ``verify`` step checks one.

Two ways to decide a kind, both here:

- **the rule** (:func:`step_kind`): opening markers and lexical cues, written from the
  literature's step taxonomies. It is also the fallback for an embedder without weights;
- **the learned classifier** (:class:`KindModel`, the default): one multinomial logistic
  regression (scikit-learn) over the step's embedding, its opening word, the rule's cues and
  kind, the kinds the rule gives its neighbours, its position, and its similarity to the step
  before, the step after and the closest earlier step (:func:`kind_features`). It is trained on
  Thought Anchors' tagged sentences (two R1 distills, R1 and QwQ) plus the project's own labels
  of eight other sources (``benchmarks/data/structure_dev.jsonl``, labelled against
  ``docs/labelling.md`` part two); :func:`train` makes the weights and
  ``cotgraph train-kinds`` runs it. ``explore`` is not learned as a class (Thought Anchors files a
  switch to another method under planning): a step the classifier calls ``plan`` or ``reason``
  that opens with an alternative ("Alternatively", "What if") is ``explore``.

Weights are a small ``.npz`` file (arrays and one JSON header, no pickle) recording the embedder
they expect, the SHA-256 of the data they were trained on and the command that made them.
``tests/test_kinds.py`` checks that the documented command reproduces the shipped files.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cotgraph.model import Step
from cotgraph.segment import HALT_MARKERS
from cotgraph.weights import labelled_lines, load_weights, save_weights, source_weights

STEP_KINDS: tuple[str, ...] = ("plan", "retrieve", "compute", "verify", "backtrack", "explore", "conclude", "reason")

# --- the rule ----------------------------------------------------------------------------------
# Cues are matched on the lower-cased step text. Order of decision: verify, backtrack, explore,
# conclude, retrieve, compute, plan, reason. They describe how reasoning models write (R1, QwQ,
# their distills, gpt-oss) and were written from the literature's step taxonomies (Thought Anchors'
# function tags; the "aha"/"wait" analyses), not fitted to one data set.

_NEG = r"(?<!not )(?<!n't )"

VERIFY_CUES = re.compile(
    r"\b(?:let me|let's|let us|i'll|i will|i should|i need to|we should|we need to|to|i can|we can|now)\s+"
    r"(?:just |quickly |also |now |again )?"
    r"(?:double[- ]?check|re-?check|check|verify|confirm|validate|make sure|ensure|sanity[- ]check|cross[- ]check|"
    r"test (?:this|that|it|with|the)|plug (?:it|this|that|these|them|in|back))"
    r"|\b(?:double[- ]?check(?:ing|ed)?|sanity check|cross[- ]check(?:ing)?|verif(?:y|ying|ied|ication)|"
    r"re-?checking|checking (?:this|that|it|again|the)|plugging (?:back|in|it|this|x|these))\b"
    rf"|{_NEG}\b(?:checks out|that works|this works|it works|which matches|that matches|it matches|this matches|"
    r"matches (?:the|my|our|what|both|earlier|previous)|consistent with|confirms|is confirmed|"
    r"(?:is|seems|looks|that's|that is|it's|it is|this is) (?:all )?(?:correct|right|consistent|valid)|"
    r"makes sense|same (?:result|answer|value)|agrees? with|both (?:methods|approaches|ways) give)\b"
    r"|^(?:yes|yep|correct|right|good|great|perfect|exactly)\b[ ,.!:]"
    r"|[✓✔]"
    r"|\b(?:i'?m|i am|we're|we are) (?:fairly |pretty |quite |very |now |more )?(?:confident|certain)\b"
)

_VERIFY_WORDS = (
    "check", "verif", "confirm", "validat", "make sure", "ensure", "sanity", "test", "plug", "works",
    "match", "consistent", "correct", "right", "valid", "sense", "same", "agree", "both", "yes", "yep",
    "good", "great", "perfect", "exactly", "✓", "✔", "confident", "certain",
)  # fmt: skip
"""Every word :data:`VERIFY_CUES` needs; a cheap substring test that skips the regex for most steps."""

DOUBT_CUES = re.compile(
    r"\b(?:mistake|wrong|incorrect|error|miscalculat\w*|miscount\w*|misread|misunderst\w*|messed up|"
    r"not right|isn't right|is not right|can't be|cannot be|couldn't be|shouldn't be|"
    r"doesn't make sense|does not make sense|contradict\w*|inconsisten\w*|discrepanc\w*|conflict\w*|"
    r"confus\w*|not sure|unsure|i doubt|doubtful|off by|that's not|that is not|this is not|"
    rf"{_NEG}seems? (?:too|off|odd|strange|weird|wrong|unlikely|suspicious)|"
    rf"{_NEG}too (?:big|large|small|high|low|many|few)|"
    r"doesn't (?:match|add up|work|fit|seem|look)|don't (?:match|add up|think so)|does not (?:match|work|fit)|"
    r"not possible|impossible|something'?s? (?:off|wrong)|not quite|hmm+|"
    r"reconsider|re-?examine|re-?evaluate|rethink|step back|start over|go back|backtrack|redo|re-?do|scratch that|"
    r"instead of|rather than|different from|differs|unexpected|puzzl\w*|strange|weird)\b"
)

QUESTION_OR_CONTRAST = re.compile(
    r"\?|\b(?:but|however|though|although|earlier|previous(?:ly)?|before|again|perhaps|maybe|might|"
    r"i think|i thought|assum\w+|suppose|is it|are they|did i|do i|does it|should i|instead)\b"
)

SELF_QUESTION = re.compile(r"^[^.!\n]{0,200}\?")
"""The step opens with a question the model puts to itself ("So, is x inside the interval?"):
uncertainty about the current line."""

HEDGE_LED = re.compile(
    r"(?:no,|perhaps|maybe|possibly|probably|i think|i guess|i suspect|i might|it might|it could|"
    r"that might|this might|i'm not|i am not)\b"
)
"""A step that opens hedged ("So, maybe it's actually 19 bits"; "Wait, no, …") doubts the line."""

EXPLORE_CUES = re.compile(
    r"^(?:alternatively|another (?:approach|way|idea|method|option|possibility|thought)|what if|or maybe|"
    r"or perhaps|maybe instead|instead,|suppose|let me try|let's try|let us try|let me consider|let's consider|"
    r"perhaps (?:i|we) (?:can|could|should) (?:try|use|consider|approach)|"
    r"maybe (?:i|we) (?:can|could|should) (?:try|use|consider|approach)|another (?:way|approach) (?:is|would be))\b"
)

CONCLUDE_CUES = re.compile(
    r"\b(?:therefore|thus|hence|in conclusion|to conclude|to summari[sz]e|in summary|final answer|"
    r"so the (?:final )?answer|the (?:final )?answer (?:is|should be|would be)|the result is|"
    r"i think (?:that's|that is) (?:it|the answer)|putting it all together|all in all|"
    r"(?:i|we) (?:conclude|can conclude)|so overall|so in total|so altogether)\b|\\boxed"
)

RETRIEVE_CUES = re.compile(
    r"\b(?:i (?:recall|remember|know)|recall(?:ing)? that|remember(?:ing)? that|by definition|is defined as|"
    r"are defined as|the definition of|the formula (?:for|is)|formula for|it(?: i|')s (?:well[- ])?known|"
    r"known (?:as|that)|according to|(?:theorem|identity|property|rule|law) (?:says|states|tells)|"
    r"the (?:fact|property) that|is a (?:well-known|standard|common))\b"
)

COMPUTE_CUES = re.compile(
    r"\d\s*[-+*/×÷^=]\s*\d|=|\\(?:frac|cdot|times|sqrt|sum|binom|dbinom|int|div)|"
    r"\b(?:comput\w+|calculat\w+|multipl\w+|divid\w+|subtract\w*|add(?:ing)? (?:up|these|them|the)|simplif\w+|"
    r"solv\w+|evaluat\w+|expand\w*|factor\w*|substitut\w+|convert\w*|sum of|product of|equals?)\b"
)

PLAN_CUES = re.compile(
    r"^(?:first(?:ly)?|to (?:solve|find|start|begin|answer|determine|figure)|"
    r"let me (?:start|begin|think about|figure|break|outline|plan|approach|understand|first|try to understand|"
    r"read|parse|restate|set up|recall what)|"
    r"let's (?:start|begin|break|outline|plan|approach|set up|think about|figure)|"
    r"(?:i|we) (?:need|have|want|should) to|(?:the|this) (?:problem|question|task|user) (?:is|asks|says|wants|gives)|"
    r"my (?:plan|goal|approach|task)|step \d|next,|then,? (?:i|we) (?:need|should|will|can)|"
    r"okay,? (?:so )?(?:i|we|the|let|this)|alright,? (?:so )?(?:i|we|the|let|this)|"
    r"(?:i|we)'ll (?:start|begin|need|first)|the (?:goal|plan) is)\b"
)


def step_kind(step: Step) -> str:
    """The function of a step in the search, from its opening markers and its words.

    - ``verify``: checks a result ("let me double-check", "which matches", "✓");
    - ``backtrack``: doubts or abandons the current line: an error or doubt word ("mistake",
      "that can't be", "I'm confused", "reconsider"), or a halting opener ("Wait", "Hold on",
      "Hmm") together with a question or a contrast ("but", "earlier", "maybe");
    - ``explore``: opens an alternative ("Alternatively", "What if", "Let me try");
    - ``conclude``: states a result or the answer ("therefore", "the answer is", ``\\boxed``);
    - ``retrieve``: recalls a fact or definition; ``compute``: calculates;
    - ``plan``: sets up or decides what to do next; ``reason``: anything else.

    A step that both checks and doubts ("Wait, let me check that again") is a check: the check
    is the act, the doubt its motive.
    """
    return _kind_of(_cues_of(step))


class _Cues(NamedTuple):
    """Every cue the rule reads, computed once per step: the rule decides from them
    (:func:`_kind_of`) and the classifier takes them as features (:data:`CUE_NAMES`)."""

    verify_cue: bool
    verify_act: bool
    doubt_cue: bool
    halted: bool
    question_or_contrast: bool
    self_question: bool
    hedge_led: bool
    explore_text: bool
    explore_marker: bool
    conclude_cue: bool
    retrieve_cue: bool
    compute_cue: bool
    plan_cue: bool


def _cues_of(step: Step) -> _Cues:
    text = step.text.lower()
    head = text[:240]
    tail = text[-160:] if len(text) > 240 else ""
    bare = _strip_opener(head)
    return _Cues(
        verify_cue=bool(any(w in head for w in _VERIFY_WORDS) and VERIFY_CUES.search(head)),
        verify_act=_verify_dominates(head),
        doubt_cue=bool(DOUBT_CUES.search(head)),
        halted=any(m in HALT_MARKERS for m in step.markers),  # alone weak: "Wait," also opens computation
        question_or_contrast=bool(QUESTION_OR_CONTRAST.search(head)),
        self_question=bool(SELF_QUESTION.search(head)),
        hedge_led=bool(HEDGE_LED.match(bare)),
        explore_text=bool(EXPLORE_CUES.match(bare)),
        explore_marker=any(m in _EXPLORE_MARKERS for m in step.markers),
        conclude_cue=bool(CONCLUDE_CUES.search(head) or (tail and CONCLUDE_CUES.search(tail))),
        retrieve_cue=bool(RETRIEVE_CUES.search(head)),
        compute_cue=bool(COMPUTE_CUES.search(head)),
        plan_cue=bool(PLAN_CUES.search(bare)),
    )


def _kind_of(c: _Cues) -> str:
    """The rule's order of decision (see :func:`step_kind`)."""
    if c.verify_cue and not (c.doubt_cue and not c.verify_act):
        return "verify"
    if c.doubt_cue or (c.halted and c.question_or_contrast) or c.self_question or (c.hedge_led and not c.explore_text):
        return "backtrack"
    if c.explore_text or c.explore_marker:
        return "explore"
    if c.conclude_cue:
        return "conclude"
    if c.retrieve_cue:
        return "retrieve"
    if c.compute_cue:
        return "compute"
    if c.plan_cue:
        return "plan"
    return "reason"


_OPENER = re.compile(r"^(?:(?:but|so|and|now|okay|ok|alright|well|hmm+|wait|oh)\b[,.!]?\s*)+")


def _strip_opener(text: str) -> str:
    return _OPENER.sub("", text, count=1)


_VERIFY_ACT = re.compile(
    r"\b(?:let me|let's|let us|i'll|i should|i need to|we should|to) (?:just |quickly |also |now |again )?"
    r"(?:double[- ]?check|re-?check|check|verify|confirm|make sure)"
)


def _verify_dominates(text: str) -> bool:
    """A step with both check and doubt words is a check when it announces the check itself."""
    return bool(_VERIFY_ACT.search(text))


_EXPLORE_MARKERS = ("alternatively", "another approach", "another way", "another idea", "what if", "or maybe")


# --- the learned classifier -------------------------------------------------------------------

LEARNED_CLASSES: tuple[str, ...] = ("plan", "retrieve", "compute", "verify", "backtrack", "conclude", "reason")
"""The classes the classifier predicts: every kind but ``explore`` (see the module docstring)."""

FEATURE_VERSION = 1
WEIGHTS_FORMAT = "cotgraph-kind-weights"
DEFAULT_C = 0.1
EMBEDDING_WEIGHT = 0.2
"""The belief tagger's settings (``cotgraph.beliefs.learned``), kept as they are: the embedding
columns count a fifth as much as the cue and structure columns, so the model learns how steps
act rather than what they are about. Nothing here was tuned on the folds that are scored."""
WINDOW = 64
"""How many earlier steps the "closest earlier step" feature looks at (the graph's window)."""

OPENERS: tuple[str, ...] = (
    "wait", "hmm", "but", "so", "alternatively", "actually", "let", "let's", "okay", "ok", "alright", "therefore",
    "thus", "hence", "now", "first", "then", "next", "hold", "oh", "no", "maybe", "perhaps", "yes", "also", "again",
    "finally", "another", "what", "is", "if", "since", "because", "i", "we", "the", "this", "that", "however", "to",
    "looking", "option", "in", "for", "given", "well", "right",
)  # fmt: skip
"""Opening words that get a column of their own; any other opener shares one column."""

_FIRST_WORD = re.compile(r"^\W*([a-z']+)")
_DIGITS = re.compile(r"\d")
_SYMBOLS = re.compile(r"[=+\-*/^×÷√∑∫<>]")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")

CUE_NAMES: tuple[str, ...] = (
    "verify_cue", "verify_act", "doubt_cue", "halted", "question_or_contrast", "self_question", "hedge_led",
    "explore_cue", "conclude_cue", "retrieve_cue", "compute_cue", "plan_cue",
)  # fmt: skip
NUMERIC_NAMES: tuple[str, ...] = (
    "position", "is_first", "is_last", "log_chars", "log_sentences", "digit_share", "symbol_share", "question_mark",
    "sim_prev", "sim_next", "sim_best_earlier", "log_gap_best_earlier",
)  # fmt: skip


def feature_names(dim: int) -> list[str]:
    """Column names of :func:`kind_features`, in order."""
    names = [f"cue:{c}" for c in CUE_NAMES]
    names += [f"rule:{k}" for k in STEP_KINDS]
    names += [f"prev_rule:{k}" for k in (*STEP_KINDS, "none")]
    names += [f"next_rule:{k}" for k in (*STEP_KINDS, "none")]
    names += [f"opener:{w}" for w in (*OPENERS, "other")]
    names += list(NUMERIC_NAMES)
    names += [f"emb:{j}" for j in range(dim)]
    return names


def _cue_row(c: _Cues) -> list[float]:
    """The :data:`CUE_NAMES` columns of a step."""
    return [
        float(x)
        for x in (
            c.verify_cue,
            c.verify_act,
            c.doubt_cue,
            c.halted,
            c.question_or_contrast,
            c.self_question,
            c.hedge_led,
            c.explore_text or c.explore_marker,
            c.conclude_cue,
            c.retrieve_cue,
            c.compute_cue,
            c.plan_cue,
        )
    ]


EXPLORE_COLUMN = CUE_NAMES.index("explore_cue")
"""The feature column that says a step opens with an alternative (text or marker)."""


def kind_features(
    steps: Sequence[Step],
    embeddings: np.ndarray,
    *,
    window: int = WINDOW,
    rows: range | None = None,
    cues: Sequence[_Cues] | None = None,
) -> np.ndarray:
    """One feature row per step of a trace (columns: :func:`feature_names`). ``embeddings`` are
    the steps' unit-normalised vectors, in order; the similarity features compare each step with
    the step before and after and with the most similar step among the ``window`` before those.
    ``rows`` computes only those steps' rows (the whole trace is still their context), so that a
    long trace can be classified a block at a time; ``cues`` are the steps' :func:`_cues_of`, when
    the caller has them already."""
    n = len(steps)
    rows = range(n) if rows is None else rows
    emb = np.asarray(embeddings, dtype=np.float32)
    dim = emb.shape[1] if emb.ndim == 2 else 0
    n_kinds = len(STEP_KINDS)
    kind_index = {k: j for j, k in enumerate(STEP_KINDS)}
    opener_index = {w: j for j, w in enumerate(OPENERS)}
    found = [_cues_of(step) for step in steps] if cues is None else cues
    rules = [_kind_of(c) for c in found]
    width = len(CUE_NAMES) + n_kinds + 2 * (n_kinds + 1) + len(OPENERS) + 1 + len(NUMERIC_NAMES) + dim
    X = np.zeros((len(rows), width), dtype=np.float32)
    if n == 0 or not rows:
        return X
    adjacent = np.einsum("ij,ij->i", emb[1:], emb[:-1]) if n > 1 else np.zeros(0, dtype=np.float32)
    for r, i in enumerate(rows):
        step = steps[i]
        row = X[r]
        at = 0
        row[at : at + len(CUE_NAMES)] = _cue_row(found[i])
        at += len(CUE_NAMES)
        row[at + kind_index[rules[i]]] = 1.0
        at += n_kinds
        row[at + (kind_index[rules[i - 1]] if i > 0 else n_kinds)] = 1.0
        at += n_kinds + 1
        row[at + (kind_index[rules[i + 1]] if i + 1 < n else n_kinds)] = 1.0
        at += n_kinds + 1
        text = step.text
        m = _FIRST_WORD.match(text.lower())
        row[at + opener_index.get(m.group(1) if m else "", len(OPENERS))] = 1.0
        at += len(OPENERS) + 1
        chars = max(len(text), 1)
        best, gap = 0.0, 0
        if i >= 2:
            lo = max(0, i - 1 - window)
            sims = emb[lo : i - 1] @ emb[i]
            k = int(np.argmax(sims))
            best, gap = float(sims[k]), i - (lo + k)
        row[at : at + len(NUMERIC_NAMES)] = (
            i / max(n - 1, 1),
            float(i == 0),
            float(i == n - 1),
            math.log1p(len(text)),
            math.log1p(len(_SENTENCE_END.findall(text))),
            len(_DIGITS.findall(text)) / chars,
            len(_SYMBOLS.findall(text)) / chars,
            float("?" in text),
            float(adjacent[i - 1]) if i > 0 else 0.0,
            float(adjacent[i]) if i + 1 < n else 0.0,
            best,
            math.log1p(gap),
        )
        at += len(NUMERIC_NAMES)
        if dim:
            row[at:] = emb[i]
    return X


ROW_BLOCK = 4096
"""Steps classified per call on long traces."""


def kinds_from_probabilities(probs: np.ndarray, classes: Sequence[str], features: np.ndarray) -> list[str]:
    """The kind of each step: the most probable class, except that ``plan`` or ``reason`` opening
    with an alternative (the :data:`EXPLORE_COLUMN` of its ``features`` row) is ``explore``."""
    out = []
    for row, explore in zip(probs, features[:, EXPLORE_COLUMN] > 0, strict=True):
        kind = classes[int(np.argmax(row))]
        out.append("explore" if explore and kind in ("plan", "reason") else kind)
    return out


class KindWeightsError(ValueError):
    """Weights that cannot be read, or were made for another embedder or feature version."""


class KindLabelsError(ValueError):
    """Bad labelled input; ``problems`` lists every problem, each naming the line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("\n".join(shown))


@dataclass
class KindModel:
    """Trained weights: one multinomial logistic regression over :func:`kind_features`."""

    embedder: str
    dim: int
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    """``(len(classes), n_features)``, on standardised features."""
    intercept: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """``(n_steps, len(classes))`` class probabilities (softmax)."""
        if features.shape[0] == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def kinds(self, steps: Sequence[Step], embeddings: np.ndarray) -> list[str]:
        """The kind of every step of one trace; a long trace a block of :data:`ROW_BLOCK` steps
        at a time, so that memory stays bounded (a trace of at most one block is one call)."""
        if not steps:
            return []
        cues = [_cues_of(step) for step in steps]
        out: list[str] = []
        for lo in range(0, len(steps), ROW_BLOCK):
            rows = range(lo, min(len(steps), lo + ROW_BLOCK))
            features = kind_features(steps, embeddings, rows=rows, cues=cues)
            out += kinds_from_probabilities(self.probabilities(features), self.classes, features)
        return out

    def check_fits(self, embedder_name: str, dim: int, where: str) -> None:
        if embedder_name != self.embedder or dim != self.dim:
            raise KindWeightsError(
                f"{where}: made for embedder {self.embedder!r} ({self.dim} dimensions), but the run uses "
                f"{embedder_name!r} ({dim}); pick that embedder, train weights for it with "
                "`cotgraph train-kinds`, or use `--kind-weights none`"
            )

    def save(self, path: str | Path) -> None:
        header = {
            "format": WEIGHTS_FORMAT,
            "feature_version": FEATURE_VERSION,
            "embedder": self.embedder,
            "dim": self.dim,
            "classes": self.classes,
            **self.meta,
        }
        save_weights(
            path, header, {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        )

    @classmethod
    def load(cls, path: str | Path) -> KindModel:
        header, arrays = load_weights(
            path,
            ("mean", "scale", "coef", "intercept"),
            fmt=WEIGHTS_FORMAT,
            feature_version=FEATURE_VERSION,
            what="cotgraph step-kind weights",
            command="cotgraph train-kinds",
            error=KindWeightsError,
        )
        meta = {k: v for k, v in header.items() if k not in {"format", "feature_version", "embedder", "dim", "classes"}}
        return cls(
            embedder=header["embedder"], dim=int(header["dim"]), classes=list(header["classes"]), meta=meta, **arrays
        )


SHIPPED_WEIGHTS = {"default": "kinds.default.npz", "fast": "kinds.fast.npz"}
"""Weights that ship with the package, by embedder kind."""


def shipped_weights_path(embedder_name: str) -> Path | None:
    """The packaged weights for a bundled embedder, if there are any."""
    from cotgraph.embed import DEFAULT_MODEL_NAME

    if embedder_name == DEFAULT_MODEL_NAME:
        name = SHIPPED_WEIGHTS["default"]
    elif embedder_name.startswith(DEFAULT_MODEL_NAME) and "static" in embedder_name:
        name = SHIPPED_WEIGHTS["fast"]
    else:
        return None
    path = Path(str(resources.files("cotgraph").joinpath("data", name)))
    return path if path.is_file() else None


def resolve_kind_model(choice: str | None, embedder_name: str, dim: int) -> KindModel | None:
    """``auto`` (the shipped weights of a bundled embedder, else the rule), ``none`` (the rule) or
    a weights file. Returns ``None`` for the rule."""
    if choice is None or choice.lower() == "none":
        return None
    if choice.lower() == "auto":
        path = shipped_weights_path(embedder_name)
        if path is None:
            return None
        model = KindModel.load(path)
        return model if (model.embedder, model.dim) == (embedder_name, dim) else None
    model = KindModel.load(choice)
    model.check_fits(embedder_name, dim, choice)
    return model


# --- labelled data ----------------------------------------------------------------------------

TA_TAG_KINDS: dict[str, str] = {
    "problem_setup": "plan",
    "plan_generation": "plan",
    "fact_retrieval": "retrieve",
    "active_computation": "compute",
    "uncertainty_management": "backtrack",
    "self_checking": "verify",
    "result_consolidation": "conclude",
    "final_answer_emission": "conclude",
    "unknown": "reason",
}
"""Thought Anchors' function tags as step kinds. ``uncertainty_management`` ("Wait, maybe I made a
mistake in computing p(3)") is their name for doubting the current line."""


@dataclass
class LabelledTrace:
    """One trace with its steps (as cotgraph segments it) and a gold kind for some or all of them."""

    source: str
    """Where it comes from, for leave-one-source-out: a data set and a model."""
    trace_id: str
    steps: list[Step]
    kinds: list[str | None]
    """Gold kind per step (``None``: not labelled); ``explore`` kept as labelled."""
    targets: list[int | None]
    """The earlier step a labelled ``verify`` or ``backtrack`` step is about, where the label says."""


def learned_class(kind: str) -> str:
    """The class a labelled kind trains: ``explore`` is learned as ``plan``."""
    return "plan" if kind == "explore" else kind


def chunk_starts(reasoning: str, chunks: Sequence[str]) -> list[int | None]:
    """Offset in ``reasoning`` of each chunk's first non-space character, matching the chunks in
    order on the non-whitespace characters alone (Thought Anchors' chunks concatenate to the
    reasoning up to whitespace); ``None`` for a chunk that cannot be placed."""
    positions = [i for i, ch in enumerate(reasoning) if not ch.isspace()]
    stream = "".join(reasoning[i] for i in positions)
    cursor = 0
    starts: list[int | None] = []
    for chunk in chunks:
        squeezed = "".join(chunk.split())
        if not squeezed:
            starts.append(None)
            continue
        found = stream.find(squeezed, cursor)
        if found < 0 or found - cursor > 200:  # lost: do not guess far ahead
            starts.append(None)
            continue
        starts.append(positions[found])
        cursor = found + len(squeezed)
    return starts


def thought_anchors_traces(root: str | Path) -> list[LabelledTrace]:
    """Thought Anchors' traces (``<root>/<model>/<condition>/<problem>/``), segmented by cotgraph;
    each step takes the kind of the tagged chunk it starts in (:data:`TA_TAG_KINDS`). The source is
    ``thought-anchors/<model>``."""
    from cotgraph.io import load
    from cotgraph.segment import segment_many

    out: list[LabelledTrace] = []
    for chunks_file in sorted(Path(root).glob("*/*/*/chunks_labeled.json")):
        folder = chunks_file.parent
        chunks = json.loads(chunks_file.read_text(encoding="utf-8"))
        traces = load(folder / "base_solution.json").traces
        for trace, steps in segment_many(traces):
            starts = chunk_starts(trace.reasoning, [c.get("chunk", "") for c in chunks])
            placed = sorted((s, c) for s, c in zip(starts, chunks, strict=True) if s is not None)
            kinds: list[str | None] = []
            j = -1
            for step in steps:
                while j + 1 < len(placed) and placed[j + 1][0] <= step.start:
                    j += 1
                tags = placed[j][1].get("function_tags") or ["unknown"] if j >= 0 else []
                kinds.append(TA_TAG_KINDS.get(tags[0], "reason") if tags else None)
            model = folder.parent.parent.name
            out.append(
                LabelledTrace(
                    source=f"thought-anchors/{model}",
                    trace_id=trace.id,
                    steps=list(steps),
                    kinds=kinds,
                    targets=[None] * len(steps),
                )
            )
    return out


REQUIRED_KEYS = ("set", "path", "trace_id", "step", "text", "kind")


def read_kind_labels(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a labelled file in the format of ``benchmarks/data/structure_dev.jsonl``.
    Every problem is collected and raised together as :class:`KindLabelsError`, each naming the
    line: bad JSON, a missing or ill-typed key, an unknown kind, a target that is not an earlier
    step, a step listed twice."""
    import difflib

    path = str(path)
    problems: list[str] = []
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, int], int] = {}
    for n, where, rec in labelled_lines(path, REQUIRED_KEYS, problems, KindLabelsError):
        step = rec["step"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            problems.append(f"{where}: step must be a non-negative integer, got {step!r}")
            continue
        if rec["kind"] not in STEP_KINDS:
            hint = difflib.get_close_matches(str(rec["kind"]), STEP_KINDS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"{where}: kind {rec['kind']!r} is not one of {', '.join(STEP_KINDS)}{extra}")
            continue
        target = rec.get("target")
        if target is not None and (not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < step):
            problems.append(f"{where}: target must be the index of an earlier step, got {target!r} for step {step}")
            continue
        key = (str(rec["path"]), str(rec["trace_id"]), step)
        if key in seen:
            problems.append(f"{where}: step {step} of trace {rec['trace_id']!r} is also on line {seen[key]}")
            continue
        seen[key] = n
        rec["line"] = n
        out.append(rec)
    if problems:
        raise KindLabelsError(path, problems)
    return out


def labelled_traces(path: str | Path, data: str | Path, root: str | Path = ".") -> list[LabelledTrace]:
    """The traces a labelled file names, loaded and segmented again, with the labels laid on their
    steps. ``path`` values starting with ``benchmarks/`` are read under ``root`` (the project),
    others under ``data`` (the shared data folder). A labelled text that is not the step cotgraph
    makes there is an error naming the line."""
    from cotgraph.io import load
    from cotgraph.io.options import LoadOptions
    from cotgraph.segment import segment_many

    records = read_kind_labels(path)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_file.setdefault(rec["path"], []).append(rec)
    problems: list[str] = []
    out: list[LabelledTrace] = []
    for rel, recs in by_file.items():
        file = Path(root) / rel if rel.startswith("benchmarks/") else Path(data) / rel
        model = recs[0].get("model")
        options = (
            LoadOptions(model=model)
            if rel.startswith(("thoughtology", "benchmarks/data/coding/mats"))
            else LoadOptions()
        )
        try:
            traces = {t.id: (t, s) for t, s in segment_many(load(file, options).traces)}
        except Exception as exc:
            problems.append(f"{path}:{recs[0]['line']}: cannot read {file}: {exc}")
            continue
        wanted: dict[str, list[dict[str, Any]]] = {}
        for rec in recs:
            wanted.setdefault(rec["trace_id"], []).append(rec)
        for trace_id, trs in wanted.items():
            if trace_id not in traces:
                problems.append(f"{path}:{trs[0]['line']}: no trace {trace_id!r} in {file}")
                continue
            _, steps = traces[trace_id]
            kinds: list[str | None] = [None] * len(steps)
            targets: list[int | None] = [None] * len(steps)
            for rec in trs:
                i = rec["step"]
                if i >= len(steps) or steps[i].text != rec["text"]:
                    problems.append(f"{path}:{rec['line']}: step {i} of {trace_id!r} is not the labelled text")
                    continue
                kinds[i] = rec["kind"]
                targets[i] = rec.get("target")
            out.append(
                LabelledTrace(
                    source=str(rec["set"]), trace_id=trace_id, steps=list(steps), kinds=kinds, targets=targets
                )
            )
    if problems:
        raise KindLabelsError(str(path), problems)
    return out


def data_sha256(paths: Iterable[str | Path]) -> str:
    """One SHA-256 over the given files' bytes, in the order given (:func:`training_traces` gives
    an order that does not depend on where the folders are or how their paths are written)."""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(Path(p).read_bytes())
    return digest.hexdigest()


@dataclass
class KindTable:
    """Feature rows of the labelled steps, with their gold class and where they come from."""

    X: np.ndarray
    y: np.ndarray
    """Index into :data:`LEARNED_CLASSES`."""
    kinds: list[str]
    """The gold kind as labelled (``explore`` kept)."""
    sources: np.ndarray
    groups: np.ndarray
    """``source/trace_id`` of each row."""
    refs: list[tuple[int, int]]
    """``(trace index, step index)`` of each row."""


def kind_table(
    traces: Sequence[LabelledTrace], embedder: Any, progress: Callable[[int], None] | None = None
) -> tuple[KindTable, list[np.ndarray]]:
    """Embed every step of the labelled traces and featurise the labelled ones. Also returns the
    embeddings per trace (the benchmark builds graphs from them). ``progress`` gets the number of
    steps embedded so far."""
    rows, ys, kinds, sources, groups, refs, vectors = [], [], [], [], [], [], []
    done = 0
    for t, trace in enumerate(traces):
        emb = np.asarray(embedder.encode([s.text for s in trace.steps]), dtype=np.float32)
        vectors.append(emb)
        feats = kind_features(trace.steps, emb)
        for i, kind in enumerate(trace.kinds):
            if kind is None:
                continue
            rows.append(feats[i])
            ys.append(LEARNED_CLASSES.index(learned_class(kind)))
            kinds.append(kind)
            sources.append(trace.source)
            groups.append(f"{trace.source}/{trace.trace_id}")
            refs.append((t, i))
        done += len(trace.steps)
        if progress:
            progress(done)
    X = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    table = KindTable(
        X=X,
        y=np.asarray(ys, dtype=np.int64),
        kinds=kinds,
        sources=np.asarray(sources),
        groups=np.asarray(groups),
        refs=refs,
    )
    return table, vectors


def fit(
    table: KindTable,
    *,
    embedder_name: str,
    rows: np.ndarray | None = None,
    C: float = DEFAULT_C,
    embedding_weight: float = EMBEDDING_WEIGHT,
    meta: dict[str, Any] | None = None,
) -> KindModel:
    """One multinomial logistic regression on ``table`` (or its ``rows``), standardised features,
    the embedding columns down-weighted, sources balanced as in the belief tagger
    (:func:`cotgraph.weights.source_weights`: a step of a source of ``n`` steps weighs
    ``1/sqrt(n)``, so Thought Anchors' thousands of steps do not drown the small sources)."""
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y, sources = table.X, table.y, table.sources
    if rows is not None:
        X, y, sources = X[rows], y[rows], sources[rows]
    n_features = X.shape[1]
    dim = n_features - len(feature_names(0))
    scaler = StandardScaler().fit(X)
    column_weight = np.ones(n_features)
    column_weight[n_features - dim :] = embedding_weight
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0) / column_weight
    Z = (X - scaler.mean_) / scale
    present = sorted(set(int(v) for v in y))
    clf = LogisticRegression(C=C, max_iter=5000, tol=1e-6)
    clf.fit(Z, y, sample_weight=source_weights(sources))
    coef = np.full((len(LEARNED_CLASSES), n_features), 0.0)
    intercept = np.full(len(LEARNED_CLASSES), -1e3)  # a class never seen is never predicted
    if len(present) == 2:  # scikit-learn gives one row for two classes
        coef[present[1]], intercept[present[1]] = clf.coef_[0], clf.intercept_[0]
        coef[present[0]], intercept[present[0]] = 0.0, 0.0
    else:
        for row, cls in enumerate(clf.classes_):
            coef[int(cls)], intercept[int(cls)] = clf.coef_[row], clf.intercept_[row]
    counts = {LEARNED_CLASSES[k]: int((y == k).sum()) for k in range(len(LEARNED_CLASSES))}
    info = {
        "C": C,
        "embedding_weight": embedding_weight,
        "n_steps": len(y),
        "class_counts": counts,
        "sources": sorted(set(str(s) for s in sources)),
        "sklearn": sklearn.__version__,
    }
    info.update(meta or {})
    return KindModel(
        embedder=embedder_name,
        dim=dim,
        classes=list(LEARNED_CLASSES),
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        coef=coef,
        intercept=intercept,
        meta=info,
    )


def training_traces(
    labelled: str | Path, data: str | Path, *, thought_anchors: str | Path | None = None, root: str | Path = "."
) -> tuple[list[LabelledTrace], list[Path]]:
    """The labelled traces of a ``structure_dev.jsonl``-style file plus, when ``thought_anchors``
    is given, Thought Anchors' tagged traces; and the files they were read from (for the hash)."""
    traces = labelled_traces(labelled, data, root)
    files = [Path(labelled)]
    if thought_anchors is not None:
        traces = thought_anchors_traces(thought_anchors) + traces
        anchors = Path(thought_anchors)
        for name in ("chunks_labeled.json", "base_solution.json"):
            found = anchors.glob(f"*/*/*/{name}")
            files += sorted(found, key=lambda p: p.relative_to(anchors).as_posix())
    return traces, files


def train(
    labelled: str | Path,
    data: str | Path,
    embedder: Any,
    *,
    thought_anchors: str | Path | None = None,
    root: str | Path = ".",
    C: float = DEFAULT_C,
    command: str = "",
    progress: Callable[[int], None] | None = None,
) -> tuple[KindModel, KindTable]:
    """Train step-kind weights on the labelled file (and Thought Anchors' tags, when given)."""
    traces, files = training_traces(labelled, data, thought_anchors=thought_anchors, root=root)
    table, _ = kind_table(traces, embedder, progress)
    meta = {
        "data_sha256": data_sha256(files),
        "data_files": len(files),
        "labelled_file": Path(labelled).name,
        "command": command,
    }
    model = fit(table, embedder_name=getattr(embedder, "name", ""), C=C, meta=meta)
    return model, table
