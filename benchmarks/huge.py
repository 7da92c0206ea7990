"""The 100,000-letter step: the product's own index at the issue's largest size, with stand-in vectors.

Run it inside the long plan (`python -m benchmarks.run --long`) or on its own, against a fresh build:

    .venv/bin/python -m benchmarks.run --only huge --out benchmarks/out/huge-run

On its own it needs the real 1,000-letter index of an earlier run (benchmarks/out/work/index-1000) as the pool
of stand-in vectors (see benchmarks/standin.py), or `--pool FILE.npy` holding those vectors. Every figure here
is speed, memory and disk, never quality: the chunk vectors are stand-ins, the questions are embedded by the
real model.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import measure
from benchmarks.standin import StandInEmbedder, index_vectors
from benchmarks.synthetic import SyntheticLetter, question_rows, write_corpus
from chatbot.config import Settings, load_settings
from chatbot.embedding import Embedder
from chatbot.indexing import build_index, embed_texts
from chatbot.segments import INFO
from chatbot.store import SEGMENTS_DIR

log = logging.getLogger("benchmarks")


def load_pool(source: Path) -> np.ndarray:
    """Real chunk vectors: every vector of an index folder, or a saved .npy array."""
    if source.suffix == ".npy":
        pool: np.ndarray = np.load(source, allow_pickle=False)
        return pool
    if not (source / SEGMENTS_DIR).is_dir():
        raise FileNotFoundError(f"{source}: no index to draw stand-in vectors from; run the default plan first "
                                "(it builds benchmarks/out/work/index-1000) or pass --pool FILE.npy")
    return index_vectors(source)


def build(work: Path, letters: list[SyntheticLetter], pool: np.ndarray, model_name: str,
          results: dict[str, Any]) -> Settings:
    """The huge corpus through the real writer (build_index) with stand-in vectors."""
    size = len(letters)
    settings = load_settings(corpus_dir=work / f"corpus-{size}", index_dir=work / f"index-{size}")
    started = time.perf_counter()
    write_corpus(settings.corpus_dir, letters)
    written = time.perf_counter() - started
    with _timing_train_ivf() as train_seconds:
        built = build_index(settings, StandInEmbedder(model_name, pool))
    results["huge_build"] = {
        "letters": size, "chunks": built.chunks_embedded, "seconds": round(built.seconds, 1),
        "chunks_per_s_without_embedding": round(built.chunks_embedded / built.seconds, 1),
        "corpus_write_s": round(written, 1), "pool_vectors": len(pool), "vectors": "stand-in",
        "segments": _segment_infos(settings.index_dir), "train_ivf_s": [round(s, 1) for s in train_seconds]}
    return settings


@contextmanager
def _timing_train_ivf() -> Iterator[list[float]]:
    """Time each chatbot.segments.train_ivf call the writer makes (segment.json does not record it)."""
    from chatbot import segments

    original, seconds = segments.train_ivf, []

    def timed(vectors: np.ndarray, seed: int = 0) -> tuple[Any, int, float]:
        started = time.perf_counter()
        try:
            return original(vectors, seed)
        finally:
            seconds.append(time.perf_counter() - started)

    segments.train_ivf = timed
    try:
        yield seconds
    finally:
        segments.train_ivf = original


def _segment_infos(index_dir: Path) -> list[dict[str, Any]]:
    return [json.loads((folder / INFO).read_text(encoding="utf-8"))
            for folder in sorted((index_dir / SEGMENTS_DIR).iterdir()) if folder.is_dir()]


def measure_all(settings: Settings, letters: list[SyntheticLetter], medium: int, latency_questions: int,
                embedder: Embedder, results: dict[str, Any]) -> None:
    """Disk, open time, IVF recall of the index as built, latency, cold ask and the serving process."""
    size = len(letters)
    index_dir, corpus_dir = settings.index_dir, settings.corpus_dir
    rows = question_rows(letters[:medium])
    out: dict[str, Any] = {"letters": size, "vectors": "stand-in", "index_size_mb": measure.dir_mb(index_dir)}
    out["open_s"] = open_seconds(index_dir, embedder)
    queries = embed_texts(embedder, [r["question"] for r in rows[:200]])
    out["ivf"] = [measure.ivf_recall_of_segment(folder, queries)
                  for folder in sorted((index_dir / SEGMENTS_DIR).iterdir())
                  if folder.is_dir() and json.loads((folder / INFO).read_text())["kind"] == "ivf"]
    results["huge"] = out
    # The same question mix as the other sizes (measure_latency in run.py).
    asked = [r["question"] for r in rows]
    random.Random(20241 + 1).shuffle(asked)
    asked = (asked * (latency_questions // max(len(asked), 1) + 1))[:latency_questions]
    out["latency"] = measure.latency(index_dir, asked)
    out["cold_ask"] = measure.cold_ask(index_dir, corpus_dir, rows[0]["question"], rounds=2)
    out["serve"] = measure.serve(index_dir, corpus_dir, [r["question"] for r in rows[:20]], timeout_s=900)


def open_seconds(index_dir: Path, embedder: Embedder, rounds: int = 2) -> dict[str, Any]:
    """chatbot.store.open_index in this process (index only, no model), file cache warm after the first."""
    from chatbot.store import open_index

    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        snapshot = open_index(index_dir, model_name=embedder.name, dim=embedder.dim)
        seconds.append(time.perf_counter() - started)
        del snapshot
    return {"runs_s": [round(s, 2) for s in seconds], "min_s": round(min(seconds), 2)}
