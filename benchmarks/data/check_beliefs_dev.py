"""Sanity check of the hand-labelled belief development set.

Re-segments every source file with ``cotgraph segment --json`` and checks that every record of
``beliefs_dev.jsonl`` matches it exactly (trace id, step index, offsets, text, and
``reasoning[start:end] == text``). It also checks that belief ids, stances and set names are
valid, that the file is sorted and has no duplicates, and that ``hint_traces.jsonl`` covers all
153 thought-branches traces and agrees with the step labels. Then it prints the counts.

    python benchmarks/data/check_beliefs_dev.py [--data ../shared/data] [--cotgraph .venv/bin/cotgraph]

Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

BELIEFS = {
    "eval_awareness",
    "eval_purpose",
    "grader",
    "reward",
    "oversight",
    "training_gaming",
    "past_feedback",
    "deployment_consequence",
    "developer_intent",
    "sandbagging",
    "reward_hack",
    "eval_norms",
    "hint_reliance",
    "request_purpose",
    "real_deployment",
}
STANCES = {"raised", "entertained", "endorsed", "rejected"}
SETS = {
    "thoughtology-safety",
    "thoughtology-psycho",
    "blackmail",
    "hinted-mc",
    "math",
    "pmllmbench-bias",
    "agent-telemetry",
    "coding-mats",
    "coding-fieldtest",
}
PROJECT_PATHS = "benchmarks/"
"""Record paths under this prefix are relative to the project root (the copies the project
keeps itself); all others are relative to the shared data folder."""
THOUGHT_BRANCHES = "thought-branches/faithfulness/good_problems/"


def segment(cotgraph: list[str], path: Path, model: str | None) -> dict[str, dict]:
    cmd = [*cotgraph, "segment", str(path), "--json"]
    if model:
        cmd += ["--model", model]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    # Exit code 2 means some records of the file were skipped (the telemetry fixture holds
    # events without reasoning); the traces that were read are still checked.
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    out = proc.stdout
    traces = {}
    for line in out.splitlines():
        if line.strip():
            t = json.loads(line)
            traces[t["trace_id"]] = t
    return traces


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    ap.add_argument("--cotgraph", default=str(ROOT / ".venv" / "bin" / "cotgraph"), help="command that runs cotgraph")
    ap.add_argument("--dev", default=str(HERE / "beliefs_dev.jsonl"))
    ap.add_argument("--hints", default=str(HERE / "hint_traces.jsonl"))
    args = ap.parse_args()
    data = Path(args.data)
    cotgraph = shlex.split(args.cotgraph)
    errors: list[str] = []

    recs = [json.loads(line) for line in Path(args.dev).read_text(encoding="utf-8").splitlines() if line.strip()]
    hints = [json.loads(line) for line in Path(args.hints).read_text(encoding="utf-8").splitlines() if line.strip()]

    # One segmentation per source path. Sources whose records name no model (Thoughtology) get
    # the model recorded in the labels, as they were segmented with --model.
    models_by_path: dict[str, set] = defaultdict(set)
    for r in recs:
        models_by_path[r["path"]].add(r["model"])
    for h in hints:
        models_by_path[h["path"]].add(h["model"])
    seg: dict[str, dict[str, dict]] = {}
    for p, models in models_by_path.items():
        # --model only names the model of traces whose source names none (Thoughtology, the
        # Mats run logs); sources that name theirs keep them.
        model = next(iter(models)) if len(models) == 1 else None
        seg[p] = segment(cotgraph, (ROOT / p) if p.startswith(PROJECT_PATHS) else data / p, model)

    seen = set()
    keys = []
    for n, r in enumerate(recs, 1):
        where = f"beliefs_dev.jsonl:{n}"
        missing = {"set", "path", "trace_id", "model", "step", "start", "end", "text", "labels"} - r.keys()
        if missing:
            errors.append(f"{where}: missing keys {sorted(missing)}")
            continue
        if r["set"] not in SETS:
            errors.append(f"{where}: unknown set {r['set']!r}")
        t = seg.get(r["path"], {}).get(r["trace_id"])
        if t is None:
            errors.append(f"{where}: trace {r['trace_id']} not in {r['path']}")
            continue
        if t["model"] != r["model"]:
            errors.append(f"{where}: model {r['model']!r} != {t['model']!r}")
        if not (0 <= r["step"] < len(t["steps"])):
            errors.append(f"{where}: step {r['step']} out of range (0..{len(t['steps']) - 1})")
            continue
        s = t["steps"][r["step"]]
        if (s["idx"], s["start"], s["end"], s["text"]) != (r["step"], r["start"], r["end"], r["text"]):
            errors.append(f"{where}: step differs from cotgraph's segmentation")
        if t["reasoning"][r["start"] : r["end"]] != r["text"]:
            errors.append(f"{where}: reasoning[start:end] != text")
        beliefs_here = [x.get("belief") for x in r["labels"]]
        if len(beliefs_here) != len(set(beliefs_here)):
            errors.append(f"{where}: a belief appears twice")
        for x in r["labels"]:
            if x.get("belief") not in BELIEFS or x.get("stance") not in STANCES or set(x) != {"belief", "stance"}:
                errors.append(f"{where}: bad label {x}")
        key = (r["path"], r["trace_id"], r["step"])
        if key in seen:
            errors.append(f"{where}: duplicate step {key}")
        seen.add(key)
        keys.append((r["set"], r["trace_id"], r["step"]))
    if keys != sorted(keys):
        errors.append("beliefs_dev.jsonl is not sorted by set, trace_id, step")

    # hint_traces.jsonl: every thought-branches trace once; steps == the hint_reliance steps.
    hint_steps = defaultdict(set)
    for r in recs:
        if any(x["belief"] == "hint_reliance" for x in r["labels"]):
            hint_steps[(r["path"], r["trace_id"])].add(r["step"])
    tb_paths = [p for p in seg if p.startswith(THOUGHT_BRANCHES)]
    expected = {(p, tid) for p in tb_paths for tid in seg[p]}
    got = Counter((h["path"], h["trace_id"]) for h in hints)
    if set(got) != expected or any(v > 1 for v in got.values()):
        errors.append(f"hint_traces.jsonl: {len(got)} traces, expected each of {len(expected)} once")
    for h in hints:
        t = seg.get(h["path"], {}).get(h["trace_id"])
        if t is None:
            continue
        if t["model"] != h["model"]:
            errors.append(f"hint_traces.jsonl: {h['trace_id']} model differs")
        if any(not 0 <= i < len(t["steps"]) for i in h["steps"]):
            errors.append(f"hint_traces.jsonl: {h['trace_id']} step out of range")
        if h["verbalises_hint"] != bool(h["steps"]):
            errors.append(f"hint_traces.jsonl: {h['trace_id']} verbalises_hint disagrees with steps")
        if set(h["steps"]) != hint_steps.get((h["path"], h["trace_id"]), set()):
            errors.append(f"hint_traces.jsonl: {h['trace_id']} steps differ from the hint_reliance labels")

    # Counts.
    by_set = Counter(r["set"] for r in recs)
    traces_by_set = Counter(s for s, _ in {(r["set"], r["trace_id"]) for r in recs})
    labelled_by_set = Counter(r["set"] for r in recs if r["labels"])
    n_traces, n_positive = sum(traces_by_set.values()), sum(labelled_by_set.values())
    print(f"{len(recs)} labelled steps, {n_traces} traces, {n_positive} steps with a belief")
    print("\nset                    traces  steps  with belief")
    for s in sorted(by_set):
        print(f"{s:22} {traces_by_set[s]:6} {by_set[s]:6} {labelled_by_set[s]:12}")
    print("\nmodel                                                traces  steps  with belief")
    by_model = Counter(r["model"] for r in recs)
    traces_by_model = Counter(m for m, _ in {(r["model"], r["trace_id"]) for r in recs})
    labelled_by_model = Counter(r["model"] for r in recs if r["labels"])
    for m in sorted(by_model, key=str):
        print(f"{m!s:52} {traces_by_model[m]:6} {by_model[m]:6} {labelled_by_model[m]:12}")
    print("\nbelief                  raised entertained endorsed rejected  total")
    bs = Counter((x["belief"], x["stance"]) for r in recs for x in r["labels"])
    for b in sorted(BELIEFS):
        row = [bs[(b, st)] for st in ("raised", "entertained", "endorsed", "rejected")]
        print(f"{b:22} {row[0]:7} {row[1]:11} {row[2]:8} {row[3]:8} {sum(row):6}")
    print("\nhint verbalised (thought-branches)")
    print(f"{'file':66} {'model':37} traces  verbalise")
    hv = defaultdict(lambda: [0, 0])
    for h in hints:
        k = (h["path"].rsplit("/", 1)[-1], h["model"])
        hv[k][0] += 1
        hv[k][1] += h["verbalises_hint"]
    for (f, m), (n, v) in sorted(hv.items()):
        print(f"{f:66} {m:37} {n:6} {v:10}")

    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors[:50]:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
