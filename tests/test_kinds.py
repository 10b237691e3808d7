"""The learned step-kind classifier: its labelled data, its shipped weights (retraining reproduces
them), how the pipeline uses it, bad input, and corpus-wide states."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cotgraph.cli import app
from cotgraph.embed import get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.graph import GraphConfig
from cotgraph.io import load
from cotgraph.kinds import (
    STEP_KINDS,
    KindLabelsError,
    KindModel,
    KindWeightsError,
    kind_table,
    labelled_traces,
    read_kind_labels,
    shipped_weights_path,
    step_kind,
    training_traces,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DEV = ROOT / "benchmarks" / "data" / "structure_dev.jsonl"
ANCHORS = DATA / "thought-anchors.com" / "src" / "app" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")
runner = CliRunner()


@needs_data
def test_labelled_set_matches_the_segmentation_and_covers_the_sources() -> None:
    """Every label names the step cotgraph makes there (labelled_traces refuses any other), at
    least 600 steps from sources other than Thought Anchors, at least 100 per source."""
    traces = labelled_traces(DEV, DATA, ROOT)
    labelled = [(t.source, k) for t in traces for k in t.kinds if k is not None]
    assert len(labelled) >= 600
    per_source: dict[str, int] = {}
    for source, _ in labelled:
        per_source[source] = per_source.get(source, 0) + 1
    assert len(per_source) >= 6 and min(per_source.values()) >= 100
    assert {k for _, k in labelled} == set(STEP_KINDS)
    for trace in traces:  # every step of a chosen trace is labelled
        assert all(k is not None for k in trace.kinds), trace.trace_id
        for i, target in enumerate(trace.targets):
            assert target is None or (0 <= target < i and trace.kinds[i] in ("verify", "backtrack"))


@needs_data
@pytest.mark.parametrize("embedder", ["fast", "default"])
def test_retraining_reproduces_the_shipped_weights(embedder: str, tmp_path: Path) -> None:
    """The command recorded in the shipped file, run again, gives the same data hash, classes,
    predicted kind on every labelled step, and probabilities within 1e-3 (as the belief weights'
    test). Not bit for bit: the embeddings differ in their last bits from one CPU to another
    (torch's and model2vec's kernels follow the instruction set), and a regression on 5,000 rows
    moves its coefficients by ~1e-4 with them; retrained on the machine that made the shipped
    file the probabilities agree to 1e-6."""
    model = get_embedder(embedder)
    shipped = KindModel.load(shipped_weights_path(model.name))
    assert shipped.meta["command"].startswith("cotgraph train-kinds benchmarks/data/structure_dev.jsonl")
    out = tmp_path / "kinds.npz"
    result = runner.invoke(
        app,
        [
            "train-kinds",
            str(DEV),
            "--data",
            str(DATA),
            "--thought-anchors",
            str(ANCHORS),
            "--embedder",
            embedder,
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    again = KindModel.load(out)
    assert again.meta["data_sha256"] == shipped.meta["data_sha256"]
    assert again.classes == shipped.classes and again.embedder == shipped.embedder
    traces, _ = training_traces(DEV, DATA, thought_anchors=ANCHORS, root=ROOT)
    table, _ = kind_table(traces, model)
    retrained, packaged = again.probabilities(table.X), shipped.probabilities(table.X)
    np.testing.assert_allclose(retrained, packaged, atol=1e-3)
    assert (retrained.argmax(axis=1) == packaged.argmax(axis=1)).all()


@needs_data
def test_pipeline_uses_the_learned_kinds_by_default() -> None:
    """``auto`` gives the classifier's kinds (the graph is built from them); ``none`` the rule's."""
    traces = load(DATA / "thoughtology" / "reasoning_chains_r1" / "math_all.json.subset.jsonl").traces[:2]
    embedder = get_embedder("fast")
    learned = list(analyze_many(traces, AnalyzeConfig(embedder="fast"), embedder=embedder))
    rule = list(analyze_many(traces, AnalyzeConfig(embedder="fast", kind_weights="none"), embedder=embedder))
    model = KindModel.load(shipped_weights_path(embedder.name))
    differ = 0
    for a, b in zip(learned, rule, strict=True):
        kinds = [s.kind for s in a.steps]
        assert kinds == model.kinds(a.steps, a.embeddings)
        assert [s.kind for s in b.steps] == [step_kind(s) for s in b.steps]
        assert [a.graph.nodes[i]["kind"] for i in range(len(a.steps))] == kinds
        differ += sum(x != y for x, y in zip(kinds, (s.kind for s in b.steps), strict=True))
    assert differ > 0


def write_lines(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_bad_labels_name_every_line(tmp_path: Path) -> None:
    good = {"set": "s", "path": "p.json", "trace_id": "t", "step": 2, "text": "Wait.", "kind": "backtrack"}
    path = write_lines(
        tmp_path / "bad.jsonl",
        [
            good,
            "{not json",
            {**good, "step": 3, "kind": "backtrak"},
            {**good, "step": 4, "target": 4},
            {**good},
            {k: v for k, v in good.items() if k != "kind"},
            [1, 2],
        ],
    )
    with pytest.raises(KindLabelsError) as info:
        read_kind_labels(path)
    problems = info.value.problems
    assert len(problems) == 6
    assert problems[0].startswith(f"{path}:2: not JSON")
    assert "'backtrak' is not one of" in problems[1] and "did you mean 'backtrack'" in problems[1]
    assert problems[2].startswith(f"{path}:4: target must be the index of an earlier step")
    assert problems[3] == f"{path}:5: step 2 of trace 't' is also on line 1"
    assert problems[4] == f"{path}:6: missing key(s) kind"
    assert problems[5] == f"{path}:7: expected a JSON object, got list"


@needs_data
def test_train_kinds_cli_reports_a_label_that_is_not_the_step(tmp_path: Path) -> None:
    line = json.loads(DEV.read_text(encoding="utf-8").splitlines()[0])
    bad = write_lines(tmp_path / "bad.jsonl", [{**line, "text": line["text"] + " (edited)"}])
    result = runner.invoke(
        app, ["train-kinds", str(bad), "--data", str(DATA), "--embedder", "fast", "--out", str(tmp_path / "w.npz")]
    )
    assert result.exit_code == 1
    assert f"{bad}:1: step {line['step']} of {line['trace_id']!r} is not the labelled text" in result.output
    assert not (tmp_path / "w.npz").exists()


@needs_data
def test_train_kinds_on_own_labels_and_use_them(tmp_path: Path) -> None:
    """A user's labels alone (no Thought Anchors): the weights load, and --kind-weights uses them."""
    lines = [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines()]
    own = write_lines(tmp_path / "own.jsonl", [r for r in lines if r["set"] in ("math-r1", "tb-r1", "agent-v4flash")])
    out = tmp_path / "mine.npz"
    result = runner.invoke(
        app, ["train-kinds", str(own), "--data", str(DATA), "--embedder", "fast", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["sources"] == ["agent-v4flash", "math-r1", "tb-r1"]
    assert summary["class_counts"]["verify"] == 14 + 19 + 41
    trace = DATA / "thoughtology" / "reasoning_chains_r1" / "math_all.json.subset.jsonl"
    result = runner.invoke(app, ["metrics", str(trace), "--embedder", "fast", "--kind-weights", str(out), "--json"])
    assert result.exit_code == 0, result.output
    # weights made for the fast embedder are refused for the default one, in one line
    result = runner.invoke(app, ["metrics", str(trace), "--kind-weights", str(out)])
    assert result.exit_code == 1
    assert "made for embedder 'all-MiniLM-L6-v2-static-pca256'" in result.output


def test_bad_weights_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an npz")
    with pytest.raises(KindWeightsError, match="not a cotgraph step-kind weights file"):
        KindModel.load(junk)
    with pytest.raises(KindWeightsError, match="no such weights file"):
        KindModel.load(tmp_path / "missing.npz")
    belief = ROOT / "src" / "cotgraph" / "beliefs" / "data" / "metagaming.fast.npz"
    shutil.copy(belief, tmp_path / "belief.npz")
    with pytest.raises(KindWeightsError, match="format 'cotgraph-belief-weights'"):
        KindModel.load(tmp_path / "belief.npz")


@needs_data
def test_corpus_states_are_shared_across_traces() -> None:
    """With ``states="corpus"`` every trace's states are indices of one set of corpus centroids:
    steps of different traces that are the same text share a state, and each step's state is its
    nearest centroid."""
    traces = load(DATA / "thought-branches").traces[:12]
    embedder = get_embedder("fast")
    config = AnalyzeConfig(embedder="fast", graph=GraphConfig(states="corpus"))
    analyses = list(analyze_many(traces, config, embedder=embedder))
    state_of: dict[str, set[int]] = {}
    for a in analyses:
        for step in a.steps:
            state_of.setdefault(step.text, set()).add(a.graph.nodes[step.idx]["state"])
    assert all(len(states) == 1 for states in state_of.values())
    total = sum(len(a.steps) for a in analyses)
    used = {s for states in state_of.values() for s in states}
    assert 1 < len(used) <= int(np.ceil(np.sqrt(total / 2)))
    per_trace = list(analyze_many(traces, AnalyzeConfig(embedder="fast"), embedder=embedder))
    assert [a.metrics["n_states"] for a in per_trace] != [a.metrics["n_states"] for a in analyses]
