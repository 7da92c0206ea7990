"""The benchmark suite: one run writes benchmarks/results.json and benchmarks/RESULTS.md.

    .venv/bin/python -m benchmarks.run            # default, ≈ 25–30 min on 2 cores (what `make bench` runs)
    .venv/bin/python -m benchmarks.run --quick    # small sizes, a few minutes: checks the machinery
    .venv/bin/python -m benchmarks.run --long     # more questions and latency samples, plus 100,000 letters
    .venv/bin/python -m benchmarks.run --only huge --out DIR   # just the 100,000-letter step (benchmarks/huge.py)
    .venv/bin/python -m benchmarks.run --only ocr    # just the OCR and input-limit step (benchmarks/ocr_bench.py)

Corpora and indexes go to benchmarks/out/work/ (git-ignored). Sizes: 1, 100 and 1,000 synthetic letters
indexed with the real embedder (quality, build throughput, latency); 10,000 letters through the real
writer with stand-in vectors (latency, add-one-letter, memory, disk, IVF recall); see benchmarks/standin.py.
The long plan adds 100,000 letters (≈1M chunks) with stand-in vectors: benchmarks/huge.py, ≈ 40 min more.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import baseline, huge, measure, ocr_bench, report
from benchmarks.standin import StandInEmbedder, index_vectors
from benchmarks.synthetic import SyntheticLetter, generate, question_rows, write_corpus
from chatbot.config import Settings, load_settings
from chatbot.embedding import Embedder, load_embedder
from chatbot.indexing import add_files, build_index, embed_texts

log = logging.getLogger("benchmarks")
SEED = 20241
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Plan:
    real_sizes: tuple[int, int, int]  # small, medium, large with real embeddings
    standin_size: int
    extra_questions: int  # questions from letters beyond the medium size, at the large size
    latency_questions: int
    backend_rounds: int
    huge_size: int = 0  # letters of the stand-in index of benchmarks/huge.py; 0: not measured


PLANS = {
    "quick": Plan((1, 20, 100), 1_000, 40, 20, 1),
    "default": Plan((1, 100, 1_000), 10_000, 200, 60, 2),
    "long": Plan((1, 100, 1_000), 10_000, 600, 200, 3, huge_size=100_000),
}


def settings_for(work: Path, name: str) -> Settings:
    return load_settings(corpus_dir=work / f"corpus-{name}", index_dir=work / f"index-{name}")


def step(results: dict[str, Any], name: str) -> float:
    log.info("[%s] %s", time.strftime("%H:%M:%S"), name)
    results.setdefault("step_seconds", {})
    return time.perf_counter()


def build_real(work: Path, letters: list[SyntheticLetter], plan: Plan, embedder: Embedder,
               results: dict[str, Any]) -> None:
    """Index the three real-embedding sizes; the build throughput beside raw encode of the same chunks."""
    small, medium, large = plan.real_sizes
    for size in (small, medium, large):
        write_corpus(work / f"corpus-{size}", letters[:size])
    build_index(settings_for(work, str(small)), embedder)
    s_medium = settings_for(work, str(medium))
    from benchmarks.chunks import corpus_chunk_texts

    texts = corpus_chunk_texts(s_medium.corpus_dir, s_medium.chunk_max_chars)
    raw = [_raw_encode(embedder, texts)]
    built = build_index(s_medium, embedder)
    raw.append(_raw_encode(embedder, texts))
    raw_rate = len(texts) / sorted(raw)[0]  # the faster of the two raw runs: the stricter comparison
    build_rate = built.chunks_embedded / built.seconds
    results["build"] = {"letters": medium, "chunks": built.chunks_embedded, "build_s": round(built.seconds, 1),
                        "build_chunks_per_s": round(build_rate, 1), "raw_encode_s": [round(r, 1) for r in raw],
                        "raw_chunks_per_s": round(raw_rate, 1), "ratio": round(build_rate / raw_rate, 3)}
    s_large = settings_for(work, str(large))
    shutil.copytree(s_medium.index_dir, s_large.index_dir)  # the large corpus holds the medium one: incremental
    grown = build_index(s_large, embedder)
    results["build_incremental"] = {"letters": large, "new_chunks": grown.chunks_embedded,
                                    "seconds": round(grown.seconds, 1),
                                    "chunks_per_s": round(grown.chunks_embedded / grown.seconds, 1)}


def _raw_encode(embedder: Embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embed_texts(embedder, texts)
    return time.perf_counter() - started


def question_sets(letters: list[SyntheticLetter], plan: Plan) -> dict[int, list[dict[str, Any]]]:
    """Questions per real size; the large size gets the medium set (same questions, more letters) + extras."""
    small, medium, large = plan.real_sizes
    base = question_rows(letters[:medium])
    extras = question_rows(letters[medium:large])
    random.Random(SEED).shuffle(extras)
    return {small: question_rows(letters[:small]), medium: base, large: base + extras[: plan.extra_questions]}


def measure_quality(work: Path, letters: list[SyntheticLetter], plan: Plan, embedder: Embedder,
                    results: dict[str, Any]) -> None:
    """hit@1/answer@1 of the product and of the baseline at the real sizes, on the same questions."""
    sets = question_sets(letters, plan)
    large = plan.real_sizes[2]
    base_index, base_s = baseline.build(sorted((work / f"corpus-{large}").glob("*.txt")), embedder)
    results["baseline_build"] = {"letters": large, "chunks": len(base_index.texts), "embed_s": round(base_s, 1)}
    # At the large size the medium size's questions are scored apart: the same questions, 10x the letters.
    medium_ids = {row["id"] for row in sets[plan.real_sizes[1]]}
    quality: dict[str, Any] = {}
    for size, rows in sets.items():
        subset = medium_ids if size == large else None
        docs = {letter.doc_id for letter in letters[:size]}
        answerable = [row for row in rows if row["evidence"] is not None]  # the baseline cannot refuse
        quality[str(size)] = {
            "product": measure.quality(work / f"index-{size}", rows, subset),
            "baseline": baseline.evaluate(baseline.subset(base_index, docs), embedder, answerable, subset),
        }
    results["quality"] = quality


def build_standin(work: Path, letters: list[SyntheticLetter], plan: Plan, embedder: Embedder,
                  results: dict[str, Any]) -> Settings:
    """The large index through the real writer, with stand-in vectors drawn from the real 1,000-letter ones."""
    size = plan.standin_size
    settings = settings_for(work, str(size))
    write_corpus(settings.corpus_dir, letters[:size])
    pool = index_vectors(work / f"index-{plan.real_sizes[2]}")
    built = build_index(settings, StandInEmbedder(embedder.name, pool))
    results["standin_build"] = {"letters": size, "chunks": built.chunks_embedded, "seconds": round(built.seconds, 1),
                                "chunks_per_s_without_embedding": round(built.chunks_embedded / built.seconds, 1),
                                "pool_vectors": len(pool), "noise": "see benchmarks/standin.py"}
    return settings


def measure_add(work: Path, settings: Settings, extra: list[SyntheticLetter], embedder: Embedder,
                results: dict[str, Any]) -> None:
    """One new letter into the large index: in-process (add_files, real embedder) and `chatbot index add`."""
    paths = write_corpus(work / "incoming", extra)
    started = time.perf_counter()
    added = add_files(settings, embedder, [paths[0]])
    in_process = time.perf_counter() - started
    cli = measure.cli_seconds(["index", "add", str(paths[1])], settings.index_dir, settings.corpus_dir)
    results["add_one_letter"] = {"index_letters": results["standin_build"]["letters"],
                                 "in_process_s": round(in_process, 2), "chunks": added.chunks_embedded,
                                 "cli_wall_s": round(cli, 2)}


def measure_latency(work: Path, letters: list[SyntheticLetter], plan: Plan, sizes: list[int],
                    results: dict[str, Any]) -> None:
    rows = question_rows(letters[: plan.real_sizes[1]])
    random.Random(SEED + 1).shuffle(rows)
    out: dict[str, Any] = {}
    for size in sizes:
        asked = [r["question"] for r in rows if size > 1 or r["doc"] == letters[0].doc_id]
        asked = (asked * (plan.latency_questions // max(len(asked), 1) + 1))[: plan.latency_questions]
        out[str(size)] = measure.latency(work / f"index-{size}", asked)
        out[str(size)]["vectors"] = "real" if size in plan.real_sizes else "stand-in"
    results["latency"] = out


def measure_large(work: Path, settings: Settings, letters: list[SyntheticLetter], plan: Plan,
                  embedder: Embedder, results: dict[str, Any]) -> None:
    """Disk size, IVF recall, cold start and the serving process on the large index."""
    size = plan.standin_size
    results["index_size_mb"] = {str(size): measure.dir_mb(settings.index_dir),
                                str(plan.real_sizes[2]): measure.dir_mb(work / f"index-{plan.real_sizes[2]}")}
    rows = question_rows(letters[: plan.real_sizes[1]])
    queries = embed_texts(embedder, [r["question"] for r in rows[:200]])
    results["ivf"] = measure.ivf_recall(index_vectors(settings.index_dir), queries)
    large = plan.real_sizes[2]
    results["cold_ask"] = measure.cold_ask(work / f"index-{large}", work / f"corpus-{large}", rows[0]["question"])
    results["cold_ask"]["index_letters"] = large
    results["serve"] = measure.serve(settings.index_dir, settings.corpus_dir, [r["question"] for r in rows[:20]])
    results["serve"]["index_letters"] = size + 2


def run(plan_name: str, out: Path) -> dict[str, Any]:
    plan = PLANS[plan_name]
    work = HERE / "out" / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict[str, Any] = {"plan": plan_name, "seed": SEED, "machine": measure.machine(),
                               "code": measure.code_fingerprint()}
    settings = load_settings()
    embedder = load_embedder(settings)
    results["embedder"] = {"model": settings.embedding_model, "backend": settings.embedding_backend,
                           "dim": embedder.dim}
    # One corpus: the stand-in size's letters, two more to add, and (long plan) the rest of the huge corpus.
    everything = generate(max(plan.standin_size + 2, plan.huge_size), SEED)
    extra, letters = everything[plan.standin_size:plan.standin_size + 2], everything[:plan.standin_size]
    steps: list[tuple[str, Callable[[], object]]] = [
        ("build (real embeddings)", lambda: build_real(work, letters, plan, embedder, results)),
        ("quality + baseline", lambda: measure_quality(work, letters, plan, embedder, results)),
        ("stand-in index", lambda: results.update(_large=build_standin(work, letters, plan, embedder, results))),
        ("add one letter", lambda: measure_add(work, results["_large"], extra, embedder, results)),
        ("latency", lambda: measure_latency(work, letters, plan, [*plan.real_sizes, plan.standin_size], results)),
        ("large index", lambda: measure_large(work, results["_large"], letters, plan, embedder, results)),
        ("embedding backends", lambda: results.update(
            embedding_backends=measure.embedding_backends(work, plan.backend_rounds))),
        ("ocr and input limits", lambda: results.update(ocr=ocr_bench.measure_all(work, embedder))),
    ]
    if plan.huge_size:
        pool = work / f"index-{plan.real_sizes[2]}"
        steps.append((f"{plan.huge_size} letters (stand-in)", lambda: run_huge(
            work, everything[:plan.huge_size], plan, huge.load_pool(pool), embedder, results)))
    for name, action in steps:
        started = step(results, name)
        action()
        results["step_seconds"][name] = round(time.perf_counter() - started, 1)
        results["load_at_end"] = os.getloadavg()
        _write(results, out, plan)
    return results


def run_huge(work: Path, letters: list[SyntheticLetter], plan: Plan, pool: Any, embedder: Embedder,
             results: dict[str, Any]) -> None:
    """Build the huge stand-in index, measure it, then delete it (several GB) unless CHATBOT_BENCH_KEEP is set."""
    settings = huge.build(work, letters, pool, embedder.name, results)
    _write_partial(results)
    huge.measure_all(settings, letters, plan.real_sizes[1], plan.latency_questions, embedder, results)
    if not os.environ.get("CHATBOT_BENCH_KEEP"):
        shutil.rmtree(settings.index_dir, ignore_errors=True)
        shutil.rmtree(settings.corpus_dir, ignore_errors=True)


def _write_partial(results: dict[str, Any]) -> None:
    log.info("[%s] built: %s", time.strftime("%H:%M:%S"),
             {k: v for k, v in results.get("huge_build", {}).items() if k != "segments"})


def run_only_huge(out: Path, pool_source: Path) -> dict[str, Any]:
    """The long plan's huge step alone, in its own work folder; merged into --out/results.json if present."""
    plan = PLANS["long"]
    work = HERE / "out" / "work-huge"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    previous = out / "results.json"
    results: dict[str, Any] = (json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else
                               {"plan": "long", "seed": SEED})
    results.update(machine=measure.machine(), code=measure.code_fingerprint())
    settings = load_settings()
    embedder = load_embedder(settings)
    results.setdefault("embedder", {"model": settings.embedding_model, "backend": settings.embedding_backend,
                                    "dim": embedder.dim})
    pool = huge.load_pool(pool_source)
    started = step(results, "generate")
    letters = generate(plan.huge_size, SEED)
    results["step_seconds"]["generate huge corpus"] = round(time.perf_counter() - started, 1)
    started = step(results, "huge")
    run_huge(work, letters, plan, pool, embedder, results)
    results["step_seconds"][f"{plan.huge_size} letters (stand-in)"] = round(time.perf_counter() - started, 1)
    results["load_at_end"] = os.getloadavg()
    _write(results, out, plan)
    return results


