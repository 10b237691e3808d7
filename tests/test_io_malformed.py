"""Broken inputs: nothing escapes ``load``, every problem is a Skipped entry naming the file and
record, and the good records around it are still read."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

from cotgraph.io import LoadOptions, load

GOOD = {"id": "ok", "model": "m", "question": "Q?", "reasoning_content": "Fine reasoning."}


def good_line(n: int) -> str:
    return json.dumps({**GOOD, "id": f"ok-{n}", "reasoning_content": f"Reasoning number {n}."})


def test_broken_json_line_in_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([good_line(0), '{"id": "bad", "reasoning": "unterminated', good_line(2), ""]),
        encoding="utf-8",
    )
    result = load(path)
    assert [t.source.record for t in result.traces] == [0, 2]
    assert [t.reasoning for t in result.traces] == ["Reasoning number 0.", "Reasoning number 2."]
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert skipped.record == 1
    assert "invalid JSON" in skipped.reason


def test_blank_lines_do_not_shift_record_numbers_of_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n".join([good_line(0), "", "not json", "", good_line(3)]) + "\n", encoding="utf-8")
    result = load(path)
    assert [t.source.record for t in result.traces] == [0, 2]
    assert [(s.record, "invalid JSON" in s.reason) for s in result.skipped] == [(1, True)]


def test_record_without_text_field_lists_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "fields.jsonl"
    path.write_text(
        good_line(0) + "\n" + json.dumps({"prompt_id": 7, "score": 0.5, "label": "x"}) + "\n",
        encoding="utf-8",
    )
    result = load(path)
    assert len(result.traces) == 1
    (skipped,) = result.skipped
    assert (skipped.path, skipped.record) == (str(path), 1)
    for name in ("prompt_id", "score", "label"):
        assert name in skipped.reason
    assert "--text-field" in skipped.reason


def test_non_object_records(tmp_path: Path) -> None:
    path = tmp_path / "scalars.jsonl"
    path.write_text(good_line(0) + "\n42\nnull\n", encoding="utf-8")
    result = load(path)
    assert len(result.traces) == 1
    assert [(s.record, "not an object" in s.reason) for s in result.skipped] == [(1, True), (2, True)]


def test_unknown_binary_format(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 8)
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert "unknown format" in skipped.reason


def test_binary_with_text_extension(tmp_path: Path) -> None:
    path = tmp_path / "not_really.txt"
    path.write_bytes(b"\xff\xfe\x00\x81" * 100)
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert "UTF-8" in skipped.reason


def test_empty_files(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("empty.txt", "empty.jsonl", "empty.json", "empty.eval")]
    for path in paths:
        path.write_bytes(b"")
    result = load(paths)
    assert result.traces == []
    assert [s.path for s in result.skipped] == [str(p) for p in paths]
    assert all("empty" in s.reason for s in result.skipped)


def test_whitespace_only_files(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("blank.txt", "blank.md", "blank.jsonl", "blank.json")]
    for path in paths:
        path.write_text("  \n\n\t \n", encoding="utf-8")
    result = load(paths)
    assert result.traces == []
    assert sorted(s.path for s in result.skipped) == sorted(str(p) for p in paths)
    for skipped in result.skipped:
        assert "empty" in skipped.reason or "invalid JSON" in skipped.reason, skipped


def test_corrupt_zip_named_eval(tmp_path: Path) -> None:
    path = tmp_path / "broken.eval"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage, not a zip archive" * 20)
    good = tmp_path / "good.jsonl"
    good.write_text(good_line(0) + "\n", encoding="utf-8")
    result = load([path, good])
    assert len(result.traces) == 1
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert ".eval" in skipped.reason or "zip" in skipped.reason.lower()


def test_text_file_named_eval(tmp_path: Path) -> None:
    path = tmp_path / "notes.eval"
    path.write_text("these are notes, not an Inspect log", encoding="utf-8")
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)


def test_invalid_json_document(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "reasoning": "fine",\n  "model": ,\n}\n', encoding="utf-8")
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)
    assert "invalid JSON" in skipped.reason and "line 3" in skipped.reason


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "missing.jsonl"
    good = tmp_path / "good.jsonl"
    good.write_text(good_line(0) + "\n", encoding="utf-8")
    result = load([missing, good])
    assert len(result.traces) == 1
    (skipped,) = result.skipped
    assert skipped.path == str(missing)
    assert "no such file" in skipped.reason


def _sample(sample_id: int) -> dict:
    return {
        "id": sample_id,
        "epoch": 1,
        "input": f"Question {sample_id}?",
        "target": "x",
        "messages": [
            {"role": "user", "content": f"Question {sample_id}?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": f"Thinking about {sample_id}.", "redacted": False},
                    {"type": "text", "text": f"Answer {sample_id}."},
                ],
            },
        ],
        "events": [],
    }


def test_eval_with_one_corrupt_sample(tmp_path: Path) -> None:
    path = tmp_path / "partial.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.json", json.dumps({"version": 2, "eval": {"task": "t", "model": "m"}}))
        archive.writestr("samples/1_epoch_1.json", json.dumps(_sample(1)))
        archive.writestr("samples/2_epoch_1.json", '{"id": 2, "epoch": 1, "messages": [')
        archive.writestr("samples/3_epoch_1.json", json.dumps(_sample(3)))
    result = load(path)
    assert [t.reasoning for t in result.traces] == ["Thinking about 1.", "Thinking about 3."]
    assert [t.source.record for t in result.traces] == [0, 2]
    (skipped,) = result.skipped
    assert skipped.path == str(path) and skipped.record == 1
    assert "samples/2_epoch_1.json" in skipped.reason


def test_eval_with_corrupt_header(tmp_path: Path) -> None:
    path = tmp_path / "badheader.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.json", "{not json")
        archive.writestr("samples/1_epoch_1.json", json.dumps(_sample(1)))
    result = load(path)
    assert [t.reasoning for t in result.traces] == ["Thinking about 1."]
    assert any("header.json" in s.reason for s in result.skipped)


def test_eval_with_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "nosamples.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.json", json.dumps({"version": 2, "eval": {"task": "t"}}))
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path) and "no samples" in skipped.reason


def test_eval_sample_without_messages(tmp_path: Path) -> None:
    path = tmp_path / "nomessages.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("samples/1_epoch_1.json", json.dumps({"id": 1, "epoch": 1}))
        archive.writestr("samples/2_epoch_1.json", json.dumps(_sample(2)))
    result = load(path)
    assert len(result.traces) == 1
    (skipped,) = result.skipped
    assert skipped.record == 0 and "sample 1" in skipped.reason and "no messages" in skipped.reason


def test_truncated_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(("\n".join(good_line(i) for i in range(200)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    good = tmp_path / "good.jsonl"
    good.write_text(good_line(0) + "\n", encoding="utf-8")
    result = load([path, good])  # must not raise
    from_cut = [t for t in result.traces if t.source.path == str(path)]
    assert [t.source.record for t in from_cut] == list(range(len(from_cut)))
    assert any(s.path == str(path) for s in result.skipped)
    assert [t.source.path for t in result.traces].count(str(good)) == 1


def test_not_gzip_named_gz(tmp_path: Path) -> None:
    path = tmp_path / "fake.jsonl.gz"
    path.write_text(good_line(0) + "\n", encoding="utf-8")
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    result = load(path)
    assert result.traces == []
    (skipped,) = result.skipped
    assert skipped.path == str(path) and "Parquet" in skipped.reason


def test_text_field_missing_in_some_records(tmp_path: Path) -> None:
    path = tmp_path / "partial.jsonl"
    lines = [
        json.dumps({"out": {"think": "Deep thought."}}),
        json.dumps({"out": {}}),
        json.dumps({"out": {"think": ""}}),
        json.dumps({"out": {"think": 5}}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load(path, LoadOptions(text_field="out.think"))
    assert [t.reasoning for t in result.traces] == ["Deep thought."]
    reasons = {s.record: s.reason for s in result.skipped}
    assert set(reasons) == {1, 2, 3}
    assert all("out.think" in r for r in reasons.values())


def test_folder_with_mixed_good_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(good_line(0) + "\n{broken\n", encoding="utf-8")
    (tmp_path / "b.json").write_text("[", encoding="utf-8")
    (tmp_path / "c.txt").write_text("<think>fine</think> done", encoding="utf-8")
    (tmp_path / "d.eval").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "ignored.xyz").write_bytes(b"\x00\x01")  # not a known extension: not walked
    result = load(tmp_path)
    assert sorted(Path(t.source.path).name for t in result.traces) == ["a.jsonl", "c.txt"]
    assert sorted((Path(s.path).name, s.record) for s in result.skipped) == [
        ("a.jsonl", 1),
        ("b.json", None),
        ("d.eval", None),
    ]


def test_tables_without_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    header_only = tmp_path / "header.csv"
    header_only.write_text("id,reasoning\n", encoding="utf-8")
    blank_csv = tmp_path / "blank.csv"
    blank_csv.write_text(" \n\n", encoding="utf-8")
    no_rows = tmp_path / "none.parquet"
    pq.write_table(pa.table({"reasoning": pa.array([], type=pa.string())}), no_rows)
    paths = [header_only, blank_csv, no_rows]
    result = load(paths)
    assert result.traces == []
    assert [s.path for s in result.skipped] == [str(p) for p in paths]
    assert all(s.reason for s in result.skipped)


def test_empty_json_containers(tmp_path: Path) -> None:
    paths = [tmp_path / "list.json", tmp_path / "object.json"]
    paths[0].write_text("[]", encoding="utf-8")
    paths[1].write_text("{}", encoding="utf-8")
    result = load(paths)
    assert result.traces == []
    assert [s.path for s in result.skipped] == [str(p) for p in paths]


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(("\n".join(good_line(i) for i in range(500)) + "\n").encode())
    path = tmp_path / "scrambled.jsonl.gz"
    path.write_bytes(packed[:40] + bytes(b ^ 0x5A for b in packed[40:80]) + packed[80:])
    for options in (None, LoadOptions(format="jsonl")):  # detected, and forced past detection
        result = load(path, options)  # must not raise
        assert len(result.skipped) >= 1
        assert all(s.path == str(path) for s in result.skipped)
