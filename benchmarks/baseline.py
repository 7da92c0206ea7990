"""The naive baseline: fixed 500-character chunks, dense only, exact FAISS, the same embedder.

It is what a minimal "LangChain-style" pipeline does; every figure of the product is also given as a ratio
against it. A hit is the same as in chatbot.evaluation: the evidence (whitespace removed) inside the text of
the first chunk, and that chunk from the letter the question names.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.documents import load_document
from chatbot.embedding import Embedder
from chatbot.indexing import embed_texts

CHUNK_CHARS = 500


@dataclass
class BaselineIndex:
    doc_ids: list[str]
    texts: list[str]
    vectors: np.ndarray
    faiss: Any


def fixed_chunks(files: list[Path], size: int = CHUNK_CHARS) -> tuple[list[str], list[str]]:
    """(doc_id per chunk, chunk text): each letter's cleaned text cut every `size` characters."""
    doc_ids, texts = [], []
    for path in files:
        doc = load_document(path)
        for start in range(0, len(doc.text), size):
            doc_ids.append(doc.doc_id)
            texts.append(doc.text[start : start + size])
    return doc_ids, texts


def build(files: list[Path], embedder: Embedder) -> tuple[BaselineIndex, float]:
    """The baseline index over `files` and the seconds its embedding took."""
    doc_ids, texts = fixed_chunks(files)
    started = time.perf_counter()
    vectors = embed_texts(embedder, texts)
    return subset(BaselineIndex(doc_ids, texts, vectors, None), None), time.perf_counter() - started


def subset(index: BaselineIndex, keep_docs: set[str] | None) -> BaselineIndex:
    """The index restricted to the letters in `keep_docs` (all when None), with its exact FAISS index."""
    import faiss

    rows = [i for i, d in enumerate(index.doc_ids) if keep_docs is None or d in keep_docs]
    vectors = np.ascontiguousarray(index.vectors[rows], dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return BaselineIndex([index.doc_ids[i] for i in rows], [index.texts[i] for i in rows], vectors, flat)


def _compact(text: str) -> str:
    return "".join(text.split())


def evaluate(index: BaselineIndex, embedder: Embedder, questions: list[dict[str, Any]],
             subset: set[str] | None = None) -> dict[str, Any]:
    """hit@1 and query latency (encode + exact search), p50/p95 in milliseconds; `subset`: ids scored apart."""
    hits, seconds = [], []
    embedder.encode([questions[0]["question"]])  # warm
    for item in questions:
        started = time.perf_counter()
        vector = embedder.encode([item["question"]])
        _, rows = index.faiss.search(vector, 1)
        seconds.append(time.perf_counter() - started)
        row = int(rows[0][0])
        hits.append(index.doc_ids[row] == item["doc"] and _compact(item["evidence"]) in _compact(index.texts[row]))
    ms = sorted(s * 1000 for s in seconds)
    chosen = [hit for hit, item in zip(hits, questions, strict=True) if subset and item["id"] in subset]
    return {
        "subset": {"questions": len(chosen), "hit_at_1": round(sum(chosen) / len(chosen), 4)} if chosen else None,
        "questions": len(questions),
        "hit_at_1": round(sum(hits) / len(hits), 4),
        "retrieve_p50_ms": round(statistics.median(ms), 2),
        "retrieve_p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        "chunks": len(index.texts),
    }