def run_only_ocr(out: Path) -> dict[str, Any]:
    """The OCR step alone; merged into --out/results.json when one is there (its plan is kept)."""
    work = HERE / "out" / "work-ocr"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    previous = out / "results.json"
    results: dict[str, Any] = (json.loads(previous.read_text(encoding="utf-8")) if previous.is_file() else
                               {"plan": "default", "seed": SEED})
    results.update(machine=measure.machine(), code=measure.code_fingerprint())
    settings = load_settings()
    embedder = load_embedder(settings)
    results.setdefault("embedder", {"model": settings.embedding_model, "backend": settings.embedding_backend,
                                    "dim": embedder.dim})
    started = step(results, "ocr and input limits")
    results["ocr"] = ocr_bench.measure_all(work, embedder)
    results["step_seconds"]["ocr and input limits"] = round(time.perf_counter() - started, 1)
    results["load_at_end"] = os.getloadavg()
    _write(results, out, PLANS[results["plan"]])
    return results


def _write(results: dict[str, Any], out: Path, plan: Plan) -> None:
    public = {k: v for k, v in results.items() if not k.startswith("_")}
    public["targets"] = report.targets(public, plan)
    shown = dict(public)
    if (out / "load.json").is_file():  # benchmarks/load.py's runs, measured apart (load.json keeps them)
        shown["load"] = json.loads((out / "load.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(public, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "RESULTS.md").write_text(report.markdown(shown, plan), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (1/20/100 real, 1,000 stand-in)")
    size.add_argument("--long", action="store_true", help="more questions, latency samples and rounds")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.json and RESULTS.md go")
    parser.add_argument("--only", choices=("huge", "ocr"),
                        help="run one step alone: huge = the 100,000-letter stand-in index (benchmarks/huge.py); "
                             "ocr = OCR speed and accuracy, a scanned letter added, a .docx bomb refused")
    parser.add_argument("--pool", type=Path, default=HERE / "out" / "work" / "index-1000",
                        help="with --only huge: the real index (or .npy) whose vectors the stand-ins are drawn from")
    parser.add_argument("--render", action="store_true",
                        help="only re-render RESULTS.md from the results.json in --out (no measurement)")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        _write(results, args.out, PLANS[results["plan"]])
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Import the whole query path now: a module imported lazily later could be another version of the file
    # when chatbot/ is edited during the run (the fingerprint in results.json records what was measured).
    import chatbot.compose
    import chatbot.evaluation
    import chatbot.service  # noqa: F401

    for noisy in ("chatbot", "jieba", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.only == "huge":
        run_only_huge(args.out, args.pool)
        return
    if args.only == "ocr":
        run_only_ocr(args.out)
        return
    run("quick" if args.quick else "long" if args.long else "default", args.out)


if __name__ == "__main__":
    main()
