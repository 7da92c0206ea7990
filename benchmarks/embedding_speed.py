"""Embedding backends side by side: torch fp32, ONNX Runtime fp32, ONNX Runtime int8.

Measures, in this one process and alternating the backends each round (the machine is shared, so
medians over rounds): encode throughput on ~250-character chunks of the real letter, single-query latency,
and dense top-1 retrieval over the letter's paragraphs for the answerable evaluation questions (hit@1 and
whether each backend's top-1 paragraph is the same as torch's). Optionally the cold start of a new process
(import, load, first vector). Prints a markdown table; --json writes the figures.

    .venv/bin/python benchmarks/embedding_speed.py [--rounds 3] [--cold] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
QUESTIONS = ROOT.parent / "shared" / "eval" / "questions.jsonl"
BACKENDS = ("torch", "onnx", "onnx-int8")
CHUNK_CHARS = 250

_COLD = """
import time; started = time.perf_counter()
import sys; from pathlib import Path
from chatbot.config import Settings
from chatbot.embedding import load_embedder
embedder = load_embedder(Settings(embedding_backend=sys.argv[1], cache_dir=Path(sys.argv[2])))
embedder.encode(["今年要建几个概念验证中心"])
print(time.perf_counter() - started)
"""


def letter_paragraphs(path: Path = LETTER) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def letter_chunks(paragraphs: list[str], max_chars: int = CHUNK_CHARS) -> list[str]:
    """Paragraphs cut at sentence ends into pieces of at most about `max_chars` characters."""
    chunks: list[str] = []
    for paragraph in paragraphs:
        current = ""
        for sentence in re.split(r"(?<=[。；！？])", paragraph):
            if current and len(current) + len(sentence) > max_chars:
                chunks.append(current)
                current = ""
            current += sentence
        if current:
            chunks.append(current)
    return chunks


def answerable_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row.get("evidence")]


def load_backends(cache_dir: Path) -> dict[str, Any]:
    from chatbot.config import Settings
    from chatbot.embedding import load_embedder

    return {name: load_embedder(Settings(embedding_backend=name, cache_dir=cache_dir)) for name in BACKENDS}


def _seconds(encode: Callable[[list[str]], object], texts: list[str]) -> float:
    started = time.perf_counter()
    encode(texts)
    return time.perf_counter() - started


def measure_speed(embedders: dict[str, Any], passages: list[str], queries: list[str], rounds: int
                  ) -> dict[str, dict[str, float]]:
    """Throughput (passages/s) and query latency p50/p95 (ms), backends alternating within each round."""
    throughput: dict[str, list[float]] = {name: [] for name in embedders}
    latency: dict[str, list[float]] = {name: [] for name in embedders}
    for embedder in embedders.values():  # warm-up: first calls allocate and tune kernels
        embedder.encode(passages[:32])
    for _ in range(rounds):
        for name, embedder in embedders.items():
            throughput[name].append(len(passages) / _seconds(embedder.encode, passages))
            for query in queries:
                latency[name].append(1000 * _seconds(embedder.encode, [query]))
    return {
        name: {
            "passages_per_s": statistics.median(throughput[name]),
            "query_p50_ms": statistics.median(latency[name]),
            "query_p95_ms": float(np.percentile(latency[name], 95)),
        }
        for name in embedders
    }


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def measure_retrieval(embedders: dict[str, Any], paragraphs: list[str], questions: list[dict[str, Any]]
                      ) -> dict[str, dict[str, float]]:
    """Dense top-1 paragraph by brute-force cosine: hit@1 and agreement with torch's top-1."""
    texts = [q["question"] for q in questions]
    top1 = {}
    for name, embedder in embedders.items():
        scores = embedder.encode(texts) @ embedder.encode(paragraphs).T
        top1[name] = scores.argmax(axis=1)
    out = {}
    for name, best in top1.items():
        pairs = zip(questions, best, strict=True)
        hits = [_compact(q["evidence"]) in _compact(paragraphs[i]) for q, i in pairs]
        out[name] = {
            "hit_at_1": sum(hits) / len(hits),
            "same_top1_as_torch": int((best == top1["torch"]).sum()),
            "questions": len(questions),
        }
    return out


def measure_cold_start(cache_dir: Path, rounds: int) -> dict[str, float]:
    """Seconds from a new process's first import to its first query vector (median, alternating)."""
    seconds: dict[str, list[float]] = {name: [] for name in BACKENDS}
    for _ in range(rounds):
        for name in BACKENDS:
            done = subprocess.run(
                [sys.executable, "-c", _COLD, name, str(cache_dir)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )
            seconds[name].append(float(done.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in seconds.items()}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    import onnxruntime
    import tokenizers
    import torch

    return {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__}


def print_table(results: dict[str, Any]) -> None:
    speed, retrieval, cold = results["speed"], results["retrieval"], results.get("cold_start_s", {})
    meta = results["machine"]
    libraries = " · ".join(f"{k} {v}" for k, v in meta["versions"].items())
    print(f"cores {meta['cores']} · {meta['cpu']} · {libraries}")
    print(f"{results['passages']} passages of ≤{CHUNK_CHARS} chars, {results['queries']} queries × "
          f"{results['rounds']} rounds; retrieval over {results['paragraphs']} paragraphs\n")
    print("| backend | passages/s | query p50 ms | query p95 ms | hit@1 | same top-1 as torch | cold s |")
    print("|---|---|---|---|---|---|---|")
    for name in BACKENDS:
        s, r = speed[name], retrieval[name]
        cold_s = f"{cold[name]:.2f}" if name in cold else "–"
        print(f"| {name} | {s['passages_per_s']:.1f} | {s['query_p50_ms']:.1f} | {s['query_p95_ms']:.1f} | "
              f"{r['hit_at_1']:.3f} | {r['same_top1_as_torch']}/{r['questions']} | {cold_s} |")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each measurement (median reported)")
    parser.add_argument("--passages", type=int, default=200, help="passages encoded per throughput round")
    parser.add_argument("--queries", type=int, default=50, help="single queries timed per round")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache", help="where the ONNX export lives")
    parser.add_argument("--letter", type=Path, default=LETTER, help="the letter whose text is encoded")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="evaluation questions (JSON lines)")
    parser.add_argument("--cold", action="store_true", help="also time cold starts in new processes")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # shows the one-time export, if any

    paragraphs, questions = letter_paragraphs(args.letter), answerable_questions(args.questions)
    chunks = letter_chunks(paragraphs)
    passages = (chunks * (args.passages // len(chunks) + 1))[: args.passages]
    queries = [q["question"] for q in questions]
    queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
    embedders = load_backends(args.cache_dir)
    results: dict[str, Any] = {
        "machine": {"cores": os.cpu_count(), "cpu": cpu_name(), "versions": versions()},
        "passages": len(passages), "queries": len(queries), "rounds": args.rounds,
        "paragraphs": len(paragraphs),
        "retrieval": measure_retrieval(embedders, paragraphs, questions),
        "speed": measure_speed(embedders, passages, queries, args.rounds),
    }
    if args.cold:
        results["cold_start_s"] = measure_cold_start(args.cache_dir, args.rounds)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
