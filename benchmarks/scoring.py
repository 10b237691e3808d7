"""Precision, recall and F1 counts shared by the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PRF:
    """True positives, false positives and false negatives, added one decision at a time."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        self.tp += predicted and gold
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    def as_dict(self) -> dict[str, float | int]:
        p, r, f = self.prf()
        return {
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f, 3),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def score_cells(scores: dict[str, float | int]) -> list[str]:
    """The cells of a results-table row: precision, recall, F1, tp, fp, fn."""
    return [f"{scores[k]:.3f}" for k in ("precision", "recall", "f1")] + [str(scores[k]) for k in ("tp", "fp", "fn")]
