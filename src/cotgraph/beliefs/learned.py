"""The learned belief tagger: a calibrated probability per step and belief, trained on labelled steps.

Each step becomes one feature row (:func:`trace_features`):

- its embedding (the one the graph used) and its neighbours' (the step before and after);
- per belief: the best cosine to the belief's example phrasings, whether a cue of the belief
  matches the step (and no counter-cue does), whether a counter-cue does, and whether a cue
  matches the step before or after (anaphora: "do that", "the override");
- stance words of the step (hedges, negation, assertive frames, a question mark, first person);
- its position in the trace and its length.

One L2-regularised logistic regression per belief (scikit-learn, standardised features, one fixed
``C``: nothing is tuned on the folds that are scored) turns a row into the probability that the
step carries the belief, whatever its stance. Three choices keep it from learning the sources
instead of the beliefs (:data:`EMBEDDING_WEIGHT`, :data:`EXAMPLE_WEIGHT`, :func:`source_weights`):
the raw embedding columns are penalised more than the cue and similarity columns, the taxonomy's
own example phrasings are added as weighted training rows, and large data sets are down-weighted.
A belief needs ``min_positive`` labelled steps in at least ``min_traces`` traces to get a model;
the others keep the cue + similarity rule of :mod:`cotgraph.beliefs.tagger`. Stances, evidence
offsets and hypotheses are read as before: from the sentence of the cue when one matches, else
from the step.

Weights are a small ``.npz`` file (numpy arrays and one JSON string, no pickle): the regression
coefficients, the scaler, and the provenance: the taxonomy they belong to (name and a hash of its
content), the embedder whose vectors they expect, the SHA-256 of the labelled file and the command
that trained them. The package ships weights for the ``metagaming`` taxonomy with the default and
the fast embedder; docs/beliefs.md gives the two ``cotgraph train-beliefs`` commands that make
them, and ``tests/test_learned.py`` checks that running them again reproduces the shipped files.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cotgraph.beliefs.stance import ASSERT, HEDGE, NEGATION
from cotgraph.beliefs.tagger import ROW_BLOCK, BeliefTagger, Classifier, TaggerConfig
from cotgraph.beliefs.taxonomy import Taxonomy
from cotgraph.model import BeliefTag, Step, Trace
from cotgraph.weights import labelled_lines, load_weights, save_weights, source_weights

FEATURE_VERSION = 1
"""Bumped whenever :func:`trace_features` changes; weights of another version are refused."""

WEIGHTS_FORMAT = "cotgraph-belief-weights"

DEFAULT_C = 0.1
"""Inverse regularisation strength of every per-belief regression (fixed a priori, not tuned)."""

EMBEDDING_WEIGHT = 0.2
"""The standardised embedding columns (the step's and its neighbours') are multiplied by this
before fitting, which is an L2 penalty 1/0.2² = 25 times stronger on them than on the cue,
similarity, stance and position columns. The labelled steps come from few sources, most of them
from one (the coding runs); with the raw embedding at full weight a regression learns those
sources' topics instead of the belief, and misses the belief in other registers (how this and
the two settings below were chosen: docs/beliefs.md, "Choosing the settings")."""

EXAMPLE_WEIGHT = 3.0
"""Sample weight of each of the taxonomy's example phrasings (a labelled step weighs 1 on average):
they define the belief in many registers, and there are few of them."""

MIN_POSITIVE = 20
MIN_TRACES = 3
"""A belief seen in fewer traces cannot be cross-validated by trace, so it keeps the rule."""
DEFAULT_MIN_PROB = 0.5

_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i'll|i've|me|my|we|we're|we'll|us|our)\b")


class WeightsError(ValueError):
    """Weights that cannot be used: missing, of another format or version, or made for another
    taxonomy or embedder. ``str(error)`` is one line that names the file."""


class LabelsError(ValueError):
    """A labelled file with problems; ``problems`` holds one line per problem, each naming the line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = problems[:20]
        more = f"\n… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__("\n".join(shown) + more)


