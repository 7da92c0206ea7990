"""Stand-in vectors for the large indexes, where embedding every chunk on 2 cores would take hours.

A stand-in vector is one REAL chunk vector (from the 1,000-letter index, embedded by the real model)
picked by a hash of the chunk's text, plus seeded Gaussian noise, L2-normalized. So the large index has the
cluster structure of real embeddings (which IVF and FAISS timings depend on) without the embedding time;
the stand-in embedder carries the real model's name and dimension so the index opens with the real model,
and every query is embedded by the real model. Results on these indexes are speed and memory, not quality.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from chatbot.segments import read_segment
from chatbot.store import SEGMENTS_DIR

NOISE = 0.35  # relative to a unit vector: stand-ins of one pool vector stay near it (cosine ≈ 0.94)


class StandInEmbedder:
    """Embedder protocol; named like the real model so that the real model can query the index."""

    def __init__(self, name: str, pool: np.ndarray, noise: float = NOISE) -> None:
        self.name = name
        self.dim = int(pool.shape[1])
        self.pool = np.ascontiguousarray(pool, dtype=np.float32)
        self.noise = noise

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(self.dim).astype(np.float32) * (self.noise / np.sqrt(self.dim))
            out[row] = self.pool[seed % len(self.pool)] + noise
        normalized: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normalized


def index_vectors(index_dir: Path) -> np.ndarray:
    """Every vector stored in an index's segments (tombstones included), as one float32 array."""
    parts = [np.asarray(read_segment(folder).vectors, dtype=np.float32)
             for folder in sorted((index_dir / SEGMENTS_DIR).iterdir()) if folder.is_dir()]
    return np.concatenate(parts)
