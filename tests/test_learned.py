"""The learned belief tagger: the shipped weights are what their training command makes from the
labelled set, the default analysis uses them, a user's own taxonomy falls back to the cue +
similarity rule and can be trained with ``cotgraph train-beliefs``, and bad input is named.
Real spaCy, the real embedders and the real labelled data throughout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cotgraph.beliefs.learned import (
    BeliefModel,
    LabelsError,
    LearnedTagger,
    WeightsError,
    feature_names,
    file_sha256,
    read_labelled,
    shipped_weights_path,
    taxonomy_hash,
    trace_features,
    train,
)
from cotgraph.beliefs.tagger import BeliefTagger
from cotgraph.beliefs.taxonomy import load_taxonomy
from cotgraph.embed import get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many, make_tagger
from cotgraph.io import load

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "benchmarks" / "data" / "beliefs_dev.jsonl"
EXAMPLES = ROOT / "examples"
HINTS = EXAMPLES / "thought-branches" / "professor_hint_sample.json"
SAFETY = EXAMPLES / "thoughtology" / "safety_sample.jsonl"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("cotgraph", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-c", "from cotgraph.cli import main; main()"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=ROOT, timeout=900)


@pytest.fixture(scope="module")
def fast():
    return get_embedder("fast")


# --- the shipped weights -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["default", "fast"])
def test_shipped_weights_name_their_data_taxonomy_and_command(kind: str) -> None:
    taxonomy = load_taxonomy("metagaming")
    embedder_name = get_embedder(kind).name
    path = shipped_weights_path("metagaming", embedder_name)
    assert path is not None and path.stat().st_size < 200_000  # small enough to ship
    model = BeliefModel.load(path)
    assert model.meta["data_sha256"] == file_sha256(DEV)  # trained on the labelled set as it is now
    assert model.taxonomy_sha256 == taxonomy_hash(taxonomy)
    assert model.embedder == embedder_name
    assert model.meta["command"].startswith("cotgraph train-beliefs benchmarks/data/beliefs_dev.jsonl")
    assert {"eval_awareness", "grader", "reward_hack", "hint_reliance"} <= set(model.learned)
    assert model.coef.shape == (len(model.learned), len(feature_names(model.belief_ids, model.dim)))


@pytest.mark.parametrize("kind", ["fast", "default"])
def test_retraining_reproduces_the_shipped_weights(kind: str) -> None:
    """The command recorded in the weights, run again on the same data, gives the same model: the
    same beliefs learned and, on every labelled step, the same probabilities (to 1e-3, which
    leaves room for floating-point differences between BLAS builds) and the same tags."""
    embedder = get_embedder(kind)
    shipped = BeliefModel.load(shipped_weights_path("metagaming", embedder.name))
    result = train(DEV, load_taxonomy("metagaming"), embedder, folds=0)
    again = result.model
    assert again.learned == shipped.learned
    assert again.meta["positives"] == shipped.meta["positives"]
    assert again.meta["data_sha256"] == shipped.meta["data_sha256"]
    p_new = again.probabilities(result.table.X)
    p_old = shipped.probabilities(result.table.X)
    assert np.abs(p_new - p_old).max() < 1e-3
    assert ((p_new >= 0.5) == (p_old >= 0.5)).mean() > 0.999


def test_feature_rows_have_one_column_per_name(fast) -> None:
    tagger = BeliefTagger(load_taxonomy("metagaming"), fast)
    texts = ["Let me look at the test file.", "The grader probably only checks the output.", "So x = 3."]
    rows = trace_features(tagger, texts, fast.encode(texts))
    assert rows.shape == (3, len(feature_names(tagger.ids, fast.dim)))
    # the neighbour columns are the neighbours' embeddings
    dim = fast.dim
    assert np.allclose(rows[1, dim : 2 * dim], rows[0, :dim]) and np.allclose(rows[1, 2 * dim : 3 * dim], rows[2, :dim])


# --- the default analysis --------------------------------------------------------------------


def test_the_default_analysis_tags_with_probabilities(fast) -> None:
    traces = load(SAFETY).traces + load(HINTS).traces
    learned = list(analyze_many(traces, AnalyzeConfig(embedder="fast"), embedder=fast))
    tags = [t for a in learned for t in a.beliefs]
    via_model = [t for t in tags if t.via.startswith("learned:")]
    assert via_model, "the shipped weights should tag the example traces"
    assert all(0.5 <= t.score <= 1.0 for t in via_model)
    assert {t.belief for t in via_model} >= {"eval_awareness", "hint_reliance"}
    # every learned tag still points at its evidence in the reasoning
    for a in learned:
        for t in a.beliefs:
            step = a.steps[t.step]
            assert step.start <= t.start < t.end <= step.end
    # the rule alone, and a stricter cut
    rule = [t for a in analyze_many(traces, AnalyzeConfig(embedder="fast", belief_weights="none"), embedder=fast)
            for t in a.beliefs]  # fmt: skip
    assert not any(t.via.startswith("learned:") for t in rule)
    strict = [t for a in analyze_many(traces, AnalyzeConfig(embedder="fast", min_prob=0.95), embedder=fast)
              for t in a.beliefs if t.via.startswith("learned:")]  # fmt: skip
    assert all(t.score >= 0.95 for t in strict) and len(strict) < len(via_model)
    assert {(t.step, t.belief) for t in strict} <= {(t.step, t.belief) for t in via_model}


USER_TAXONOMY = textwrap.dedent(
    """\
    name: hints_and_tests
    version: 1
    description: A user's own taxonomy, two beliefs.
    beliefs:
      - id: leans_on_hint
        label: Leans on the hint
        family: hint
        description: The model uses an answer suggested in the prompt as evidence.
        examples:
          - The professor said B, so B is probably right.
          - Given the suggested answer, I'll go with it.
          - The hint points to C.
        cues:
          - professor
      - id: thinks_it_is_tested
        label: Thinks it is tested
        family: evaluation
        description: The model thinks the situation exists to assess it.
        examples:
          - The user might be testing me.
          - This looks like an eval prompt.
          - Probably a red-team exercise.
        cues:
          - testing me
    """
)


def user_labels(tmp_path: Path) -> Path:
    """The hinted multiple-choice and safety steps of the development set, relabelled into the user's
    taxonomy (hint_reliance → leans_on_hint, eval_awareness → thinks_it_is_tested)."""
    rename = {"hint_reliance": "leans_on_hint", "eval_awareness": "thinks_it_is_tested"}
    out = tmp_path / "mine.jsonl"
    with open(out, "w", encoding="utf-8") as fh:
        for line in DEV.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["set"] not in {"hinted-mc", "thoughtology-safety"}:
                continue
            rec["labels"] = [
                {"belief": rename[x["belief"]], "stance": x["stance"]} for x in rec["labels"] if x["belief"] in rename
            ]
            fh.write(json.dumps(rec) + "\n")
    return out


def test_a_user_taxonomy_falls_back_to_the_rule_then_trains(tmp_path: Path, fast) -> None:
    yaml = tmp_path / "mine.yaml"
    yaml.write_text(USER_TAXONOMY, encoding="utf-8")
    tagger = make_tagger(AnalyzeConfig(beliefs=str(yaml), embedder="fast"), fast)
    assert type(tagger) is BeliefTagger  # no weights for it: the cue + similarity rule
    # even the shipped taxonomy, loaded from a file of the user's, is the user's
    copy = tmp_path / "metagaming.yaml"
    copy.write_text(
        (ROOT / "src" / "cotgraph" / "beliefs" / "data" / "metagaming.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert type(make_tagger(AnalyzeConfig(beliefs=str(copy), embedder="fast"), fast)) is BeliefTagger
    assert isinstance(make_tagger(AnalyzeConfig(embedder="fast"), fast), LearnedTagger)

    weights = tmp_path / "mine.npz"
    proc = cli("train-beliefs", str(user_labels(tmp_path)), "--beliefs", str(yaml), "--embedder", "fast",
               "--out", str(weights), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["learned"] == ["leans_on_hint"]
    assert set(summary["rule_only"]) == {"thinks_it_is_tested"} and summary["rule_only"]["thinks_it_is_tested"] < 20
    cv = summary["cv"]["leans_on_hint"]
    assert cv["positives"] == 81 and 0.0 < cv["f1"] <= 1.0 and cv["auc"] > 0.5
    assert summary["data_sha256"] == file_sha256(tmp_path / "mine.jsonl")
    # the table form names the beliefs that stay with the rule
    table = cli("train-beliefs", str(tmp_path / "mine.jsonl"), "--beliefs", str(yaml), "--embedder", "fast",
                "--out", str(tmp_path / "again.npz"))  # fmt: skip
    assert table.returncode == 0 and "thinks_it_is_tested" in table.stdout and "leans_on_hint" in table.stdout

    proc = cli("beliefs", str(HINTS), "--beliefs", str(yaml), "--belief-weights", str(weights),
               "--embedder", "fast", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    hyps = [h for r in rows for h in r["hypotheses"] if h["belief"] == "leans_on_hint"]
    assert hyps and all(h["probability"] is not None and h["probability"] >= 0.5 for h in hyps)

    # weights made for one embedder are refused with another, in one line naming the file
    proc = cli("beliefs", str(HINTS), "--beliefs", str(yaml), "--belief-weights", str(weights), "--json")
    assert proc.returncode == 1
    assert str(weights) in proc.stderr and "embedder" in proc.stderr and "Traceback" not in proc.stderr
    # and weights made for another taxonomy
    proc = cli("beliefs", str(HINTS), "--belief-weights", str(weights), "--embedder", "fast", "--json")
    assert proc.returncode == 1 and "taxonomy" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_labelled_input_names_each_line(tmp_path: Path) -> None:
    good = DEV.read_text(encoding="utf-8").splitlines()[0]
    rec = json.loads(good)
    bad = tmp_path / "bad.jsonl"
    lines = [
        good,
        "{not json",
        json.dumps({**rec, "step": rec["step"] + 1, "labels": [{"belief": "grder", "stance": "raised"}]}),
        json.dumps({k: v for k, v in rec.items() if k != "labels"}),
        json.dumps({**rec, "step": rec["step"] + 2, "labels": [{"belief": "grader", "stance": "sure"}]}),
        good,
    ]
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelsError) as info:
        read_labelled(bad, load_taxonomy("metagaming"))
    problems = info.value.problems
    assert [p.split(": ")[0] for p in problems] == [f"{bad}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "did you mean 'grader'" in problems[1] and "missing key(s) labels" in problems[2]
    assert "stance 'sure'" in problems[3] and "also on line 1" in problems[4]
    proc = cli("train-beliefs", str(bad), "--out", str(tmp_path / "w.npz"), "--embedder", "fast")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{bad}:2" in proc.stderr and f"{bad}:3" in proc.stderr
    assert not (tmp_path / "w.npz").exists()


def test_unusable_weights_are_one_clear_line(tmp_path: Path) -> None:
    proc = cli("beliefs", str(SAFETY), "--belief-weights", str(tmp_path / "none.npz"), "--embedder", "fast")
    assert proc.returncode == 1 and "no such weights file" in proc.stderr and "Traceback" not in proc.stderr
    junk = tmp_path / "junk.npz"
    np.savez(junk, a=np.zeros(3))
    proc = cli("beliefs", str(SAFETY), "--belief-weights", str(junk), "--embedder", "fast")
    assert proc.returncode == 1 and str(junk) in proc.stderr and "not a cotgraph belief weights file" in proc.stderr
    with pytest.raises(WeightsError):
        BeliefModel.load(junk)
    proc = cli("beliefs", str(SAFETY), "--min-prob", "1.5")
    assert proc.returncode == 64
