"""The measurements, each through the product's public code paths (chatbot.retrieve/answer, the CLI)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHATBOT_BIN = Path(sys.executable).with_name("chatbot")
LIBRARIES = ("torch", "onnxruntime", "faiss-cpu", "sentence-transformers", "numpy", "jieba", "gradio", "transformers")


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, load, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1), "cpu": cpu,
            "python": platform.python_version(), "versions": versions, "load_average": os.getloadavg(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def code_fingerprint() -> dict[str, str]:
    """sha256 (12 hex digits) of every chatbot/*.py file: which version of the product was measured."""
    import hashlib

    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in sorted((ROOT / "chatbot").glob("*.py"))}


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 2), "n": len(ms)}


def latency(index_dir: Path, questions: list[str]) -> dict[str, Any]:
    """retrieve() and answer() p50/p95 in a warm process; the two alternate per question (shared machine).

    Calls the shared Chatbot that `chatbot.retrieve`/`chatbot.answer` delegate to (get_chatbot).
    """
    from chatbot.config import load_settings
    from chatbot.service import get_chatbot

    bot = get_chatbot(load_settings(index_dir=index_dir))
    started = time.perf_counter()
    bot.answer(questions[0])  # warm: model, index, letter directory, jieba
    first_s = time.perf_counter() - started
    retrieve_s, answer_s = [], []
    for question in questions:
        started = time.perf_counter()
        bot.retrieve(question)
        retrieve_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        bot.answer(question)
        answer_s.append(time.perf_counter() - started)
    r, a = percentiles(retrieve_s), percentiles(answer_s)
    return {"retrieve": r, "answer": a, "answer_minus_retrieve_p50_ms": round(a["p50_ms"] - r["p50_ms"], 2),
            "first_answer_s": round(first_s, 2)}


def quality(index_dir: Path, rows: list[dict[str, Any]], subset: set[str] | None = None) -> dict[str, Any]:
    """chatbot.evaluation over synthetic questions through the shared Chatbot; `subset`: ids also scored apart."""
    from chatbot.config import load_settings
    from chatbot.evaluation import Answers, EvalQuestion, evaluate
    from chatbot.service import get_chatbot

    questions = [EvalQuestion(r["id"], r["question"], tuple(r["answers"]), r["evidence"], r["kind"], r["doc"])
                 for r in rows]
    bot = cast(Answers, get_chatbot(load_settings(index_dir=index_dir)))
    report = evaluate(bot, questions)
    misses = {m.id: m for m in report.misses}
    by_kind: dict[str, list[bool]] = {}
    for q in questions:
        by_kind.setdefault(q.kind, []).append(q.id not in misses)
    out: dict[str, Any] = {
        "questions": report.n, "hit_at_1": report.hit_at_1, "hit_at_5": report.hit_at_5,
        "quote_at_1": report.quote_at_1, "answer_at_1": report.answer_at_1,
        "abstention": report.abstention, "false_abstention": report.false_abstention,
        "answer_p50_ms": report.latency_p50_ms,
        "all_ok_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
        "miss_examples": [{"id": m.id, "question": m.question, "rank": m.rank, "quote": m.quote[:80]}
                          for m in report.misses[:5]]}
    if subset:
        # Every question outside `misses` was right on all counts; a miss may still have rank 1 or the answer.
        chosen = [q.id for q in questions if q.id in subset and q.evidence is not None]  # as hit@1: answerable
        out["subset"] = {
            "questions": len(chosen),
            "hit_at_1": round(sum(i not in misses or misses[i].rank == 1 for i in chosen) / len(chosen), 4),
            "answer_at_1": round(sum(i not in misses or misses[i].answer_hit for i in chosen) / len(chosen), 4),
        }
    return out


def env(index_dir: Path, corpus_dir: Path) -> dict[str, str]:
    return {**os.environ, "CHATBOT_INDEX_DIR": str(index_dir), "CHATBOT_CORPUS_DIR": str(corpus_dir),
            "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def cli_seconds(args: list[str], index_dir: Path, corpus_dir: Path) -> float:
    """Wall seconds of one `chatbot …` command in a new process; raises when it fails."""
    started = time.perf_counter()
    subprocess.run([str(CHATBOT_BIN), *args], check=True, capture_output=True, cwd=ROOT,
                   env=env(index_dir, corpus_dir))
    return time.perf_counter() - started


def cold_ask(index_dir: Path, corpus_dir: Path, question: str, rounds: int = 3) -> dict[str, Any]:
    seconds = [cli_seconds(["ask", question, "--json"], index_dir, corpus_dir) for _ in range(rounds)]
    return {"median_s": round(statistics.median(seconds), 2), "runs_s": [round(s, 2) for s in seconds]}


def _post_ask(port: int, question: str) -> bool:
    body = json.dumps({"question": question}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status == 200 and "answer" in json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of the process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(index_dir: Path, corpus_dir: Path, questions: list[str], port: int = 7931,
          timeout_s: float = 300) -> dict[str, Any]:
    """`chatbot serve` from launch to its first answered POST /api/ask; then peak RSS after `questions`."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(CHATBOT_BIN), "serve", "--port", str(port)], cwd=ROOT,
                            env=env(index_dir, corpus_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = None
        while time.perf_counter() - started < timeout_s and proc.poll() is None:
            if _post_ask(port, questions[0]):
                first = time.perf_counter() - started
                break
            time.sleep(0.2)
        if first is None:
            return {"error": f"no answer within {timeout_s} s (exit code {proc.poll()})"}
        answered = sum(_post_ask(port, q) for q in questions)
        return {"first_answer_s": round(first, 2), "questions_after": len(questions), "answered": answered,
                "peak_rss_mb": round(_peak_rss_mb(proc.pid), 1)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def dir_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def ivf_recall(vectors: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """chatbot.segments.train_ivf at its defaults over `vectors`: its own recall and that of real queries."""
    from chatbot.segments import train_ivf

    started = time.perf_counter()
    index, nprobe, self_recall = train_ivf(vectors)
    train_s = time.perf_counter() - started
    measured = _ivf_measures(index, vectors, queries, (8, 16, 32, 64, 128, 256, nprobe))
    return {"vectors": len(vectors), "nlist": int(index.nlist), "nprobe": nprobe,
            "recall_at_10_sample": round(self_recall, 4), "queries": len(queries), "train_s": round(train_s, 1),
            **measured}


def _ivf_measures(index: Any, vectors: np.ndarray, queries: np.ndarray, probes: tuple[int, ...]) -> dict[str, Any]:
    """Recall@10 of real queries against exact search at each nprobe (the index's own last), searched as
    the product searches (refined_search), and the median search times."""
    import faiss

    from chatbot.segments import refined_search

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(queries, 10)
    own = int(index.nprobe)

    def refined(query: np.ndarray) -> np.ndarray:
        return refined_search(index, vectors, query, 10)[1]

    curve = {}
    for probe in sorted(set(probes)):
        index.nprobe = min(probe, index.nlist)
        curve[str(probe)] = _recall(truth, np.stack([refined(q[None, :]) for q in queries]))
    index.nprobe = own
    return {"recall_at_10_queries": curve[str(own)], "codes": type(index).__name__,
            "exact_search_ms": _search_seconds(lambda q: exact.search(q, 10), queries[:50]),
            "ivf_search_ms": _search_seconds(refined, queries[:50]), "real_query_recall_by_nprobe": curve}


def _search_seconds(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> float:
    import faiss

    faiss.omp_set_num_threads(1)  # as the product searches
    seconds = []
    for row in queries:
        started = time.perf_counter()
        search(row.reshape(1, -1))
        seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds) * 1000, 2)


def embedding_backends(out: Path, rounds: int) -> dict[str, Any]:
    """benchmarks/embedding_speed.py in a new process (it loads all three backends)."""
    target = out / "embedding_speed.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "embedding_speed.py"), "--rounds", str(rounds),
                    "--cold", "--json", str(target)], check=True, capture_output=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return result


def ivf_recall_of_segment(folder: Path, queries: np.ndarray) -> dict[str, Any]:
    """Recall@10 against exact search of a segment's IVF index AS WRITTEN (its nlist and nprobe), real queries."""
    from chatbot.segments import faiss_index, read_segment

    data = read_segment(folder)
    index: Any = faiss_index(folder, data)
    measured = _ivf_measures(index, data.vectors, queries, (8, 16, 32, 64, 128, 256, int(data.info["nprobe"])))
    return {"segment": folder.name, "vectors": len(data.vectors), "nlist": int(index.nlist), "nprobe": index.nprobe,
            "recall_at_10_proxy": data.info.get("recall_at_10"), "queries": len(queries), **measured}


def _recall(truth: np.ndarray, found: np.ndarray) -> float:
    k = truth.shape[1]
    return round(float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, found, strict=True)])), 4)