def taxonomy_hash(taxonomy: Taxonomy) -> str:
    """SHA-256 of the taxonomy's content (beliefs, examples, cues): weights fit one exact taxonomy."""
    payload = json.dumps(taxonomy.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------
# Features


def feature_names(belief_ids: Sequence[str], dim: int) -> list[str]:
    """The column names of :func:`trace_features`, in order (for reports and tests)."""
    names = [f"emb_{j}" for j in range(dim)]
    names += [f"prev_emb_{j}" for j in range(dim)]
    names += [f"next_emb_{j}" for j in range(dim)]
    for kind in ("sim", "cue", "counter", "prev_cue", "next_cue"):
        names += [f"{kind}:{b}" for b in belief_ids]
    names += ["hedge", "negation", "assert", "question", "first_person", "log_chars"]
    names += ["position", "is_first", "is_last", "log_steps"]
    return names


def cue_hits(tagger: BeliefTagger, texts: Sequence[str | None]) -> tuple[list[dict], list[set[str]]]:
    """Per step: the cue hits by belief (``{belief: [(start, end, text)]}``, counter-cue vetoes
    applied) and the set of beliefs a counter-cue vetoes. ``None`` texts (unlabelled steps of a
    partly labelled trace) have neither."""
    hits: list[dict] = []
    vetoes: list[set[str]] = []
    for text in texts:
        if not text:
            hits.append({})
            vetoes.append(set())
            continue
        rules = tagger.matchers.candidates(text.lower())
        found, vetoed = tagger.matchers.match(text, rules)
        hits.append({b: h for b, h in found.items() if b not in vetoed})
        vetoes.append(vetoed)
    return hits, vetoes


def trace_features(
    tagger: BeliefTagger,
    texts: Sequence[str | None],
    vectors: np.ndarray,
    hits: Sequence[dict] | None = None,
    vetoes: Sequence[set[str]] | None = None,
    sims: np.ndarray | None = None,
    rows: range | None = None,
) -> np.ndarray:
    """The feature rows of one trace's steps, in order. ``texts[i] is None`` marks a step whose
    text is unknown (a partly labelled trace): its row is computed from zeros, and it still counts
    for the neighbours and positions of the others. ``rows`` computes only those steps' rows (the
    whole trace is still their context), so that a long trace can be scored a block at a time."""
    n = len(texts)
    rows = range(n) if rows is None else rows
    a, b = rows.start, rows.stop
    ids = tagger.ids
    k = len(ids)
    vectors = np.asarray(vectors, dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    if n == 0 or a >= b:
        return np.zeros((0, 3 * dim + 5 * k + 10), dtype=np.float32)
    if hits is None or vetoes is None:
        hits, vetoes = cue_hits(tagger, texts)
    known = np.array([texts[i] is not None for i in rows])
    zero = np.zeros((1, dim), dtype=np.float32)
    prev = vectors[a - 1 : b - 1] if a > 0 else np.concatenate([zero, vectors[: b - 1]], axis=0)
    nxt = vectors[a + 1 : b + 1] if b < n else np.concatenate([vectors[a + 1 :], zero], axis=0)
    sims = (tagger.similarities(vectors[a:b]) if sims is None else sims[a:b]).astype(np.float32)  # a copy
    sims[~known] = 0.0
    lo, hi = max(0, a - 1), min(n, b + 1)  # the cue columns of the rows and their neighbours
    cue = np.zeros((hi - lo, k), dtype=np.float32)
    counter = np.zeros((b - a, k), dtype=np.float32)
    index = {belief: j for j, belief in enumerate(ids)}
    for i in range(lo, hi):
        for belief in hits[i]:
            cue[i - lo, index[belief]] = 1.0
    for i in rows:
        for belief in vetoes[i]:
            counter[i - a, index[belief]] = 1.0
    none = np.zeros((1, k), dtype=np.float32)
    own = cue[a - lo : b - lo]
    prev_cue = cue[a - 1 - lo : b - 1 - lo] if a > 0 else np.concatenate([none, cue[: b - 1 - lo]], axis=0)
    next_cue = cue[a + 1 - lo : b + 1 - lo] if b < n else np.concatenate([cue[a + 1 - lo :], none], axis=0)
    words = np.zeros((b - a, 6), dtype=np.float32)
    for i in rows:
        text = texts[i]
        if not text:
            continue
        low = text.lower()
        words[i - a] = (
            bool(HEDGE.search(low)),
            bool(NEGATION.search(low)),
            bool(ASSERT.search(low)),
            "?" in text,
            bool(_FIRST_PERSON.search(low)),
            np.log1p(len(text)) / 10.0,
        )
    idx = np.arange(a, b, dtype=np.float32)
    pos = np.stack(
        [
            idx / max(n - 1, 1),
            (idx == 0).astype(np.float32),
            (idx == n - 1).astype(np.float32),
            np.full(b - a, np.log1p(n) / 10.0, dtype=np.float32),
        ],
        axis=1,
    )
    return np.concatenate([vectors[a:b], prev, nxt, sims, own, counter, prev_cue, next_cue, words, pos], axis=1)


# ------------------------------------------------------------------------------------------------
# Weights


@dataclass
class BeliefModel:
    """Trained weights: one logistic regression per learned belief over :func:`trace_features`."""

    taxonomy: str
    taxonomy_sha256: str
    embedder: str
    dim: int
    belief_ids: list[str]
    """Every belief of the taxonomy, in the taxonomy's order (the feature columns follow it)."""
    learned: list[str]
    """The beliefs that have a model; the rest keep the cue + similarity rule."""
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    """``(len(learned), n_features)``, on standardised features."""
    intercept: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """``(n_steps, len(learned))`` probabilities."""
        if features.shape[0] == 0:
            return np.zeros((0, len(self.learned)), dtype=np.float64)
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def save(self, path: str | Path) -> None:
        header = {
            "format": WEIGHTS_FORMAT,
            "feature_version": FEATURE_VERSION,
            "taxonomy": self.taxonomy,
            "taxonomy_sha256": self.taxonomy_sha256,
            "embedder": self.embedder,
            "dim": self.dim,
            "belief_ids": self.belief_ids,
            "learned": self.learned,
            **self.meta,
        }
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept}
        save_weights(path, header, arrays)

    @classmethod
    def load(cls, path: str | Path) -> BeliefModel:
        header, arrays = load_weights(
            path,
            ("mean", "scale", "coef", "intercept"),
            fmt=WEIGHTS_FORMAT,
            feature_version=FEATURE_VERSION,
            what="cotgraph belief weights",
            command="cotgraph train-beliefs",
            error=WeightsError,
        )
        fixed = {"format", "feature_version", "taxonomy", "taxonomy_sha256", "embedder", "dim", "belief_ids", "learned"}
        return cls(
            taxonomy=header["taxonomy"],
            taxonomy_sha256=header["taxonomy_sha256"],
            embedder=header["embedder"],
            dim=int(header["dim"]),
            belief_ids=list(header["belief_ids"]),
            learned=list(header["learned"]),
            meta={k: v for k, v in header.items() if k not in fixed},
            **arrays,
        )

    def check_fits(self, taxonomy: Taxonomy, embedder_name: str, dim: int, where: str) -> None:
        """Refuse weights made for another taxonomy (or another version of it) or embedder."""
        if taxonomy_hash(taxonomy) != self.taxonomy_sha256:
            raise WeightsError(
                f"{where}: made for taxonomy {self.taxonomy!r} as it was when trained, not for {taxonomy.name!r} "
                "as loaded now (its content changed, or it is another taxonomy); train them again"
            )
        if embedder_name != self.embedder or dim != self.dim:
            raise WeightsError(
                f"{where}: made for embedder {self.embedder!r} ({self.dim} dimensions), but the run uses "
                f"{embedder_name!r} ({dim}); pick that embedder or train weights for this one"
            )


SHIPPED_WEIGHTS = {"metagaming": {"default": "metagaming.default.npz", "fast": "metagaming.fast.npz"}}
"""Weights that ship with the package, by taxonomy and embedder kind."""


def embedder_kind(embedder_name: str) -> str | None:
    """``default`` or ``fast`` for the two bundled embedders, ``None`` for any other model."""
    from cotgraph.embed import DEFAULT_MODEL_NAME

    if embedder_name == DEFAULT_MODEL_NAME:
        return "default"
    if embedder_name.startswith(DEFAULT_MODEL_NAME) and "static" in embedder_name:
        return "fast"
    return None


def shipped_weights_path(taxonomy: str, embedder_name: str) -> Path | None:
    """The packaged weights file for a shipped taxonomy and bundled embedder, if there is one."""
    kind = embedder_kind(embedder_name)
    name = SHIPPED_WEIGHTS.get(taxonomy, {}).get(kind or "")
    if not name:
        return None
    path = Path(str(resources.files("cotgraph.beliefs").joinpath("data", name)))
    return path if path.is_file() else None


# ------------------------------------------------------------------------------------------------
# The tagger


class LearnedTagger(BeliefTagger):
    """:class:`BeliefTagger` whose learned beliefs are scored by a :class:`BeliefModel`.

    A learned belief is tagged when its probability reaches ``min_prob``; the tag's ``score`` is
    that probability and its ``via`` is ``learned:cue:<phrase>`` (a cue of the belief matched and
    locates the evidence) or ``learned:example:<nearest example>``. Beliefs without a model are
    tagged by the cue + similarity rule as before.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Any,
        model: BeliefModel,
        *,
        min_prob: float = DEFAULT_MIN_PROB,
        config: TaggerConfig | None = None,
        classifier: Classifier | None = None,
        where: str = "belief weights",
    ) -> None:
        super().__init__(taxonomy, embedder, config, classifier)
        model.check_fits(taxonomy, getattr(embedder, "name", ""), int(getattr(embedder, "dim", model.dim)), where)
        if not 0.0 < min_prob <= 1.0:
            raise WeightsError(f"min_prob must be in (0, 1], got {min_prob}")
        self.model = model
        self.min_prob = min_prob
        self.learned = set(model.learned)
        self.learned_index = {b: j for j, b in enumerate(model.learned)}

    def tag(self, trace: Trace, steps: Sequence[Step], step_vectors: np.ndarray) -> list[BeliefTag]:
        texts = [s.text for s in steps]
        hits, vetoes = cue_hits(self, texts)
        best = self.similarities(step_vectors)
        n = len(texts)
        probs = (
            np.concatenate(  # a long trace a block at a time, so that memory stays bounded
                [
                    self.model.probabilities(
                        trace_features(self, texts, step_vectors, hits, vetoes, best, range(lo, min(n, lo + ROW_BLOCK)))
                    )
                    for lo in range(0, n, ROW_BLOCK)
                ]
            )
            if n
            else np.zeros((0, len(self.model.learned)))
        )
        # the rule, for the beliefs without a model, reuses the cue matches and similarities
        by_step = self.rule_candidates(
            steps, step_vectors, skip=self.learned, best=best, matches=list(zip(hits, vetoes, strict=True))
        )
        out: list[BeliefTag] = []
        for step in steps:
            i = step.idx
            candidates = list(by_step.get(i, []))
            text = step.text
            for belief_id in self.model.learned:
                p = float(probs[i, self.learned_index[belief_id]]) if i < probs.shape[0] else 0.0
                if p < self.min_prob:
                    continue
                cue = (hits[i].get(belief_id) if i < len(hits) else None) or []
                s_lo, s_hi, stance, via = self.evidence(
                    text, cue, step_vectors[i], self.ids.index(belief_id), via="learned:"
                )
                candidates.append(
                    BeliefTag(
                        step=i,
                        belief=belief_id,
                        score=round(p, 4),
                        stance=stance,
                        start=step.start + s_lo,
                        end=step.start + s_hi,
                        via=via,
                    )
                )
            out.extend(self.finish(step, candidates, trace))
        return out


# ------------------------------------------------------------------------------------------------
# Labelled data and training


@dataclass(frozen=True)
class LabelledStep:
    """One labelled step of a ``beliefs_dev.jsonl``-style file."""

    line: int
    path: str
    trace_id: str
    step: int
    text: str
    beliefs: frozenset[str]
    set: str = ""
    model: str | None = None


REQUIRED_KEYS = ("trace_id", "step", "text", "labels")
STANCES = ("raised", "entertained", "endorsed", "rejected")


def read_labelled(path: str | Path, taxonomy: Taxonomy) -> list[LabelledStep]:
    """Read and check a labelled file (JSON Lines, one step per line, the format of
    ``benchmarks/data/beliefs_dev.jsonl``). Every problem is collected and raised together as
    :class:`LabelsError`, each naming the line: bad JSON, a missing or ill-typed key, a belief
    that is not in the taxonomy, a bad stance, a step listed twice."""
    import difflib

    path = str(path)
    known = set(taxonomy.ids)
    problems: list[str] = []
    out: list[LabelledStep] = []
    first_line: dict[tuple[str, str, int], int] = {}
    for n, where, rec in labelled_lines(path, REQUIRED_KEYS, problems, LabelsError):
        bad = False
        if not isinstance(rec["trace_id"], str) or not rec["trace_id"]:
            problems.append(f"{where}: trace_id must be a non-empty string")
            bad = True
        if not isinstance(rec["step"], int) or isinstance(rec["step"], bool) or rec["step"] < 0:
            problems.append(f"{where}: step must be a non-negative integer, got {rec['step']!r}")
            bad = True
        if not isinstance(rec["text"], str) or not rec["text"].strip():
            problems.append(f"{where}: text must be a non-empty string")
            bad = True
        labels = rec["labels"]
        beliefs: set[str] = set()
        if not isinstance(labels, list):
            problems.append(f"{where}: labels must be a list of {{belief, stance}} objects")
            bad = True
        else:
            for j, label in enumerate(labels, 1):
                if not isinstance(label, dict) or "belief" not in label:
                    problems.append(f"{where}: label {j} must be an object with 'belief' (and 'stance')")
                    bad = True
                    continue
                b = label["belief"]
                if b not in known:
                    hint = difflib.get_close_matches(str(b), sorted(known), n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    problems.append(f"{where}: label {j}: {b!r} is not a belief of taxonomy {taxonomy.name!r}{extra}")
                    bad = True
                if "stance" in label and label["stance"] not in STANCES:
                    problems.append(
                        f"{where}: label {j}: stance {label['stance']!r} is not one of {', '.join(STANCES)}"
                    )
                    bad = True
                if b in beliefs:
                    problems.append(f"{where}: label {j}: belief {b!r} listed twice")
                    bad = True
                beliefs.add(str(b))
        if bad:
            continue
        key = (str(rec.get("path", "")), rec["trace_id"], rec["step"])
        if key in first_line:
            problems.append(f"{where}: step {rec['step']} of trace {rec['trace_id']!r} also on line {first_line[key]}")
            continue
        first_line[key] = n
        out.append(
            LabelledStep(
                line=n,
                path=key[0],
                trace_id=rec["trace_id"],
                step=rec["step"],
                text=rec["text"],
                beliefs=frozenset(beliefs),
                set=str(rec.get("set", "")),
                model=rec.get("model"),
            )
        )
    if not out and not problems:
        problems.append(f"{path}: no labelled steps")
    if problems:
        raise LabelsError(path, problems)
    return out


def group_traces(records: Iterable[LabelledStep]) -> dict[tuple[str, str], list[LabelledStep]]:
    """Labelled steps by trace, each trace's steps in order."""
    traces: dict[tuple[str, str], list[LabelledStep]] = defaultdict(list)
    for r in records:
        traces[(r.path, r.trace_id)].append(r)
    for steps in traces.values():
        steps.sort(key=lambda r: r.step)
    return dict(traces)


@dataclass
class FeatureTable:
    """Feature rows of labelled steps, with what each row is."""

    X: np.ndarray
    Y: np.ndarray
    """``(n, len(belief_ids))`` 0/1: the step carries the belief (any stance)."""
    records: list[LabelledStep]
    belief_ids: list[str]

    @property
    def groups(self) -> np.ndarray:
        return np.array([f"{r.path}\x00{r.trace_id}" for r in self.records])


def distinct_texts(records: Iterable[LabelledStep]) -> list[str]:
    """The distinct step texts of labelled steps, sorted: each is embedded once."""
    return sorted({r.text for r in records})


def labelled_features(
    records: Sequence[LabelledStep],
    tagger: BeliefTagger,
    embedder: Any,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    vectors: np.ndarray | None = None,
) -> FeatureTable:
    """Feature rows for labelled steps, computed as the tagger computes them on a whole trace:
    each trace is rebuilt from its labelled steps (steps that are not labelled count as unknown
    neighbours). ``vectors``, when given, are the embeddings of the distinct step texts in sorted
    order (:func:`distinct_texts`), already computed."""
    traces = group_traces(records)
    unique = distinct_texts(records)
    if vectors is None and unique:
        vectors = embedder.encode(unique, batch_size=batch_size, progress=progress)
    row_of = {t: i for i, t in enumerate(unique)}
    dim = int(embedder.dim)
    rows: list[np.ndarray] = []
    ordered: list[LabelledStep] = []
    for steps in traces.values():
        n = steps[-1].step + 1
        texts: list[str | None] = [None] * n
        vecs = np.zeros((n, dim), dtype=np.float32)
        for r in steps:
            texts[r.step] = r.text
            vecs[r.step] = vectors[row_of[r.text]]
        feats = trace_features(tagger, texts, vecs)
        for r in steps:
            rows.append(feats[r.step])
            ordered.append(r)
    ids = list(tagger.ids)
    X = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    Y = np.array([[b in r.beliefs for b in ids] for r in ordered], dtype=np.int8)
    return FeatureTable(X=X, Y=Y, records=ordered, belief_ids=ids)


def example_rows(tagger: BeliefTagger, embedder: Any) -> tuple[np.ndarray, np.ndarray]:
    """The taxonomy's own example phrasings as labelled rows: each is a positive of its belief and
    a negative of the others. They are the definition of each belief in the registers models
    write in, written without the evaluation data, so they teach the model phrasings the labelled
    traces hold few of. Each is featurised as what it is, a one-step trace, except that its
    similarity to its belief's examples leaves itself out."""
    ids = tagger.ids
    owners = [b.id for b in tagger.taxonomy.beliefs for _ in b.examples]
    texts = list(tagger.examples)
    if not texts or tagger.example_vectors is None:
        return np.zeros((0, 0), dtype=np.float32), np.zeros((0, len(ids)), dtype=np.int8)
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    names = feature_names(ids, vectors.shape[1])
    sim_at = names.index(f"sim:{ids[0]}")
    rows = []
    for i, text in enumerate(texts):
        row = trace_features(tagger, [text], vectors[i : i + 1])[0]
        sims = tagger.example_vectors @ vectors[i]
        sims[i] = -1.0  # leave itself out
        row[sim_at : sim_at + len(ids)] = np.maximum.reduceat(sims, tagger.example_starts)
        rows.append(row)
    Y = np.array([[owner == b for b in ids] for owner in owners], dtype=np.int8)
    return np.stack(rows), Y


def learnable(
    Y: np.ndarray, groups: np.ndarray, belief_ids: Sequence[str], min_positive: int, min_traces: int
) -> list[str]:
    """The beliefs with enough labelled positives to learn: ``min_positive`` steps in
    ``min_traces`` traces."""
    out = []
    for j, b in enumerate(belief_ids):
        pos = Y[:, j] == 1
        if pos.sum() >= min_positive and len(set(groups[pos])) >= min_traces and (~pos).any():
            out.append(b)
    return out


def fit(
    table: FeatureTable,
    *,
    taxonomy: Taxonomy,
    embedder_name: str,
    C: float = DEFAULT_C,
    min_positive: int = MIN_POSITIVE,
    min_traces: int = MIN_TRACES,
    rows: np.ndarray | None = None,
    examples: tuple[np.ndarray, np.ndarray] | None = None,
    meta: dict[str, Any] | None = None,
    embedding_weight: float = EMBEDDING_WEIGHT,
    example_weight: float = EXAMPLE_WEIGHT,
    balance_sources: bool = True,
) -> BeliefModel:
    """Fit one logistic regression per learnable belief on ``table`` (or its ``rows``), plus the
    taxonomy's example rows (:func:`example_rows`) when given. Which beliefs are learnable is
    decided by the labelled steps alone. The last three settings are the shipped ones by default
    (``benchmarks/belief_settings.py`` compares others)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, Y, groups = table.X, table.Y, table.groups
    sets = np.array([r.set for r in table.records])
    if rows is not None:
        X, Y, groups, sets = X[rows], Y[rows], groups[rows], sets[rows]
    learned = learnable(Y, groups, table.belief_ids, min_positive, min_traces)
    positives = {b: int(Y[:, table.belief_ids.index(b)].sum()) for b in table.belief_ids}
    n_steps, n_traces = int(X.shape[0]), len(set(groups))
    n_examples = 0
    if examples is not None and len(examples[0]):
        n_examples = len(examples[0])
        X = np.concatenate([X, examples[0].astype(X.dtype)])
        Y = np.concatenate([Y, examples[1].astype(Y.dtype)])
    step_weights = source_weights(sets) if balance_sources else np.ones(len(sets))
    weights = np.concatenate([step_weights, np.full(n_examples, example_weight)])
    scaler = StandardScaler().fit(X)
    n_features = X.shape[1]
    dim = int((n_features - 5 * len(table.belief_ids) - 10) // 3)
    column_weight = np.ones(n_features)
    column_weight[: 3 * dim] = embedding_weight
    # folded into the scale, so that prediction stays (x - mean) / scale
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0) / column_weight
    Z = (X - scaler.mean_) / scale
    coefs, intercepts = [], []
    for b in learned:
        y = Y[:, table.belief_ids.index(b)]
        clf = LogisticRegression(C=C, max_iter=5000, tol=1e-6)
        clf.fit(Z, y, sample_weight=weights)
        coefs.append(clf.coef_[0])
        intercepts.append(clf.intercept_[0])
    import sklearn

    info = {
        "C": C,
        "embedding_weight": embedding_weight,
        "example_weight": example_weight,
        "balance_sources": balance_sources,
        "min_positive": min_positive,
        "min_traces": min_traces,
        "n_steps": n_steps,
        "n_traces": n_traces,
        "n_examples": n_examples,
        "positives": positives,
        "sklearn": sklearn.__version__,
    }
    info.update(meta or {})
    return BeliefModel(
        taxonomy=taxonomy.name,
        taxonomy_sha256=taxonomy_hash(taxonomy),
        embedder=embedder_name,
        dim=dim,
        belief_ids=list(table.belief_ids),
        learned=learned,
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        coef=np.array(coefs, dtype=np.float64).reshape(len(learned), n_features),
        intercept=np.array(intercepts, dtype=np.float64),
        meta=info,
    )


def cross_validate(
    table: FeatureTable,
    *,
    taxonomy: Taxonomy,
    embedder_name: str,
    folds: int = 5,
    C: float = DEFAULT_C,
    min_positive: int = MIN_POSITIVE,
    min_traces: int = MIN_TRACES,
    examples: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities, grouped by trace (``GroupKFold``): ``(probs, has_model)``, both
    ``(n_steps, len(belief_ids))``; ``has_model`` is False where the fold had too few positives to
    learn the belief."""
    from sklearn.model_selection import GroupKFold

    groups = table.groups
    n_groups = len(set(groups))
    k = max(2, min(folds, n_groups))
    probs = np.zeros(table.Y.shape, dtype=np.float64)
    has_model = np.zeros(table.Y.shape, dtype=bool)
    for train, test in GroupKFold(n_splits=k).split(table.X, table.Y, groups):
        model = fit(
            table,
            taxonomy=taxonomy,
            embedder_name=embedder_name,
            C=C,
            min_positive=min_positive,
            min_traces=min_traces,
            rows=train,
            examples=examples,
        )
        p = model.probabilities(table.X[test])
        for j, b in enumerate(model.learned):
            col = table.belief_ids.index(b)
            probs[test, col] = p[:, j]
            has_model[test, col] = True
    return probs, has_model


@dataclass
class TrainResult:
    """What :func:`train` returns: the weights and the cross-validated scores they reached."""

    model: BeliefModel
    table: FeatureTable
    cv: dict[str, dict[str, float | int | None]]
    """Per learned belief, out-of-fold (grouped by trace): precision, recall, F1 at ``min_prob``,
    ROC AUC, positives."""


def scores_at(y: np.ndarray, p: np.ndarray, cut: float) -> dict[str, float | int | None]:
    """Precision, recall, F1 at a probability cut, and ROC AUC (``None`` with one class only)."""
    from sklearn.metrics import roc_auc_score

    pred = p >= cut
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else (0.0 if prec is not None or rec is not None else None)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    return {
        "precision": prec,
        "recall": rec,
        "f1": f1,
        "auc": auc,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "positives": int(y.sum()),
    }


def train(
    labelled: str | Path,
    taxonomy: Taxonomy,
    embedder: Any,
    *,
    C: float = DEFAULT_C,
    min_positive: int = MIN_POSITIVE,
    min_traces: int = MIN_TRACES,
    folds: int = 5,
    min_prob: float = DEFAULT_MIN_PROB,
    command: str = "",
    progress: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train belief weights for ``taxonomy`` from a labelled file, and cross-validate them
    (grouped by trace, ``folds`` folds; 0 skips it) with the same settings. Raises
    :class:`LabelsError` on bad input."""
    records = read_labelled(labelled, taxonomy)
    tagger = BeliefTagger(taxonomy, embedder)
    table = labelled_features(records, tagger, embedder, progress=progress)
    examples = example_rows(tagger, embedder)
    name = getattr(embedder, "name", "")
    meta = {"data_sha256": file_sha256(labelled), "data_file": Path(labelled).name, "command": command}
    model = fit(
        table,
        taxonomy=taxonomy,
        embedder_name=name,
        C=C,
        min_positive=min_positive,
        min_traces=min_traces,
        examples=examples,
        meta=meta,
    )
    cv: dict[str, dict[str, float | int | None]] = {}
    if folds >= 2 and model.learned and len(set(table.groups)) >= 2:
        probs, has_model = cross_validate(
            table,
            taxonomy=taxonomy,
            embedder_name=name,
            folds=folds,
            C=C,
            min_positive=min_positive,
            examples=examples,
            min_traces=min_traces,
        )
        for b in model.learned:
            j = table.belief_ids.index(b)
            cv[b] = scores_at(table.Y[:, j], np.where(has_model[:, j], probs[:, j], 0.0), min_prob)
    return TrainResult(model=model, table=table, cv=cv)
