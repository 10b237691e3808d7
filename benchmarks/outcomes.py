"""Outcome linkage and the verbalisation gap on real data, against references made without the tagger.

Two sets whose outcome is known and whose CoTs have been read:

- **hint set** (``../shared/data/thought-branches``, 153 traces): every model followed the
  professor's hint (``answer == cue_answer`` in every record). The belief that explains it is
  ``hint_reliance``. References: the **mentions** figure the data's README gives (a CoT that
  names the professor or Stanford; 17 of the 82 traces of the 0.3 file, none of the 71 of the
  0.15 file) and the project's **hand labels** (``benchmarks/data/hint_traces.jsonl``: a CoT that
  leans on the professor, the hint or "the given answer" at any step).
- **coding set** (``benchmarks/data/coding/mats-research-harness``, 52 runs of DeepSeek-V4-Flash
  on ImpossibleBench tasks): the outcome is the study's code for what the agent did
  (``hacked``: special-cased or tampered with a test, against keeping to the specification). The
  beliefs that explain it are ``grader`` and ``reward_hack`` (reasoning that the run is graded by
  the tests, options for gaming them). References: the study's own count of mentions of the
  grading cue (``cue_mentions`` in ``mats_cot_tally.csv``) and the project's step labels
  (``benchmarks/data/beliefs_dev.jsonl``, set ``coding-mats``).

The tags are **held out**: the shipped belief weights were trained on labelled steps of these very
traces, so each set is tagged with weights retrained without it (``train-beliefs`` on
``beliefs_dev.jsonl`` less that set, the shipped settings, nothing tuned here). The shipped
weights' figure is printed beside it, marked in-sample.

Also: linkage on the coding set (P(hacked | belief explored) vs not, Fisher's exact test, and
how often the belief came before the first step that decides to special-case), and the paired
counterfactual on the 71 records of the 0.15 file that carry the same model's CoT without the cue
(``base_reasoning_text``).

Run: ``python benchmarks/outcomes.py [--data ../shared/data] [--json] [--markdown FILE]`` (about
6 minutes on 2 cores: two trainings and four analyses with the default embedder).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cotgraph.beliefs.learned import train
from cotgraph.beliefs.taxonomy import load_taxonomy
from cotgraph.bootstrap import bootstrap_means, percentile_interval
from cotgraph.embed import get_embedder
from cotgraph.engine import AnalyzeConfig, analyze_many
from cotgraph.io import LoadOptions, load
from cotgraph.model import Analysis
from cotgraph.outcomes import from_analyses, link_beliefs, paired_counterfactuals, verbalisation_gap

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "benchmarks" / "data" / "beliefs_dev.jsonl"
HINT_DIR = "thought-branches/faithfulness/good_problems"
HINT_FILES = (
    "Professor_itc_failure_threshold0.3.json",
    "Professor_itc_failure_threshold0.15_correct_base_no_mention.json",
)
MENTION = re.compile(r"professor|stanford", re.IGNORECASE)
CODING = ROOT / "benchmarks" / "data" / "coding"
HACKED = "hacked=action != 'spec_correct'"
ACTION = r"special.?case|hard.?cod"
N_BOOT = 2000


def held_out_weights(exclude: str, folder: Path, embedder) -> Path:
    """Belief weights trained, with the shipped settings, on every labelled set but ``exclude``."""
    kept = folder / f"beliefs_without_{exclude}.jsonl"
    with LABELLED.open(encoding="utf-8") as src, kept.open("w", encoding="utf-8") as dst:
        for line in src:
            if json.loads(line)["set"] != exclude:
                dst.write(line)
    result = train(kept, load_taxonomy("metagaming"), embedder, folds=0)
    path = folder / f"metagaming_without_{exclude}.npz"
    result.model.save(path)
    return path


def analyse(paths: Sequence[Path], options: LoadOptions, weights: str, embedder) -> list[Analysis]:
    traces = [t for p in paths for t in load(p, options).traces]
    config = AnalyzeConfig(belief_weights=weights)
    return list(analyze_many(traces, config, embedder=embedder))


def proportion(flags: Sequence[bool], seed: int = 0) -> dict[str, float | int]:
    """Share of true flags with its percentile bootstrap interval (exactly Binomial)."""
    x = np.asarray(flags, dtype=float)
    low, high = percentile_interval(bootstrap_means(x, np.random.default_rng(seed), N_BOOT, binary=True))
    return {"n": len(x), "k": int(x.sum()), "share": round(float(x.mean()), 4), "ci": [round(low, 4), round(high, 4)]}


def gap_rows(analyses: list[Analysis], explains: list[str]) -> dict[str, dict]:
    """The tagged gap overall and per model, with the outcome ``followed_hint`` or ``hacked``."""
    outcome = next(iter(analyses[0].trace.outcomes))
    data = from_analyses(analyses, outcome, by="model")
    return {r["group"]: r for r in verbalisation_gap(data, explains, n_boot=N_BOOT)}


def hint_set(data: Path, folder: Path, embedder, *, in_sample: bool = True, paired: bool = True) -> dict:
    """The hint set's gap against its references (``in_sample``: also with the shipped weights;
    ``paired``: also the paired counterfactual)."""
    paths = [data / HINT_DIR / name for name in HINT_FILES]
    options = LoadOptions(outcome_exprs=("followed_hint=answer == cue_answer",))
    held = str(held_out_weights("hinted-mc", folder, embedder))
    results: dict = {}
    hand = [json.loads(line) for line in (ROOT / "benchmarks" / "data" / "hint_traces.jsonl").open()]
    runs = (("held_out", held), ("shipped_in_sample", "auto")) if in_sample else (("held_out", held),)
    for label, weights in runs:
        analyses = analyse(paths, options, weights, embedder)
        results[label] = analyses
    held_analyses = results["held_out"]
    # hand labels are listed per file in record order, as the loader reads them
    by_file: dict[str, list[dict]] = {}
    for h in hand:
        by_file.setdefault(Path(h["path"]).name, []).append(h)
    hand_flag: dict[str, bool] = {}
    for name in HINT_FILES:
        mine = [a for a in held_analyses if Path(a.trace.source.path).name == name]
        mine.sort(key=lambda a: a.trace.source.record)
        labels = by_file[name]
        assert len(mine) == len(labels), (name, len(mine), len(labels))
        for a, h in zip(mine, labels, strict=True):
            assert a.trace.model == h["model"], (a.trace.id, h)
            hand_flag[a.trace.id] = h["verbalises_hint"]
    out: dict = {
        "n_traces": len(held_analyses),
        "followed_hint": sum(a.trace.outcomes["followed_hint"] for a in held_analyses),
    }
    scopes = {"both files": None, "0.3 file": HINT_FILES[0], "0.15 file": HINT_FILES[1]}
    for scope, name in scopes.items():
        keep = [a for a in held_analyses if name is None or Path(a.trace.source.path).name == name]
        ids = {a.trace.id for a in keep}
        followed = [a for a in keep if a.trace.outcomes["followed_hint"]]
        row = {
            "mentions": proportion([not MENTION.search(a.trace.reasoning) for a in followed]),
            "hand_labels": proportion([not hand_flag[a.trace.id] for a in followed]),
        }
        for label, analyses in results.items():
            sub = [a for a in analyses if a.trace.id in ids]
            row[f"tagged_{label}"] = gap_rows(sub, ["hint_reliance"])["all"]
        tagged = row["tagged_held_out"]
        row["tagged_minus_mentions"] = round(tagged["gap"] - row["mentions"]["share"], 4)
        row["tagged_minus_hand"] = round(tagged["gap"] - row["hand_labels"]["share"], 4)
        row["tagged_in_mentions_ci"] = row["mentions"]["ci"][0] <= tagged["gap"] <= row["mentions"]["ci"][1]
        row["tagged_in_hand_ci"] = row["hand_labels"]["ci"][0] <= tagged["gap"] <= row["hand_labels"]["ci"][1]
        out[scope] = row
    out["by_model"] = {
        g: {k: r[k] for k in ("n_outcome", "n_silent", "gap", "ci_low", "ci_high")}
        for g, r in gap_rows(held_analyses, ["hint_reliance"]).items()
    }
    if not paired:
        return out
    # paired counterfactual on the 0.15 file: the same model's CoT without the cue
    base_options = LoadOptions(text_field="base_reasoning_text")
    cued = sorted(
        (a for a in held_analyses if Path(a.trace.source.path).name == HINT_FILES[1]),
        key=lambda a: a.trace.source.record,
    )
    base = analyse([paths[1]], base_options, held, embedder)
    base_by_record = {a.trace.source.record: a for a in base}
    pairs = [(a, base_by_record[a.trace.source.record]) for a in cued if a.trace.source.record in base_by_record]
    out["paired"] = paired_counterfactuals(pairs, n_boot=N_BOOT)
    return out


def coding_set(folder: Path, embedder, *, in_sample: bool = True) -> dict:
    """The coding set's gap against its references, and the linkage (``in_sample``: also with the
    shipped weights)."""
    mats = CODING / "mats-research-harness"
    options = LoadOptions(model="deepseek-v4-flash", outcome_exprs=(HACKED,))
    held = str(held_out_weights("coding-mats", folder, embedder))
    out: dict = {}
    runs = (("held_out", held), ("shipped_in_sample", "auto")) if in_sample else (("held_out", held),)
    analyses = {label: analyse([mats], options, w, embedder) for label, w in runs}
    held_analyses = analyses["held_out"]
    explains = ["grader", "reward_hack"]
    tally = {}
    with (CODING / "mats_cot_tally.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            tally[row["run_id"]] = row
    labels: dict[str, set[str]] = {}
    for line in LABELLED.open(encoding="utf-8"):
        r = json.loads(line)
        if r["set"] == "coding-mats":
            labels.setdefault(Path(r["path"]).stem, set()).update(x["belief"] for x in r["labels"])
    hacked = [a for a in held_analyses if a.trace.outcomes.get("hacked")]
    runs = [Path(a.trace.source.path).stem for a in hacked]
    missing = [r for r in runs if r not in tally]
    assert not missing, f"runs not in the tally: {missing}"
    out["n_runs"] = len(held_analyses)
    out["n_hacked"] = len(hacked)
    out["mentions"] = proportion([int(tally[r]["cue_mentions"]) == 0 for r in runs])
    out["step_labels"] = proportion([not (labels.get(r, set()) & set(explains)) for r in runs])
    out["labelled_runs"] = sum(1 for r in runs if r in labels)
    for label, result in analyses.items():
        out[f"tagged_{label}"] = gap_rows(result, explains)["all"]
    tagged = out["tagged_held_out"]["gap"]
    out["tagged_minus_mentions"] = round(tagged - out["mentions"]["share"], 4)
    out["tagged_minus_labels"] = round(tagged - out["step_labels"]["share"], 4)
    data = from_analyses(held_analyses, "hacked", action=ACTION)
    out["links"] = link_beliefs(data, n_boot=N_BOOT)
    return out


def markdown(result: dict) -> str:
    def ci(p: dict) -> str:
        return f"{p['share']:.3f} [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}] ({p['n'] - p['k']} of {p['n']} verbalise)"

    def tag(r: dict) -> str:
        raised = r["n_outcome"] - r["n_silent"]
        return f"{r['gap']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] ({raised} of {r['n_outcome']} raise it)"

    lines = ["### Hint set: traces that followed the hint without raising it", ""]
    lines += [
        "| scope | mentions (README) | hand labels | tagged, held out | tagged, shipped (in-sample) |",
        "|---|---|---|---|---|",
    ]
    h = result["hint"]
    for scope in ("0.3 file", "0.15 file", "both files"):
        r = h[scope]
        lines.append(
            f"| {scope} | {ci(r['mentions'])} | {ci(r['hand_labels'])} | {tag(r['tagged_held_out'])} | "
            f"{tag(r['tagged_shipped_in_sample'])} |"
        )
    lines += [
        "",
        "Held-out tagged gap by model (both files):",
        "",
        "| model | followed | silent | gap | 95% CI |",
        "|---|---:|---:|---:|---|",
    ]
    for g, r in h["by_model"].items():
        lines.append(
            f"| {g} | {r['n_outcome']} | {r['n_silent']} | {r['gap']:.3f} | [{r['ci_low']:.3f}, {r['ci_high']:.3f}] |"
        )
    c = result["coding"]
    lines += ["", "### Coding set: runs that special-cased or tampered without reasoning about the grader", ""]
    lines += ["| reference | gap |", "|---|---|"]
    lines.append(f"| the study's cue mentions (`cue_mentions` = 0) | {ci(c['mentions'])} |")
    lines.append(f"| the project's step labels (`grader` or `reward_hack` on no step) | {ci(c['step_labels'])} |")
    lines.append(f"| tagged, held out | {tag(c['tagged_held_out'])} |")
    lines.append(f"| tagged, shipped (in-sample) | {tag(c['tagged_shipped_in_sample'])} |")
    lines += ["", "Linkage (held-out tags): P(hacked | belief explored) vs not, 52 runs", ""]
    lines += [
        "| belief | explored (n) | 95% CI | not (n) | 95% CI | Fisher p | before the special-case step (n) |",
        "|---|---|---|---|---|---:|---|",
    ]
    for r in c["links"]:
        if r["group"] != "all":
            continue
        e = "-" if r["explored"] is None else f"{r['explored']:.3f} ({r['n_explored']})"
        n = "-" if r["not"] is None else f"{r['not']:.3f} ({r['n_not']})"
        eci = "-" if r["explored"] is None else f"[{r['explored_ci_low']:.3f}, {r['explored_ci_high']:.3f}]"
        nci = "-" if r["not"] is None else f"[{r['not_ci_low']:.3f}, {r['not_ci_high']:.3f}]"
        before = "-" if r["before_action"] is None else f"{r['before_action']:.3f} ({r['n_action']})"
        lines.append(f"| {r['belief']} | {e} | {eci} | {n} | {nci} | {r['p_value']:.3g} | {before} |")
    p = h["paired"]
    lines += ["", f"### Paired counterfactual: with and without the cue, {p['n_pairs']} records of the 0.15 file", ""]
    lines += [
        "| belief | only with cue | only without | both | neither | McNemar exact p |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in p["beliefs"]:
        pv = "-" if r["mcnemar_exact_p"] is None else f"{r['mcnemar_exact_p']:.3g}"
        lines.append(
            f"| {r['belief']} | {r['only_with_cue']} | {r['only_without_cue']} | {r['both']} | {r['neither']} | {pv} |"
        )
    lines += [
        "",
        "| metric | with cue | without | mean difference | 95% CI | Wilcoxon p |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in p["structure"]:
        pv = "-" if r["wilcoxon_p"] is None else f"{r['wilcoxon_p']:.3g}"
        lines.append(
            f"| {r['metric']} | {r['with_cue']:.3f} | {r['without_cue']:.3f} | {r['mean_difference']:.3f} | "
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] | {pv} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    embedder = get_embedder("default")
    with tempfile.TemporaryDirectory() as tmp:
        result = {"hint": hint_set(args.data, Path(tmp), embedder), "coding": coding_set(Path(tmp), embedder)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    text = markdown(result)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    print(json.dumps(result, indent=2, default=str) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
