"""The loaders on the real data sets in ``shared/data`` (counts from its README)."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from cotgraph.io import LoadOptions, LoadResult, load

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

if not DATA.is_dir():
    pytest.skip(f"shared data sets not found at {DATA}", allow_module_level=True)

TB = DATA / "thought-branches" / "faithfulness" / "good_problems"
TB_03 = TB / "Professor_itc_failure_threshold0.3.json"
TB_015 = TB / "Professor_itc_failure_threshold0.15_correct_base_no_mention.json"
TA = DATA / "thought-anchors.com" / "src" / "app" / "data"
THOUGHTOLOGY = DATA / "thoughtology" / "reasoning_chains_r1"
PMLLM = DATA / "pmllmbench-lrms-reasoning-analysis"
LOT = DATA / "landscape-of-thoughts"
SCOUT_EVAL = (
    DATA
    / "inspect_scout/examples/scanner/logs"
    / "2025-09-23T08-09-58-04-00_security-guide_LuxZJVwvymC3S3SyoJczxB.eval"
)
SCOUT_TELEMETRY = (
    DATA / "inspect_scout/examples/sources/openclaw_telemetry_hal/tests/fixtures" / "crux1-sample-telemetry.jsonl"
)
DOCENT_EVAL = DATA / "docent" / "docent" / "docent" / "samples" / "log.eval"

THOUGHTOLOGY_OPTIONS = LoadOptions(model="deepseek-r1")
ANNOTATION_TAGS = ("<DEFINE>", "</DEFINE>", "<BLOOM>", "<CYCLE>", "<FINAL>", "</FINAL>", "<r>", "<v>")

_cache: dict[tuple[str, LoadOptions | None], LoadResult] = {}


def loaded(path: Path, options: LoadOptions | None = None) -> LoadResult:
    """Each data set is read once per session (the checks below only look)."""
    key = (str(path), options)
    if key not in _cache:
        _cache[key] = load(path, options)
    return _cache[key]


def by_file(result: LoadResult) -> Counter[str]:
    return Counter(Path(t.source.path).name for t in result.traces)


# --- thought-branches ---------------------------------------------------------------------------


def test_thought_branches_03_counts_and_models() -> None:
    result = loaded(TB_03)
    assert result.skipped == []
    assert len(result.traces) == 82
    assert Counter(t.model for t in result.traces) == {
        "deepseek-reasoner": 32,
        "qwen/qwq-32b-preview": 29,
        "gemini-2.0-flash-thinking-exp-01-21": 21,
    }
    assert len({t.question for t in result.traces}) == 69


def test_thought_branches_015_counts_and_models() -> None:
    result = loaded(TB_015)
    assert result.skipped == []
    assert len(result.traces) == 71
    # The README's short names: gpt-4o 3, llama-3.3-70b 3, gemini-2.0-flash-exp 3, grok-2 2,
    # qwen-2.5-72b 2, claude-3.5-sonnet 1 (non-reasoning models).
    assert Counter(t.model for t in result.traces) == {
        "deepseek-reasoner": 24,
        "qwen/qwq-32b-preview": 18,
        "gemini-2.0-flash-thinking-exp-01-21": 15,
        "gpt-4o": 3,
        "meta-llama/llama-3.3-70b-instruct": 3,
        "gemini-2.0-flash-exp": 3,
        "x-ai/grok-2-1212": 2,
        "qwen/qwen-2.5-72b-instruct": 2,
        "claude-3-5-sonnet-20241022": 1,
    }
    assert len({t.question for t in result.traces}) == 58


def test_thought_branches_whole_folder() -> None:
    result = loaded(DATA / "thought-branches")
    assert by_file(result) == {TB_03.name: 82, TB_015.name: 71}
    assert result.skipped == []


@pytest.mark.parametrize("path", [TB_03, TB_015], ids=["0.3", "0.15"])
def test_thought_branches_think_handling(path: Path) -> None:
    """``reasoning_text`` is the thinking without tags; the output is the post-reasoning answer,
    not the thinking again; the question is the prompt with its cue."""
    records = json.loads(path.read_text(encoding="utf-8"))
    result = loaded(path)
    assert sorted(t.source.record for t in result.traces) == list(range(len(records)))
    for trace in result.traces:
        record = records[trace.source.record]
        assert trace.reasoning == record["reasoning_text"]
        assert "<think>" not in trace.reasoning and "</think>" not in trace.reasoning
        assert trace.output is not None
        assert trace.output.strip() == record["post_reasoning"].strip()
        assert trace.reasoning[:60] not in trace.output
        assert trace.question == record["question_with_cue"]  # the prompt the model saw
        assert trace.channel == "raw"
        assert not trace.truncated
        # Labels survive as metadata for later grouping.
        assert trace.metadata["cue_answer"] == record["cue_answer"]
        assert trace.metadata["answer"] == record["answer"]


# --- thought-anchors ----------------------------------------------------------------------------


def test_thought_anchors_counts_and_models() -> None:
    result = loaded(DATA / "thought-anchors.com")
    assert result.skipped == []
    assert len(result.traces) == 42
    assert Counter(t.model for t in result.traces) == {
        "deepseek-r1-distill-llama-8b": 20,
        "deepseek-r1-distill-qwen-14b": 20,
        "deepseek-r1": 1,
        "qwq-32b": 1,
    }
    # Only base_solution.json is a trace; the side files are not read as traces.
    assert {Path(t.source.path).name for t in result.traces} == {"base_solution.json"}
    for model in ("deepseek-r1-distill-llama-8b", "deepseek-r1-distill-qwen-14b"):
        conditions = Counter(t.metadata["condition"] for t in result.traces if t.model == model)
        assert conditions == {"correct_base_solution": 10, "incorrect_base_solution": 10}


def test_thought_anchors_scenario_traces() -> None:
    result = loaded(DATA / "thought-anchors.com")
    scenario = {t.model: t for t in result.traces if t.metadata.get("item") == "scenario_0"}
    assert set(scenario) == {"deepseek-r1", "qwq-32b"}
    assert scenario["deepseek-r1"].metadata["contains_blackmail"] is False
    assert scenario["qwq-32b"].metadata["contains_blackmail"] is True
    for model, trace in scenario.items():
        record = json.loads(Path(trace.source.path).read_text(encoding="utf-8"))
        think_end = record["solution"].index("</think>")
        assert trace.reasoning == record["solution"][:think_end], model
        assert "</think>" not in trace.reasoning
        assert "SummitBridge" in trace.question
        assert trace.output  # the e-mail / tool call after the thinking


def test_thought_anchors_math_traces_match_solution() -> None:
    result = loaded(DATA / "thought-anchors.com")
    math = [t for t in result.traces if t.metadata.get("item", "").startswith("problem_")]
    assert len(math) == 40
    for trace in math:
        record = json.loads(Path(trace.source.path).read_text(encoding="utf-8"))
        assert trace.question == record["prompt"]
        assert trace.reasoning.strip()
        assert record["solution"].startswith(trace.reasoning)
        assert "</think>" not in trace.reasoning
        assert trace.metadata["is_correct"] == record["is_correct"]


# --- thoughtology -------------------------------------------------------------------------------


def test_thoughtology_counts_and_annotations_stripped() -> None:
    result = loaded(DATA / "thoughtology", THOUGHTOLOGY_OPTIONS)
    assert result.skipped == []
    assert len(result.traces) == 18
    assert {t.model for t in result.traces} == {"deepseek-r1"}
    assert by_file(result) == {
        "safety_all.json.subset.jsonl": 14,
        "psycho_all.json.subset.jsonl": 1,
        "math_all.json.subset.jsonl": 3,
    }
    for trace in result.traces:
        for tag in ANNOTATION_TAGS:
            assert tag not in trace.reasoning, (trace.id, tag)
            assert tag not in (trace.output or ""), (trace.id, tag)
        assert "<think>" not in trace.reasoning and "</think>" not in trace.reasoning
        labels = trace.metadata["annotations"]
        tags = {label["tag"] for label in labels}
        assert {"DEFINE", "BLOOM"} <= tags, trace.id
        for label in labels:
            assert 0 <= label["start"] <= label["end"] <= len(trace.reasoning)
        assert trace.question


def test_thoughtology_annotation_offsets_point_at_the_tagged_text() -> None:
    """``<DEFINE> Okay, so I need … </DEFINE>``: the DEFINE label spans that sentence."""
    result = loaded(DATA / "thoughtology", THOUGHTOLOGY_OPTIONS)
    math0 = next(t for t in result.traces if t.id.endswith("math_all.json.subset.jsonl:0"))
    define = next(label for label in math0.metadata["annotations"] if label["tag"] == "DEFINE")
    assert math0.reasoning[define["start"] : define["end"]].strip().startswith("Okay, so I need to convert")


def test_thoughtology_final_tag_after_think_is_stripped_from_output() -> None:
    """In five safety records ``<FINAL>`` wraps the answer after ``</think>``: it is stripped
    from the output too, and kept as a label."""
    result = loaded(DATA / "thoughtology", THOUGHTOLOGY_OPTIONS)
    trace = next(t for t in result.traces if t.id.endswith("safety_all.json.subset.jsonl:99"))
    assert trace.output is not None
    assert trace.output.startswith("I'm sorry, but I can't assist with that request.")
    labels = trace.metadata["output_annotations"]
    assert [label["tag"] for label in labels] == ["FINAL"]
    assert labels[0]["start"] == 0 and labels[0]["end"] == len(trace.output)


def test_thoughtology_keep_annotations() -> None:
    result = loaded(DATA / "thoughtology", LoadOptions(model="deepseek-r1", keep_annotations=True))
    assert len(result.traces) == 18
    for trace in result.traces:
        assert "<DEFINE>" in trace.reasoning and "<BLOOM>" in trace.reasoning
        assert "annotations" not in trace.metadata


def test_thoughtology_ids_come_from_records() -> None:
    result = loaded(DATA / "thoughtology", THOUGHTOLOGY_OPTIONS)
    safety_ids = sorted(int(t.id.rsplit(":", 1)[1]) for t in result.traces if "safety" in t.source.path)
    assert safety_ids == [0, 1, 2, 3, 97, 98, 99, 176, 177, 178, 179, 180, 181, 182]


# --- pmllmbench ---------------------------------------------------------------------------------


def test_pmllmbench_step_lists() -> None:
    result = loaded(PMLLM / "prel" / "final_abstract_steps")
    assert result.skipped == []
    assert len(result.traces) == 552
    models = Counter(t.model for t in result.traces)
    assert len(models) == 12
    assert set(models.values()) == {46}
    assert "anthropicclaude-opus-5" in models and "gpt-oss-120b" in models
    tasks = Counter(t.metadata["task"] for t in result.traces)
    assert len(tasks) == 46 and set(tasks.values()) == {12}
    for trace in result.traces:
        steps = trace.metadata["given_steps"]
        assert steps, trace.id
        for step in steps:
            assert trace.reasoning[step["start"] : step["end"]].strip()
            assert " - " in step["label"]  # "<Reasoning Type> - <Effect>"


def test_pmllmbench_step_texts_match_the_file() -> None:
    path = PMLLM / "prel" / "final_abstract_steps" / "gpt-oss-120b_cat06_01_bias_text.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    (trace,) = load(path).traces
    with_text = [i for i in items if i.get("Text", "").strip()]
    steps = trace.metadata["given_steps"]
    assert [trace.reasoning[s["start"] : s["end"]] for s in steps] == [i["Text"] for i in with_text]
    assert [s["label"] for s in steps] == [i["Name"] for i in with_text]
    assert trace.model == "gpt-oss-120b"


def test_pmllmbench_valid_ext_skipped_with_reason() -> None:
    result = loaded(PMLLM)
    assert len(result.traces) == 552
    assert len(result.skipped) == 552
    for skipped in result.skipped:
        assert Path(skipped.path).parent.name == "valid_ext"
        assert "short labels" in skipped.reason and "not reasoning" in skipped.reason


# --- landscape-of-thoughts ----------------------------------------------------------------------


def test_landscape_of_thoughts() -> None:
    result = loaded(LOT)
    assert len(result.traces) == 50
    assert Counter(Path(t.source.path).name for t in result.traces) == {
        f"Meta-Llama-3-8B-Instruct-Lite--cot--dummy--{i}.json": 10 for i in range(5)
    }
    assert {t.model for t in result.traces} == {"meta-llama/Meta-Llama-3-8B-Instruct-Lite"}
    for trace in result.traces:
        assert trace.question
        assert trace.metadata["given_steps"]
        assert isinstance(trace.metadata["trial_correct"], bool)
    dummy = [s for s in result.skipped if Path(s.path).name == "dummy.jsonl"]
    assert sorted(s.record for s in dummy) == [0, 1, 2, 3, 4]
    assert len(result.skipped) == 5
    for skipped in dummy:
        assert "no reasoning text" in skipped.reason and "rationale" in skipped.reason


def test_landscape_trials_match_the_file() -> None:
    path = LOT / "demo_data/dummy/thoughts/Meta-Llama-3-8B-Instruct-Lite--cot--dummy--2.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    traces = load(path).traces
    assert [t.source.part for t in traces] == [f"trial{i}" for i in range(10)]
    for trace, trial in zip(traces, record["trial_thoughts"], strict=True):
        steps = trace.metadata["given_steps"]
        assert [trace.reasoning[s["start"] : s["end"]] for s in steps] == trial[0]
        assert trace.metadata["trial_answer"] == trial[1]
        assert trace.metadata["trial_correct"] == trial[2]


# --- inspect_scout and docent -------------------------------------------------------------------


def test_inspect_scout_eval_samples_all_skipped() -> None:
    result = loaded(SCOUT_EVAL)
    assert result.traces == []
    assert len(result.skipped) == 16
    assert sorted(s.record for s in result.skipped) == list(range(16))
    with zipfile.ZipFile(SCOUT_EVAL) as archive:
        sample_ids = {json.loads(archive.read(n))["id"] for n in archive.namelist() if n.startswith("samples/")}
    named = set()
    for skipped in result.skipped:
        assert skipped.path == str(SCOUT_EVAL)
        assert "no reasoning" in skipped.reason or "has reasoning" in skipped.reason
        assert skipped.reason.startswith("sample ")
        named.add(int(skipped.reason.split()[1]))
    assert named == sample_ids


def test_inspect_scout_telemetry_thinking_blocks() -> None:
    result = loaded(SCOUT_TELEMETRY)
    assert len(result.traces) == 3
    assert {t.model for t in result.traces} == {"claude-opus-4-6"}
    lines = SCOUT_TELEMETRY.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    thinking = [
        block["thinking"]
        for event in events
        for message in event.get("messages", [])
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "thinking"
    ]
    assert sorted(t.reasoning for t in result.traces) == sorted(thinking)
    for trace in result.traces:
        assert trace.channel == "raw"
        assert trace.parts and trace.parts[0].kind == "thinking"
        assert trace.question


def test_inspect_scout_whole_folder() -> None:
    result = loaded(DATA / "inspect_scout")
    assert len(result.traces) == 3
    eval_skips = [s for s in result.skipped if s.path.endswith(".eval")]
    assert len(eval_skips) == 16


def test_docent_eval_samples_all_skipped() -> None:
    result = loaded(DATA / "docent")
    assert result.traces == []
    assert len(result.skipped) == 15
    for skipped in result.skipped:
        assert skipped.path == str(DOCENT_EVAL)
        assert skipped.record is not None
        assert "assistant messages" in skipped.reason and "sample " in skipped.reason


# --- every record accounted for, ids, sources ---------------------------------------------------

DATA_SETS = [
    ("thought-branches", None),
    ("thought-anchors.com", None),
    ("thoughtology", THOUGHTOLOGY_OPTIONS),
    ("pmllmbench-lrms-reasoning-analysis", None),
    ("landscape-of-thoughts", None),
    ("inspect_scout", None),
    ("docent", None),
]


def _record_count(path: Path) -> int | None:
    """Records in a file as the data README counts them; ``None`` for a one-record file."""
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if path.suffix == ".eval":
        with zipfile.ZipFile(path) as archive:
            return sum(1 for n in archive.namelist() if n.startswith("samples/"))
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, list) and document and all(isinstance(r, dict) for r in document):
        if all(set(r) <= {"Name", "Text"} for r in document):
            return None  # one pre-segmented trace
        return len(document)
    return None


@pytest.mark.parametrize(("name", "options"), DATA_SETS, ids=[n for n, _ in DATA_SETS])
def test_every_record_accounted_for(name: str, options: LoadOptions | None) -> None:
    result = loaded(DATA / name, options)
    traced: dict[str, set[int | None]] = {}
    for trace in result.traces:
        traced.setdefault(trace.source.path, set()).add(trace.source.record)
    skipped: dict[str, set[int | None]] = {}
    for item in result.skipped:
        skipped.setdefault(item.path, set()).add(item.record)
    files = set(traced) | set(skipped)
    assert files
    for path in files:
        expected = _record_count(Path(path))
        both = traced.get(path, set()) & skipped.get(path, set())
        assert not both, f"{path}: records both traced and skipped: {both}"
        seen = traced.get(path, set()) | skipped.get(path, set())
        if expected is None:
            assert seen == {None}, path
        else:
            assert seen == set(range(expected)), path


@pytest.mark.parametrize(("name", "options"), DATA_SETS, ids=[n for n, _ in DATA_SETS])
def test_ids_unique_and_stable(name: str, options: LoadOptions | None) -> None:
    first = loaded(DATA / name, options)
    second = load(DATA / name, options)
    ids = [t.id for t in first.traces]
    assert len(ids) == len(set(ids))
    assert ids == [t.id for t in second.traces]
    assert [(s.path, s.record, s.reason) for s in first.skipped] == [
        (s.path, s.record, s.reason) for s in second.skipped
    ]


@pytest.mark.parametrize(("name", "options"), DATA_SETS, ids=[n for n, _ in DATA_SETS])
def test_sources_and_questions(name: str, options: LoadOptions | None) -> None:
    result = loaded(DATA / name, options)
    for trace in result.traces:
        assert Path(trace.source.path).is_file()
        assert Path(trace.source.path).is_relative_to(DATA / name)
        assert trace.reasoning.strip(), trace.id
        if name == "pmllmbench-lrms-reasoning-analysis":
            assert trace.question is None  # the prompts were not copied (GPL-3.0)
        else:
            assert trace.question and trace.question.strip(), trace.id
        assert trace.model, trace.id
        for part in trace.parts:
            assert 0 <= part.start <= part.end <= len(trace.reasoning)
    for item in result.skipped:
        assert item.reason.strip()
        assert Path(item.path).is_relative_to(DATA / name)
