"""Tag each step with the beliefs it carries.

Two signals, combined into one score in [0, 1] per step and belief:

- **lexical cues** (spaCy ``Matcher``/``PhraseMatcher`` on the step's tokens): high-precision
  phrases of the taxonomy ("the user might be testing me", "hidden tests", "the professor's
  answer"); a counter-cue in the same step (the traps: "unit test", "test case", "let me test
  x = 3") vetoes the belief's cues;
- **embedding similarity** of the step to the belief's example phrasings (the same embeddings the
  graph used, so this costs nothing extra): the best cosine, mapped linearly from
  ``sim_floor`` (0) to ``sim_ceiling`` (1).

score = 1 − (1 − cue) (1 − similarity); a step carries the belief when the score reaches
``threshold``. The stance comes from the sentence that holds the evidence (:mod:`stance`). A
belief that ``rejects`` another (``real_deployment`` rejects ``eval_awareness``), when endorsed,
adds a ``rejected`` tag of the other. An optional user classifier sees every step's candidate tags
and returns the ones it confirms.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cotgraph.beliefs.stance import sentence_around, stance_of
from cotgraph.beliefs.taxonomy import Taxonomy
from cotgraph.model import BeliefTag, Step, Trace

Classifier = Callable[[Step, list[BeliefTag], Trace], Sequence[BeliefTag | str]]
"""A user's confirmation hook: receives the step, its candidate tags and the trace, and returns
the tags (or belief ids) it confirms; the others are vetoed. An LLM judge fits here."""


class ClassifierError(Exception):
    """A ``--classifier module:function`` that cannot be loaded or that misbehaves."""


@dataclass(frozen=True)
class TaggerConfig:
    """Thresholds of the tagger. ``docs/beliefs.md`` gives the data they were calibrated on."""

    threshold: float = 0.5
    """A step carries a belief when its score reaches this."""
    cue_score: float = 0.8
    """The score a lexical cue gives on its own."""
    sim_floor: float = 0.50
    """Cosine to the nearest example at which similarity starts to count (score 0)."""
    sim_ceiling: float = 0.85
    """Cosine at which similarity alone is certain (score 1)."""
    max_tags_per_step: int = 4


STATIC_CALIBRATED = TaggerConfig(sim_floor=0.60, sim_ceiling=0.95)
"""The similarity thresholds calibrated for the static (``--embedder fast``) model, whose cosines
run higher than MiniLM's (``python benchmarks/calibrate_beliefs.py --embedder fast``)."""


def config_for(embedder_name: str, config: TaggerConfig) -> TaggerConfig:
    """The calibrated thresholds for the embedder in use, unless the caller set their own."""
    if config == TaggerConfig() and "static" in embedder_name:
        return STATIC_CALIBRATED
    return config


