"""The files of the learned parts (the belief tagger, the step-kind classifier): weights as numpy
arrays and one JSON header in a compressed ``.npz``, never a pickle, so that a weights file from
anywhere can be opened without running code; labelled steps as JSON Lines, every problem named
with its line; and the sample weights both trainers balance sources with."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def save_weights(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (JSON, keys sorted) and float64 ``arrays`` to ``path``."""
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            header=np.array(json.dumps(header, sort_keys=True, ensure_ascii=False)),
            **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()},
        )


def load_weights(
    path: str | Path,
    keys: Sequence[str],
    *,
    fmt: str,
    feature_version: int,
    what: str,
    command: str,
    error: type[Exception],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the ``keys`` arrays of a weights file in format ``fmt``. Any problem is one
    ``error`` naming the file: missing, not an ``.npz`` of ``what``, another format, or made for
    another feature version (train again with ``command``)."""
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {k: np.array(data[k]) for k in keys}
    except FileNotFoundError:
        raise error(f"{path}: no such weights file") from None
    except (OSError, ValueError, KeyError) as exc:
        raise error(f"{path}: not a {what} file ({type(exc).__name__}: {exc})") from None
    if header.get("format") != fmt:
        raise error(f"{path}: not a {what} file (format {header.get('format')!r})")
    if header.get("feature_version") != feature_version:
        raise error(
            f"{path}: made for feature version {header.get('feature_version')}, this cotgraph uses "
            f"{feature_version}; train them again with `{command}`"
        )
    return header, arrays


def source_weights(sets: np.ndarray) -> np.ndarray:
    """Sample weights that keep one large data set from drowning the others: a row of a set of
    ``n`` rows weighs ``1/sqrt(n)``, rescaled to a mean of 1. Equal weight per set would let a set
    of seven steps count as much as one of thousands; the square root sits between the two."""
    if len(sets) == 0:
        return np.zeros(0)
    _, inverse, counts = np.unique(sets, return_inverse=True, return_counts=True)
    w = 1.0 / np.sqrt(counts[inverse].astype(np.float64))
    return w * (len(w) / w.sum())


def labelled_lines(
    path: str, required: Sequence[str], problems: list[str], error: Callable[[str, list[str]], Exception]
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(line number, "path:line", record)`` for each JSON object of a JSON Lines file that has the
    ``required`` keys. A line that is not JSON, not an object or lacks a key is added to
    ``problems`` (each naming the line) and skipped; a file that cannot be read raises
    ``error(path, [problem])``."""
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(path, [f"{path}: no such file"]) from None
    except UnicodeDecodeError as exc:
        raise error(path, [f"{path}: not UTF-8 text ({exc})"]) from None
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{where}: expected a JSON object, got {type(rec).__name__}")
            continue
        missing = [k for k in required if k not in rec]
        if missing:
            problems.append(f"{where}: missing key(s) {', '.join(missing)}")
            continue
        yield n, where, rec
