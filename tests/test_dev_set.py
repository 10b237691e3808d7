"""The hand-labelled belief development set stays aligned with cotgraph's own steps: a change to
the loaders or the segmenter that moved a labelled step would silently void the labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotgraph.io import LoadOptions, load
from cotgraph.segment import segment

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DEV = ROOT / "benchmarks" / "data" / "beliefs_dev.jsonl"
HINTS = ROOT / "benchmarks" / "data" / "hint_traces.jsonl"
BELIEFS = {
    "eval_awareness", "eval_purpose", "grader", "reward", "oversight", "training_gaming", "past_feedback",
    "deployment_consequence", "developer_intent", "sandbagging", "reward_hack", "eval_norms", "hint_reliance",
    "request_purpose", "real_deployment",
}  # fmt: skip

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the project")


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_every_labelled_step_is_still_a_cotgraph_step() -> None:
    rows = records(DEV)
    assert len(rows) >= 300
    steps_by_trace: dict[str, list] = {}
    for path in sorted({r["path"] for r in rows}):
        options = LoadOptions(model="deepseek-r1") if path.startswith("thoughtology") else LoadOptions()
        for trace in load(DATA / path, options).traces:
            steps_by_trace[trace.id] = segment(trace)
    for row in rows:
        steps = steps_by_trace[row["trace_id"]]
        step = steps[row["step"]]
        assert (step.start, step.end, step.text) == (row["start"], row["end"], row["text"]), row["trace_id"]
        for label in row["labels"]:
            assert label["belief"] in BELIEFS
            assert label["stance"] in {"raised", "entertained", "endorsed", "rejected"}


def test_the_set_covers_what_the_issue_asks_for() -> None:
    rows = records(DEV)
    sets = {r["set"] for r in rows}
    assert sets == {"thoughtology-safety", "blackmail", "hinted-mc", "math"}
    labelled = [label["belief"] for r in rows for label in r["labels"]]
    assert labelled.count("eval_awareness") >= 5 and labelled.count("hint_reliance") >= 50
    assert not any(r["labels"] for r in rows if r["set"] == "math")  # the negatives
    hints = records(HINTS)
    assert len(hints) == 153
    assert all(h["verbalises_hint"] == bool(h["steps"]) for h in hints)