def load_classifier(spec: str) -> Classifier:
    """``module:function`` → the callable, with a clear error when it is not there."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ClassifierError(f"--classifier wants 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ClassifierError(f"cannot import classifier module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ClassifierError(f"{module_name!r} has no callable {attr!r}")
    return fn  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _nlp() -> Any:
    import spacy

    return spacy.blank("en")


_WORD = re.compile(r"[a-z]+")
_UNSPLIT = frozenset(
    {
        "can",
        "not",
        "gon",
        "na",
        "got",
        "ta",
        "wan",
        "lem",
        "me",
        "ai",
        "ca",
        "wo",
        "sha",
        "do",
        "does",
        "did",
        "is",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "could",
        "should",
        "would",
        "might",
        "must",
        "need",
    }
)
"""Alphabetic tokens spaCy can cut out of a longer alphabetic run ("cannot" → can + not, "gonna" →
gon + na, "doesn't" → does + n't): the word prefilter never relies on them."""


class _Matchers:
    """One spaCy ``Matcher`` per cue and counter-cue, behind a word-level prefilter: a rule can only
    match where its most selective required word, and one accepted word of each of its other
    required tokens, are among the step's words. Only the rules that pass are run (a ``Matcher``
    with large ``IN`` lists costs about a millisecond a step; most steps need none). The prefilter
    is conservative: it only skips what the matcher could not match."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        from spacy.matcher import Matcher

        nlp = _nlp()
        self.rules: dict[tuple[str, str, int], Any] = {}
        # anchor word -> rules anchored on it, with their other required word sets
        self.index: dict[str, list[tuple[tuple[str, str, int], tuple[frozenset[str], ...]]]] = {}
        self.always: list[tuple[str, str, int]] = []
        for belief in taxonomy.beliefs:
            for kind, cues in (("cue", belief.cues), ("counter", belief.counter_cues)):
                for i, cue in enumerate(cues):
                    rule = (belief.id, kind, i)
                    pattern = cue.to_pattern()
                    matcher = Matcher(nlp.vocab)
                    matcher.add(f"{belief.id}|{kind}|{i}", [pattern])
                    self.rules[rule] = matcher
                    required = _required_words(pattern)
                    if not required:
                        self.always.append(rule)
                        continue
                    anchor = max(required, key=lambda alts: min(map(len, alts)))
                    others = tuple(r for r in required if r is not anchor)
                    for word in anchor:
                        self.index.setdefault(word, []).append((rule, others))

    def candidates(self, lowered: str) -> list[tuple[str, str, int]]:
        """The rules that could match in this (lower-cased) step."""
        found = list(self.always)
        words = set(_WORD.findall(lowered))
        for word in words:
            for rule, others in self.index.get(word, ()):
                if all(not alts.isdisjoint(words) for alts in others):
                    found.append(rule)
        return found

    def match(
        self, text: str, rules: list[tuple[str, str, int]]
    ) -> tuple[dict[str, list[tuple[int, int, str]]], set[str]]:
        """Cue hits per belief as (char start, char end, text), and the beliefs a counter-cue vetoes."""
        hits: dict[str, list[tuple[int, int, str]]] = {}
        vetoed: set[str] = set()
        if not rules:
            return hits, vetoed
        doc = _nlp().make_doc(text)
        for rule in sorted(set(rules)):
            belief, kind, _ = rule
            if kind == "counter":
                if belief not in vetoed and self.rules[rule](doc):
                    vetoed.add(belief)
                continue
            for _, start, end in self.rules[rule](doc):
                span = doc[start:end]
                hits.setdefault(belief, []).append((span.start_char, span.end_char, span.text))
        for belief in hits:
            hits[belief].sort()
        return hits, vetoed


def locate_evidence(text: str, cue_hits: Sequence[tuple[int, int, str]]) -> tuple[int, int, str]:
    """A tag's evidence in its step and its stance: the sentence of the first cue hit, its stance
    read around the cue; without a cue, the whole step (and no cue to read a denial from)."""
    if cue_hits:
        c_start, c_end, _ = cue_hits[0]
        s_lo, s_hi = sentence_around(text, c_start, c_end)
        return s_lo, s_hi, stance_of(text[s_lo:s_hi], c_start - s_lo, c_end - s_lo)
    return 0, len(text), stance_of(text)


def _literals(token: dict[str, Any]) -> list[str] | None:
    """The lower-case strings a token pattern accepts, when it is a literal (``LOWER``/``ORTH``/
    ``TEXT`` equal to, or ``IN``, a list); ``None`` for anything else."""
    for key in ("LOWER", "ORTH", "TEXT", "NORM", "lower", "orth", "text", "norm"):
        value = token.get(key)
        if isinstance(value, str):
            return [value.lower()]
        if isinstance(value, dict) and isinstance(value.get("IN"), list) and len(value) == 1:
            return [str(v).lower() for v in value["IN"]]
        if value is not None:
            return None
    return None


def _required_words(pattern: list[dict[str, Any]]) -> list[frozenset[str]]:
    """For each required token of ``pattern`` that is a plain-word literal, the set of words it
    accepts; every match has one word of each set among the step's words. Optional or negated
    tokens, non-literal ones, and words spaCy may cut out of a longer word are left out, so the
    condition is necessary, never too strict."""
    required = []
    for token in pattern:
        if token.get("OP") in ("?", "*", "!"):
            continue
        alternatives = _literals(token)
        if alternatives is None or any(a in _UNSPLIT or not _WORD.fullmatch(a) for a in alternatives):
            continue
        required.append(frozenset(alternatives))
    return required


ROW_BLOCK = 4096
"""Steps compared with the examples per matrix product on long traces."""


class BeliefTagger:
    """Tags steps with the beliefs of one taxonomy, using a given embedder's vectors."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Any,
        config: TaggerConfig | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.config = config_for(getattr(embedder, "name", ""), config or TaggerConfig())
        self.classifier = classifier
        self.matchers = _Matchers(taxonomy)
        examples = [ex for belief in taxonomy.beliefs for ex in belief.examples]
        self.example_owner = np.array(
            [k for k, belief in enumerate(taxonomy.beliefs) for _ in belief.examples], dtype=np.int64
        )
        self.examples = examples
        self.example_vectors = np.asarray(embedder.encode(examples), dtype=np.float32) if examples else None
        self.ids = [b.id for b in taxonomy.beliefs]
        counts = [len(b.examples) for b in taxonomy.beliefs]  # every belief has at least 3
        self.example_ends = np.cumsum(counts)
        self.example_starts = self.example_ends - np.asarray(counts)

    def similarities(self, step_vectors: np.ndarray) -> np.ndarray:
        """Per step and belief: the best cosine to the belief's examples (examples are stored
        belief by belief, so one ``maximum.reduceat`` does it)."""
        n, k = step_vectors.shape[0], len(self.ids)
        if self.example_vectors is None or n == 0:
            return np.full((n, k), -1.0, dtype=np.float32)
        vectors = np.asarray(step_vectors, dtype=np.float32)
        if n <= ROW_BLOCK:
            return np.maximum.reduceat(vectors @ self.example_vectors.T, self.example_starts, axis=1)
        out = np.empty((n, k), dtype=np.float32)  # a long trace: bounded memory, a block at a time
        for lo in range(0, n, ROW_BLOCK):
            block = vectors[lo : lo + ROW_BLOCK] @ self.example_vectors.T
            out[lo : lo + ROW_BLOCK] = np.maximum.reduceat(block, self.example_starts, axis=1)
        return out

    def nearest_example(self, step_vector: np.ndarray, belief_index: int) -> str:
        """The example phrasing of a belief closest to a step: the ``via`` of a similarity tag."""
        lo, hi = self.example_starts[belief_index], self.example_ends[belief_index]
        assert self.example_vectors is not None
        sims = self.example_vectors[lo:hi] @ np.asarray(step_vector, dtype=np.float32)
        return self.examples[lo + int(np.argmax(sims))]

    def tag(self, trace: Trace, steps: Sequence[Step], step_vectors: np.ndarray) -> list[BeliefTag]:
        """Every belief tag of the trace's steps, in step order."""
        candidates = self.rule_candidates(steps, step_vectors)
        tags: list[BeliefTag] = []
        for step in steps:
            tags.extend(self.finish(step, candidates.get(step.idx, []), trace))
        return tags

    def rule_candidates(
        self,
        steps: Sequence[Step],
        step_vectors: np.ndarray,
        skip: frozenset[str] | set[str] = frozenset(),
        *,
        best: np.ndarray | None = None,
        matches: Sequence[tuple[dict[str, list[tuple[int, int, str]]], set[str]]] | None = None,
    ) -> dict[int, list[BeliefTag]]:
        """The cue + similarity candidates of each step (before rejections, the cap and the
        classifier), for every belief not in ``skip``. ``best`` (:meth:`similarities`) and
        ``matches`` (each step's cue hits and vetoed beliefs) may be passed when already computed."""
        cfg = self.config
        if best is None:
            best = self.similarities(step_vectors)
        span = max(cfg.sim_ceiling - cfg.sim_floor, 1e-6)
        sim_scores = np.clip((best - cfg.sim_floor) / span, 0.0, 1.0)
        active = [b for b, belief_id in enumerate(self.ids) if belief_id not in skip]
        # a step with no cue can only be tagged by similarity alone
        reachable = sim_scores[:, active] >= cfg.threshold if active else np.zeros((len(steps), 0), dtype=bool)
        out: dict[int, list[BeliefTag]] = {}
        for step in steps:
            text = step.text
            unreachable = step.idx >= reachable.shape[0] or not reachable[step.idx].any()
            if matches is not None:
                hits, vetoed = matches[step.idx]
                if unreachable and not hits and not vetoed:
                    continue
            else:
                rules = self.matchers.candidates(text.lower())
                if not rules and unreachable:
                    continue
                hits, vetoed = self.matchers.match(text, rules)
            candidates: list[BeliefTag] = []
            for b in active:
                belief_id = self.ids[b]
                cue_hits = [] if belief_id in vetoed else hits.get(belief_id, [])
                sim = float(sim_scores[step.idx, b]) if step.idx < sim_scores.shape[0] else 0.0
                if belief_id in vetoed:
                    sim *= 0.5
                cue = cfg.cue_score if cue_hits else 0.0
                score = 1.0 - (1.0 - cue) * (1.0 - sim)
                if score < cfg.threshold:
                    continue
                s_lo, s_hi, stance, via = self.evidence(text, cue_hits, step_vectors[step.idx], b)
                candidates.append(
                    BeliefTag(
                        step=step.idx,
                        belief=belief_id,
                        score=round(score, 4),
                        stance=stance,
                        start=step.start + s_lo,
                        end=step.start + s_hi,
                        via=via,
                    )
                )
            if candidates:
                out[step.idx] = candidates
        return out

    def evidence(
        self, text: str, cue_hits: Sequence[tuple[int, int, str]], vector: np.ndarray, belief: int, via: str = ""
    ) -> tuple[int, int, str, str]:
        """Where a tag's evidence lies in the step, its stance, and what found it: the sentence of
        the first cue hit (``cue:<phrase>``), else the whole step (``example:<nearest example>``,
        and no cue to read a denial from). ``via`` is put before the source (``learned:``)."""
        s_lo, s_hi, stance = locate_evidence(text, cue_hits)
        if cue_hits:
            return s_lo, s_hi, stance, f"{via}cue:{cue_hits[0][2].lower()}"
        return s_lo, s_hi, stance, f"{via}example:{self.nearest_example(vector, belief)}"

    def finish(self, step: Step, candidates: list[BeliefTag], trace: Trace) -> list[BeliefTag]:
        """A step's final tags: rejections applied, the strongest ``max_tags_per_step`` kept, the
        classifier asked, in taxonomy order."""
        if not candidates:
            return []
        candidates = self._rejections(candidates)
        candidates.sort(key=lambda t: -t.score)
        candidates = candidates[: self.config.max_tags_per_step]
        if self.classifier is not None and candidates:
            candidates = self._confirm(step, candidates, trace)
        return sorted(candidates, key=lambda t: self.ids.index(t.belief) if t.belief in self.ids else 0)

    def _rejections(self, candidates: list[BeliefTag]) -> list[BeliefTag]:
        """An endorsed belief that rejects others adds (or turns) their tags to ``rejected``."""
        present = {t.belief: t for t in candidates}
        out = list(candidates)
        for tag in candidates:
            if tag.stance != "endorsed":
                continue
            for other in self.taxonomy.get(tag.belief).rejects:
                existing = present.get(other)
                if existing is not None:
                    out[out.index(existing)] = existing.model_copy(update={"stance": "rejected"})
                else:
                    out.append(
                        tag.model_copy(update={"belief": other, "stance": "rejected", "via": f"rejects:{tag.belief}"})
                    )
        return out

    def _confirm(self, step: Step, candidates: list[BeliefTag], trace: Trace) -> list[BeliefTag]:
        assert self.classifier is not None
        try:
            answer = self.classifier(step, list(candidates), trace)
        except Exception as exc:  # a user's code: report, do not crash the run silently
            raise ClassifierError(
                f"the classifier failed on {trace.id} step {step.idx}: {type(exc).__name__}: {exc}"
            ) from exc
        if answer is None:
            raise ClassifierError(f"the classifier returned None for {trace.id} step {step.idx}; return a list")
        kept: list[BeliefTag] = []
        by_id = {t.belief: t for t in candidates}
        for item in answer:
            if isinstance(item, BeliefTag):
                kept.append(item)
            elif isinstance(item, str) and item in by_id:
                kept.append(by_id[item])
            else:
                raise ClassifierError(
                    f"the classifier returned {item!r} for {trace.id} step {step.idx}: "
                    "expected BeliefTag objects or ids of the candidate tags"
                )
        return kept
