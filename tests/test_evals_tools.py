"""cotgraph inside the evals tools: the Inspect Scout scanner and the Docent export, run against the
real packages (``cotgraph[scout]``, ``cotgraph[docent]``), on an Inspect log written by Inspect
itself and holding real reasoning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotgraph.io import load

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAFETY = SHARED / "thoughtology" / "reasoning_chains_r1" / "safety_all.json.subset.jsonl"
FIXTURE_LOG = Path(__file__).parent / "fixtures" / "inspect" / "log.json"
needs_data = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the project")


@pytest.fixture(scope="module")
def reasoning_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """An Inspect ``.eval`` log written with inspect_ai: four samples whose assistant turn carries
    the reasoning of a real DeepSeek-R1 safety trace as a ``ContentReasoning`` block, each scored."""
    from inspect_ai.log import read_eval_log, write_eval_log
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ContentReasoning, ContentText
    from inspect_ai.scorer import Score

    traces = load(SAFETY).traces[:4]
    log = read_eval_log(str(FIXTURE_LOG))
    samples = []
    for i, trace in enumerate(traces):
        sample = log.samples[0].model_copy(deep=True)
        sample.id, sample.epoch, sample.uuid = f"safety-{i}", 1, f"cotgraph-test-sample-{i}"
        sample.messages = [
            ChatMessageUser(content=trace.question or "(no question)"),
            ChatMessageAssistant(
                content=[ContentReasoning(reasoning=trace.reasoning), ContentText(text=trace.output or "")],
                model="deepseek-r1",
            ),
        ]
        sample.events = []
        sample.scores = {"refused": Score(value="C" if i % 2 == 0 else "I")}
        samples.append(sample)
    log.samples = samples
    path = tmp_path_factory.mktemp("scout") / "safety.eval"
    write_eval_log(log, str(path))
    return path, traces


@needs_data
def test_inspect_scores_are_outcomes_of_a_log_inspect_wrote(reasoning_log: tuple[Path, list]) -> None:
    path, traces = reasoning_log
    read = load(path).traces
    assert [t.reasoning for t in read] == [t.reasoning for t in traces]
    assert [t.outcomes for t in read] == [{"refused": 1.0}, {"refused": 0.0}, {"refused": 1.0}, {"refused": 0.0}]


@needs_data
def test_scout_scans_with_the_cotgraph_tagger_and_validates(reasoning_log: tuple[Path, list], tmp_path: Path) -> None:
    from inspect_scout import ValidationCase, ValidationSet, scan, scan_results_df, transcripts_from

    from cotgraph.engine import AnalyzeConfig, analyze_many
    from cotgraph.scout import cotgraph_beliefs

    path, traces = reasoning_log
    expected = {
        f"cotgraph-test-sample-{i}": {h.belief for h in a.hypotheses}
        for i, a in enumerate(analyze_many(traces, AnalyzeConfig(embedder="fast")))
    }
    assert any(expected.values()), "the test needs at least one trace with a belief"
    cases = [
        ValidationCase(id=tid, labels={"eval_awareness": "eval_awareness" in beliefs})
        for tid, beliefs in expected.items()
    ]
    wrong = next(tid for tid, beliefs in expected.items() if "eval_awareness" not in beliefs)
    cases = [c for c in cases if c.id != wrong] + [ValidationCase(id=wrong, labels={"eval_awareness": True})]
    status = scan(
        [cotgraph_beliefs(embedder="fast")],
        transcripts_from(str(path)),
        scans=str(tmp_path / "scans"),
        validation={"cotgraph_beliefs": ValidationSet(cases=cases)},
        max_processes=1,
        display="none",
    )
    assert status.complete
    frame = scan_results_df(status.location).scanners["cotgraph_beliefs"]
    assert frame["scan_error"].isna().all()
    found: dict[str, set[str]] = {}
    for row in frame.itertuples():
        if row.value_type == "boolean" and not row.value:
            continue  # Scout's own row for a label the validation expected and the scanner did not return
        if isinstance(row.label, str):
            found.setdefault(row.transcript_id, set()).add(row.label)
            # each result names the belief, its probability, the quoted evidence and the message
            assert 0.0 < float(row.value) <= 1.0
            refs = json.loads(row.message_references)
            assert refs and refs[0]["cite"] == "[M2]"  # the assistant message, second in the transcript
            assert row.explanation.startswith("[M2] step ")
    assert found == {tid: beliefs for tid, beliefs in expected.items() if beliefs}  # the same as cotgraph's own
    # Scout's validation set judged the scanner's labelled results: right where the target is
    # cotgraph's own tag, wrong on the case whose target was set against it
    summary = status.summary.scanners["cotgraph_beliefs"].validation
    valid = {entry.id: entry.valid["eval_awareness"] for entry in summary.entries}
    assert valid == {tid: tid != wrong for tid in expected}
    assert summary.metrics.fn == 1 and summary.metrics.fp == 0


@needs_data
def test_docent_export_writes_agent_runs_the_sdk_reads(cli, tmp_path: Path) -> None:
    from docent.data_models import AgentRun

    out = tmp_path / "runs.jsonl"
    done = cli("export", str(SAFETY), "--embedder", "fast", "--docent", str(out), "--outcome-field", "time")
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    traces = load(SAFETY).traces
    assert len(lines) == len(traces)
    runs = [AgentRun.model_validate_json(line) for line in lines]
    explored = 0
    for run, trace in zip(runs, traces, strict=True):
        (transcript,) = run.transcripts
        assistant = transcript.messages[-1]
        assert assistant.role == "assistant" and assistant.content[0].reasoning == trace.reasoning
        meta = run.metadata["cotgraph"]
        assert meta["trace_id"] == trace.id and run.name == trace.id
        assert meta["metrics"]["n_steps"] == len(transcript.metadata["cotgraph_steps"])
        for step in transcript.metadata["cotgraph_steps"]:  # offsets index the reasoning Docent shows
            assert 0 <= step["start"] < step["end"] <= len(trace.reasoning)
        tagged = {b["belief"] for s in transcript.metadata["cotgraph_steps"] for b in s["beliefs"]}
        assert set(meta["beliefs_explored"]) == {h["belief"] for h in meta["hypotheses"]} <= tagged
        explored += bool(meta["beliefs_explored"])
        assert run.metadata["scores"] == ({"time": trace.metadata["time"]} if "time" in trace.metadata else {})
    assert explored > 0
    # from a store, restricted by a query
    db = tmp_path / "s.duckdb"
    assert cli("analyze", str(SAFETY), "--db", str(db), "--embedder", "fast").returncode == 0
    some = tmp_path / "some.jsonl"
    done = cli("export", "--db", str(db), "--query", "explored(eval_awareness)", "--docent", str(some))
    assert done.returncode == 0, done.stderr
    chosen = [AgentRun.model_validate_json(line) for line in some.read_text(encoding="utf-8").splitlines()]
    assert chosen and all("eval_awareness" in r.metadata["cotgraph"]["beliefs_explored"] for r in chosen)
    assert cli("export", str(SAFETY)).returncode == 64  # nothing named to export
