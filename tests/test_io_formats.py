"""Every input format no shared data set covers, on hand-written fixtures (``tests/fixtures``)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cotgraph.io import LoadOptions, LoadResult, detect_format, load
from cotgraph.model import Trace


def only_trace(result: LoadResult) -> Trace:
    assert result.skipped == [], result.skipped
    assert len(result.traces) == 1, [t.id for t in result.traces]
    return result.traces[0]


def check_parts(trace: Trace) -> None:
    for part in trace.parts:
        assert 0 <= part.start <= part.end <= len(trace.reasoning)


# --- plain text and Markdown --------------------------------------------------------------------


def test_text_with_closed_think(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "text" / "think_closed.txt"))
    assert trace.reasoning.strip().startswith("Okay, the user wants 17 + 25.")
    assert trace.reasoning.strip().endswith("25 + 17 = 42. Yes.")
    assert "<think>" not in trace.reasoning and "</think>" not in trace.reasoning
    assert trace.output == "17 + 25 = 42."
    assert not trace.truncated
    assert trace.source.record is None
    assert trace.source.path == str(fixtures / "text" / "think_closed.txt")
    assert [(p.start, p.end) for p in trace.parts] == [(0, len(trace.reasoning))]


def test_markdown_with_think_takes_question_from_prefix(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "text" / "think_closed.md"))
    assert detect_format(fixtures / "text" / "think_closed.md") == "text"
    assert trace.question == "# Question\n\nWhat is 7 × 6?"
    assert "Seven sixes" in trace.reasoning and "Alternatively" in trace.reasoning
    assert "<think>" not in trace.reasoning
    assert trace.output == "**Answer:** 42"


def test_text_with_truncated_think(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "text" / "think_truncated.txt"))
    assert trace.truncated is True
    assert trace.output is None
    assert trace.reasoning.rstrip().endswith("should I also check whether")
    assert "<think>" not in trace.reasoning


def test_text_with_prefilled_think(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "text" / "think_prefilled.txt"))
    assert trace.reasoning.startswith("The prompt template already opened the think block")
    assert "</think>" not in trace.reasoning
    assert trace.output == "12 / 4 = 3."
    assert trace.truncated is False
    assert trace.metadata.get("think_prefilled") is True


def test_text_without_tags_is_all_reasoning(fixtures: Path) -> None:
    path = fixtures / "text" / "no_tags.txt"
    trace = only_trace(load(path))
    assert trace.reasoning == path.read_text(encoding="utf-8")
    assert trace.output is None
    assert trace.truncated is False


def test_text_model_option(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "text" / "no_tags.txt", LoadOptions(model="my-model")))
    assert trace.model == "my-model"


# --- gpt-oss Harmony ----------------------------------------------------------------------------

HARMONY_ANALYSIS = [
    "The user asks for the weather in Tokyo. I should call the weather tool.",
    "The tool says 20 degrees and clear. Convert: 20 °C is 68 °F. Compose a short answer.",
]


def _check_harmony(trace: Trace) -> None:
    assert [p.kind for p in trace.parts] == ["analysis", "analysis"]
    assert [trace.reasoning[p.start : p.end] for p in trace.parts] == HARMONY_ANALYSIS
    assert trace.output == "It is 20 °C (68 °F) and clear in Tokyo."
    # The tool call, the tool result and the preamble are commentary, not reasoning.
    assert "Let me look that up" not in trace.reasoning
    assert 'Tokyo"}' not in trace.reasoning
    assert "<|" not in trace.reasoning
    assert trace.metadata["harmony_commentary_messages"] == 3
    assert trace.truncated is False


def test_harmony_text_file(fixtures: Path) -> None:
    _check_harmony(only_trace(load(fixtures / "text" / "harmony.txt")))


def test_harmony_in_jsonl_record(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "records" / "harmony.jsonl"))
    _check_harmony(trace)
    assert trace.model == "openai/gpt-oss-120b"
    assert trace.question == "What is the weather in Tokyo?"
    assert trace.id.endswith(":h-1")


def test_harmony_truncated_without_final(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_text(
        "<|start|>assistant<|channel|>analysis<|message|>First idea.<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Second idea, cut off mid",
        encoding="utf-8",
    )
    trace = only_trace(load(path))
    assert [trace.reasoning[p.start : p.end] for p in trace.parts] == [
        "First idea.",
        "Second idea, cut off mid",
    ]
    assert trace.truncated is True
    assert trace.output is None


# --- OpenThoughts -------------------------------------------------------------------------------


def _check_openthoughts(trace: Trace) -> None:
    assert trace.reasoning.strip().startswith("Okay, so I need to find the sum")
    assert trace.reasoning.strip().endswith("five pairs of 11 = 55.")
    assert "<|" not in trace.reasoning
    assert trace.output == "The sum is \\boxed{55}."
    assert trace.truncated is False


def test_openthoughts_text_file(fixtures: Path) -> None:
    _check_openthoughts(only_trace(load(fixtures / "text" / "openthoughts.txt")))


def test_openthoughts_records(fixtures: Path) -> None:
    """OpenThoughts-114k rows (``system`` + ShareGPT ``conversations``) and a flat ``text``."""
    result = load(fixtures / "records" / "openthoughts.jsonl")
    assert result.skipped == []
    assert [t.source.record for t in result.traces] == [0, 1]
    conv, flat = result.traces
    _check_openthoughts(conv)
    _check_openthoughts(flat)
    assert conv.question is not None and conv.question.endswith("What is 1 + 2 + ... + 10?")
    assert flat.id.endswith(":ot-flat")


# --- JSONL field names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "reasoning", "output", "model", "question"),
    [
        (0, "reasoning", "Two plus two. Count: 3, 4. So 4.", "4", "model-a", "What is 2 + 2?"),
        (1, "reasoning_content", "Three and three make six.", "6", "model-b", "What is 3 + 3?"),
        (2, "reasoning_text", "Four doubled is eight.", "8", "model-c", "What is 4 + 4?"),
        (3, "thinking", "Five and five: ten.", "10", "model-d", "What is 5 + 5?"),
        (4, "cot", "Six plus six is twelve.", "12", "model-e", "What is 6 + 6?"),
    ],
)
def test_jsonl_usual_field_names(
    fixtures: Path,
    record: int,
    field: str,
    reasoning: str,
    output: str,
    model: str,
    question: str,
) -> None:
    result = load(fixtures / "records" / "field_names.jsonl")
    assert result.skipped == []
    trace = next(t for t in result.traces if t.source.record == record)
    assert trace.id.endswith(f":f-{field}")
    assert trace.reasoning == reasoning
    assert trace.output == output
    assert trace.model == model
    assert trace.question == question
    # The reasoning field is not repeated as metadata.
    assert field not in trace.metadata


def test_jsonl_full_text_with_think(fixtures: Path) -> None:
    result = load(fixtures / "records" / "field_names.jsonl")
    trace = next(t for t in result.traces if t.source.record == 5)
    assert trace.reasoning.strip() == "Seven plus seven is fourteen."
    assert trace.output == "The answer is 14."
    assert trace.question == "user: What is 7 + 7?"
    assert trace.model == "model-f"
    assert len(result.traces) == 6


def test_s1k_record_gives_one_trace_per_model(fixtures: Path) -> None:
    result = load(fixtures / "records" / "s1k.jsonl")
    assert result.skipped == []
    traces = {t.model: t for t in result.traces}
    assert set(traces) == {"gemini", "deepseek"}
    record = json.loads((fixtures / "records" / "s1k.jsonl").read_text(encoding="utf-8"))
    for name, trace in traces.items():
        assert trace.reasoning == record[f"{name}_thinking_trajectory"]
        assert trace.output == record[f"{name}_attempt"]
        assert trace.question == record["question"]
        assert trace.source.record == 0
        assert trace.source.part == name
        assert f"{name}_attempt" not in trace.metadata
    assert traces["gemini"].id != traces["deepseek"].id


def test_dotted_field_options(fixtures: Path) -> None:
    options = LoadOptions(
        text_field="gen.choices.0.think",
        model_field="meta.generator.name",
        id_field="meta.uid",
        question_field="prompt_data.text",
    )
    result = load(fixtures / "records" / "nested.jsonl", options)
    traces = {t.source.record: t for t in result.traces}
    assert set(traces) == {0, 1}
    first, second = traces[0], traces[1]
    assert first.reasoning == "51 = 3 × 17, so no."
    assert first.id == "n-1"  # named by id_field: kept as given
    assert first.model == "qwen3-8b"
    assert first.question == "Is 51 prime?"
    # A named field that holds <think> markup is split like any other.
    assert second.reasoning.strip() == "Check 2, 3, 5, 7: none divide 53."
    assert second.output == "Yes, 53 is prime."
    assert second.id == "n-2"
    skipped = {s.record: s.reason for s in result.skipped}
    assert set(skipped) == {2, 3}
    assert "meta.uid" in skipped[2]
    assert "gen.choices.0.think" in skipped[3]


def test_dotted_field_without_options_reports_fields(fixtures: Path) -> None:
    result = load(fixtures / "records" / "nested.jsonl")
    assert result.traces == []
    assert len(result.skipped) == 4
    for skipped in result.skipped:
        assert "meta" in skipped.reason and "gen" in skipped.reason
        assert "--text-field" in skipped.reason


# --- provider responses -------------------------------------------------------------------------


def test_openai_responses_summary_and_encrypted(fixtures: Path) -> None:
    result = load(fixtures / "providers" / "openai_responses.jsonl")
    trace = result.traces[0]
    assert len(result.traces) == 1
    assert trace.channel == "summary"
    assert [p.kind for p in trace.parts] == ["summary", "summary"]
    assert trace.reasoning[trace.parts[0].start : trace.parts[0].end].startswith("**Estimating the total**")
    assert trace.reasoning[trace.parts[1].start : trace.parts[1].end].endswith("so the answer is 12.")
    assert "gAAAA" not in trace.reasoning
    assert trace.output == "15% of 80 is 12."
    assert trace.model == "o4-mini-2025-04-16"
    assert trace.source.record == 0
    (skipped,) = result.skipped
    assert skipped.record == 1
    assert "encrypted" in skipped.reason


def test_openai_chat_completions_reasoning_tokens_only(fixtures: Path) -> None:
    path = fixtures / "providers" / "openai_chat_completions.json"
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert "reasoning token count" in skipped.reason and "192" in skipped.reason
    assert "not the reasoning text" in skipped.reason


def test_deepseek_reasoning_content(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "providers" / "deepseek_chat.json"))
    assert trace.reasoning.startswith("Okay, compare 9.11 and 9.8.")
    assert trace.output == "9.11 is smaller than 9.8."
    assert trace.model == "deepseek-reasoner"
    assert trace.channel == "raw"


def test_openrouter_reasoning_and_details(fixtures: Path) -> None:
    result = load(fixtures / "providers" / "openrouter.jsonl")
    traces = {t.source.record: t for t in result.traces}
    assert set(traces) == {0, 1, 2}

    plain = traces[0]
    assert plain.reasoning.startswith("s-t-r-a-w-b-e-r-r-y.")
    assert plain.output == "There are 3 r's in strawberry."
    assert plain.model == "deepseek/deepseek-r1"

    text = traces[1]  # `reasoning` repeats the reasoning.text detail: read once, not twice
    assert text.reasoning == "12 squared: 12 × 12 = 144."
    assert len(text.parts) == 1
    assert text.channel == "raw"

    summary = traces[2]
    assert summary.channel == "summary"
    assert summary.reasoning.count("Choosing a data structure") == 1
    assert summary.redacted_blocks == 1
    assert "gAAAA" not in summary.reasoning
    assert summary.output == "Use a hash map."

    (skipped,) = result.skipped
    assert skipped.record == 3
    assert "encrypted" in skipped.reason or "redacted" in skipped.reason


def _anthropic(fixtures: Path) -> LoadResult:
    return load(fixtures / "providers" / "anthropic_messages.jsonl")


def test_anthropic_thinking_and_text(fixtures: Path) -> None:
    trace = next(t for t in _anthropic(fixtures).traces if t.source.record == 0)
    assert trace.reasoning == "The user asks for 23 × 17. 20 × 17 = 340, 3 × 17 = 51, total 391."
    assert trace.output == "23 × 17 = 391."
    assert trace.model == "claude-sonnet-4-5-20250929"
    assert trace.id.endswith(":msg_01ThinkingAndText")
    assert trace.redacted_blocks == 0


def test_anthropic_thinking_interleaved_with_tool_use(fixtures: Path) -> None:
    trace = next(t for t in _anthropic(fixtures).traces if t.source.record == 1)
    assert [trace.reasoning[p.start : p.end] for p in trace.parts] == [
        "I need today's exchange rate before converting. Let me search.",
        "The search says 1 EUR = 1.10 USD, so 200 EUR is 220 USD.",
    ]
    assert [p.kind for p in trace.parts] == ["thinking", "thinking"]
    assert trace.parts[0].end < trace.parts[1].start
    assert "web_search" not in trace.reasoning
    assert trace.output == "200 EUR is about 220 USD at today's rate."


def test_anthropic_redacted_thinking_counted(fixtures: Path) -> None:
    trace = next(t for t in _anthropic(fixtures).traces if t.source.record == 2)
    assert trace.reasoning == "Let me analyze this step by step. The request is benign."
    assert trace.redacted_blocks == 1
    assert "EmwKAhgB" not in trace.reasoning
    assert trace.output == "Here is the answer."


def test_anthropic_only_redacted_thinking_is_skipped(fixtures: Path) -> None:
    result = _anthropic(fixtures)
    (skipped,) = result.skipped
    assert skipped.record == 3
    assert "redacted" in skipped.reason
    assert skipped.path == str(fixtures / "providers" / "anthropic_messages.jsonl")


def test_anthropic_tool_loop_transcript(fixtures: Path) -> None:
    """A ``messages`` transcript: one trace per assistant turn that thought."""
    turns = sorted((t for t in _anthropic(fixtures).traces if t.source.record == 4), key=lambda t: t.source.part)
    assert [t.source.part for t in turns] == ["turn1", "turn2"]
    assert turns[0].reasoning == "I should call the weather tool for Paris."
    assert turns[0].question == "What's the weather in Paris?"
    assert turns[1].reasoning == "The tool returned 18 °C and cloudy. Report it."
    assert turns[1].output == "It's 18 °C and cloudy in Paris."
    assert {t.model for t in turns} == {"claude-opus-4-1-20250805"}
    assert turns[0].id != turns[1].id
    assert len(_anthropic(fixtures).traces) == 5


def test_gemini_thought_parts_are_summaries(fixtures: Path) -> None:
    trace = only_trace(load(fixtures / "providers" / "gemini_generate_content.json"))
    assert trace.channel == "summary"
    assert trace.reasoning.startswith("**Analyzing the request**")
    assert "212 °F" in trace.reasoning
    assert trace.output == "Water boils at 212 °F at sea level."
    assert [p.kind for p in trace.parts] == ["thought"]
    assert trace.model == "gemini-2.5-flash"


# --- tables and compression ---------------------------------------------------------------------

TABLE_ROWS = [
    {
        "id": "row-0",
        "model": "qwen3-32b",
        "question": "What is 9 × 9?",
        "full_text": "<think>\n9 × 9 = 81. Check: 80 + 1.\n</think>\n\n81",
    },
    {
        "id": "row-1",
        "model": "qwen3-32b",
        "question": "What is 8 × 8?",
        "full_text": "<think>\n8 × 8 = 64.",
    },
    {"id": "row-2", "model": "qwen3-32b", "question": "What is 7 × 7?", "full_text": ""},
]


def _check_table(result: LoadResult, path: Path) -> None:
    traces = {t.source.record: t for t in result.traces}
    assert set(traces) == {0, 1}
    assert traces[0].reasoning.strip() == "9 × 9 = 81. Check: 80 + 1."
    assert traces[0].output == "81"
    assert traces[0].id == f"{path.name}:row-0"
    assert traces[0].question == "What is 9 × 9?"
    assert traces[1].truncated is True
    (skipped,) = result.skipped
    assert skipped.record == 2 and skipped.path == str(path)
    assert "full_text" in skipped.reason


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "traces.parquet"
    pq.write_table(pa.Table.from_pylist(TABLE_ROWS), path)
    assert detect_format(path) == "parquet"
    _check_table(load(path), path)


def test_parquet_detected_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "traces.bin"
    pq.write_table(pa.Table.from_pylist(TABLE_ROWS), path)
    assert detect_format(path) == "parquet"
    assert len(load(path).traces) == 2


def test_parquet_nested_messages_column(tmp_path: Path) -> None:
    path = tmp_path / "chat.parquet"
    rows = [
        {
            "model": "deepseek-r1",
            "messages": [
                {"role": "user", "content": "Is 2 prime?"},
                {"role": "assistant", "content": "<think>\n2 has divisors 1 and 2.\n</think>\n\nYes."},
            ],
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    trace = only_trace(load(path))
    assert trace.reasoning.strip() == "2 has divisors 1 and 2."
    assert trace.output == "Yes."
    assert trace.question == "Is 2 prime?"
    assert trace.model == "deepseek-r1"


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "traces.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(TABLE_ROWS[0]))
        writer.writeheader()
        writer.writerows(TABLE_ROWS)
    assert detect_format(path) == "csv"
    _check_table(load(path), path)


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "traces.tsv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(TABLE_ROWS[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(TABLE_ROWS)
    _check_table(load(path), path)


def test_jsonl_gz(tmp_path: Path, fixtures: Path) -> None:
    source = fixtures / "records" / "field_names.jsonl"
    path = tmp_path / "field_names.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(source.read_bytes())
    assert detect_format(path) == "jsonl"
    plain, packed = load(source), load(path)
    assert packed.skipped == []
    assert [t.reasoning for t in packed.traces] == [t.reasoning for t in plain.traces]
    assert [t.source.record for t in packed.traces] == list(range(6))
    assert {t.source.path for t in packed.traces} == {str(path)}


def test_json_array_of_records(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text(
        json.dumps(
            [
                {"id": 1, "reasoning_content": "First.", "model": "m"},
                {"id": 2, "reasoning_content": "Second.", "model": "m"},
            ]
        ),
        encoding="utf-8",
    )
    result = load(path)
    assert [t.source.record for t in result.traces] == [0, 1]
    assert [t.id for t in result.traces] == ["array.json:1", "array.json:2"]


def test_folder_walk_reads_fixtures(fixtures: Path) -> None:
    """A folder is walked in sorted order; the README is not read as a trace."""
    result = load(fixtures / "text")
    names = [Path(t.source.path).name for t in result.traces]
    assert names == sorted(names)
    assert set(names) == {p.name for p in (fixtures / "text").iterdir()}
    readme = load(fixtures)
    assert all(Path(t.source.path).name != "README.md" for t in readme.traces)
    assert all(Path(s.path).name != "README.md" for s in readme.skipped)


# --- Inspect AI logs ----------------------------------------------------------------------------


def write_eval(log: dict, path: Path, corrupt: dict[str, bytes] | None = None) -> Path:
    """A ``.eval`` zip laid out as Inspect writes it: header.json (the log without samples),
    one samples/{id}_epoch_{n}.json per sample, summaries.json, reductions.json, _journal/."""
    header = {k: v for k, v in log.items() if k != "samples"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_journal/start.json", json.dumps({"version": 2, "eval": log["eval"]}))
        for sample in log["samples"]:
            archive.writestr(f"samples/{sample['id']}_epoch_{sample['epoch']}.json", json.dumps(sample))
        for name, data in (corrupt or {}).items():
            archive.writestr(name, data)
        summaries = [{"id": s["id"], "epoch": s["epoch"], "input": s["input"]} for s in log["samples"]]
        archive.writestr("summaries.json", json.dumps(summaries))
        archive.writestr("reductions.json", json.dumps([]))
        archive.writestr("header.json", json.dumps(header))
    return path


@pytest.fixture
def inspect_log(fixtures: Path) -> dict:
    return json.loads((fixtures / "inspect" / "log.json").read_text(encoding="utf-8"))


def _check_inspect(result: LoadResult, path: Path) -> None:
    traces = {t.id.split(":", 1)[1]: t for t in result.traces}
    assert all(t.id.startswith(f"{path.name}:") for t in result.traces)
    # Two turns in each of two epochs, a redacted-summary turn, a <think> turn; the duplicates
    # under events[] and output.choices are not counted again.
    assert sorted(traces) == sorted(["capitals/1/1", "capitals/1/2", "capitals/2/1", "capitals/2/2", "2/1/1", "3/1/1"])

    first, second = traces["capitals/1/1"], traces["capitals/1/2"]
    assert first.reasoning == "Capital of France: Paris. Straightforward."
    assert first.output == "Paris."
    assert first.question == "What is the capital of France?"
    assert second.reasoning == "Now Germany. Berlin is the capital."
    assert second.question == "And of Germany?"
    assert second.output == "Berlin."
    assert first.model == "claude-sonnet-4-5-20250929"
    assert first.metadata["task"] == "cotgraph_fixture"
    assert first.metadata["epoch"] == 1 and traces["capitals/2/1"].metadata["epoch"] == 2
    assert first.source.path == str(path)
    assert first.source.part == "1" and second.source.part == "2"
    assert first.source.record == second.source.record

    redacted = traces["2/1/1"]
    assert redacted.channel == "summary"
    assert redacted.reasoning.startswith("**Computing the square root**")
    assert "gAAAA" not in redacted.reasoning
    assert redacted.redacted_blocks == 1
    assert redacted.output == "12"
    assert redacted.model == "o4-mini"

    think = traces["3/1/1"]
    assert think.reasoning.strip().startswith("A triangle has three sides.")
    assert "<think>" not in think.reasoning and "</think>" not in think.reasoning
    assert think.output == "180 degrees."
    assert think.question == "What do the angles of a triangle sum to?"

    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert skipped.reason.startswith("sample 4 epoch 1")
    assert "reasoning" in skipped.reason


def test_inspect_json_log(tmp_path: Path, fixtures: Path) -> None:
    path = tmp_path / "log.json"
    shutil.copy(fixtures / "inspect" / "log.json", path)
    result = load(path)
    _check_inspect(result, path)
    # The .json log numbers samples in document order.
    assert sorted({t.source.record for t in result.traces}) == [0, 1, 2, 3]
    assert result.skipped[0].record == 4


def test_inspect_eval_archive(tmp_path: Path, inspect_log: dict) -> None:
    path = write_eval(inspect_log, tmp_path / "log.eval")
    assert detect_format(path) == "inspect"
    result = load(path)
    _check_inspect(result, path)
    records = {t.source.record for t in result.traces} | {s.record for s in result.skipped}
    assert records == set(range(5))


def test_inspect_eval_and_json_agree(tmp_path: Path, inspect_log: dict, fixtures: Path) -> None:
    eval_result = load(write_eval(inspect_log, tmp_path / "run.eval"))
    json_result = load(fixtures / "inspect" / "log.json")

    def key(t: Trace) -> tuple:
        return (t.id.split(":", 1)[1], t.reasoning, t.output, t.question, t.model, t.channel)

    assert sorted(map(key, eval_result.traces)) == sorted(map(key, json_result.traces))


def test_inspect_eval_ids_stable(tmp_path: Path, inspect_log: dict) -> None:
    path = write_eval(inspect_log, tmp_path / "log.eval")
    assert [t.id for t in load(path).traces] == [t.id for t in load(path).traces]


def test_inspect_eval_without_extension(tmp_path: Path, inspect_log: dict) -> None:
    path = write_eval(inspect_log, tmp_path / "log.zipped")
    assert detect_format(path) == "inspect"
    assert len(load(path).traces) == 6
