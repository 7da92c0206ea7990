"""Targets of issue 5 checked against the results, and RESULTS.md rendered from results.json."""

from __future__ import annotations

from typing import Any, Protocol


class _Plan(Protocol):
    @property
    def real_sizes(self) -> tuple[int, int, int]: ...
    @property
    def standin_size(self) -> int: ...
    @property
    def huge_size(self) -> int: ...


def _get(results: dict[str, Any], *path: str) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def targets(results: dict[str, Any], plan: _Plan) -> list[dict[str, Any]]:
    """Each target: what, the measured value, the limit, and whether it is met (None: not measured)."""
    small, medium, large = (str(s) for s in plan.real_sizes)
    big = str(plan.standin_size)
    hit_medium = _get(results, "quality", medium, "product", "hit_at_1")
    hit_large = _get(results, "quality", large, "product", "subset", "hit_at_1")
    drop = None if hit_medium is None or hit_large is None else round((hit_medium - hit_large) * 100, 1)
    answer_add = [(_get(results, "latency", s, "answer_minus_retrieve_p50_ms"), s) for s in (small, large, big)]
    huge = _get(results, "huge", "letters")
    if huge is not None:
        answer_add.append((_get(results, "huge", "latency", "answer_minus_retrieve_p50_ms"), f"{huge} (stand-in)"))
    rows = [
        ("build throughput / raw encode", _get(results, "build", "ratio"), ">=", 0.9),
        (f"add one letter to {big} letters, in-process (s)", _get(results, "add_one_letter", "in_process_s"),
         "<=", 5.0),
        (f"retrieve() p50 at {small} letter (ms)", _get(results, "latency", small, "retrieve", "p50_ms"), "<=", 25.0),
        _retrieve_at_scale(results, big),
        *[(f"answer() − retrieve() p50 at {s} letters (ms)", v, "<=", 15.0) for v, s in answer_add],
        ("cold `chatbot ask`, median of 3 (s)", _get(results, "cold_ask", "median_s"), "<=", 6.0),
        (f"serving peak RSS at {big} letters (MB)", _get(results, "serve", "peak_rss_mb"), "<=", 1536.0),
        (f"hit@1 drop from {medium} to {large} letters, same questions (points)", drop, "<=", 5.0),
        ("IVF recall@10 vs exact, real queries", _get(results, "ivf", "recall_at_10_queries"), ">=", 0.99),
        (f"answer() p50 at {large} letters (ms; issue 10)", _get(results, "latency", large, "answer", "p50_ms"),
         "<=", 25.0),
        *_ocr_targets(results),
    ]
    if huge is not None:
        ivf = _get(results, "huge", "ivf") or [{}]
        rows += [
            (f"IVF recall@10 vs exact at {huge} letters, index as written, real queries",
             min(seg.get("recall_at_10_queries", 0.0) for seg in ivf) if ivf != [{}] else None, ">=", 0.99),
            (f"cold `chatbot ask` at {huge} letters (stand-in), median (s)",
             _get(results, "huge", "cold_ask", "median_s"), "<=", 6.0),
        ]
    out = []
    for what, value, op, limit in rows:
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out.append({"target": what, "value": value, "limit": f"{op} {limit}", "met": met})
    return out


def _ocr_targets(results: dict[str, Any]) -> list[tuple[str, Any, str, float]]:
    """Issue 11: OCR character similarity, worst clean and worst noisy scan."""
    rows = _get(results, "ocr", "accuracy") or []
    out = []
    for kind, limit in (("clean", 0.97), ("noisy", 0.93)):
        sims = [row["similarity"] for row in rows if kind in row["scan"]]
        out.append((f"OCR similarity, worst {kind} scan (issue 11)", min(sims) if sims else None, ">=", limit))
    return out


def _retrieve_at_scale(results: dict[str, Any], big: str) -> tuple[str, Any, str, float]:
    """The 60 ms target is for 100,000 letters: that figure when measured, else the stand-in size's (a lower bound)."""
    huge = _get(results, "huge", "letters")
    if huge is not None:
        return (f"retrieve() p50 at {huge} letters, stand-in vectors (ms)",
                _get(results, "huge", "latency", "retrieve", "p50_ms"), "<=", 60.0)
    return (f"retrieve() p50 at {big} letters, stand-in vectors (ms; target is for 100,000, not measured "
            "in this plan: run --long)", _get(results, "latency", big, "retrieve", "p50_ms"), "<=", 60.0)


def _mark(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "MISSED")


def markdown(results: dict[str, Any], plan: _Plan) -> str:
    parts = [_header(results), _targets_table(results), _quality_table(results, plan), _latency_table(results),
             _scale_section(results), _huge_section(results), _backends_table(results), _ocr_section(results),
             _load_section(results),
             _method()]
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(results: dict[str, Any]) -> str:
    m, e = results["machine"], results.get("embedder", {})
    libs = " · ".join(f"{k} {v}" for k, v in m["versions"].items())
    load = ", ".join(f"{x:.2f}" for x in m["load_average"])
    return (
        "# Benchmark results\n\n"
        "Generated by `python -m benchmarks.run` (`make bench`); do not edit by hand. "
        f"Plan: **{results['plan']}**, seed {results['seed']}.\n\n"
        "| machine | |\n|---|---|\n"
        f"| date (UTC) | {m['date']} |\n| CPU | {m['cpu']} |\n| cores | {m['cores']} |\n"
        f"| memory | {m['memory_gb']} GB |\n| load average at start (1/5/15 min; the machine is shared) | {load} |\n"
        f"| Python | {m['python']} |\n| libraries | {libs} |\n"
        f"| embedding | {e.get('model')} via {e.get('backend')} (dim {e.get('dim')}) |\n"
        f"| load average at the end | {', '.join(f'{x:.2f}' for x in results.get('load_at_end', []))} |"
    )


def _targets_table(results: dict[str, Any]) -> str:
    lines = ["## Targets (issues 5, 10, 11)", "", "| target | measured | limit | |", "|---|---|---|---|"]
    for row in results.get("targets", []):
        lines.append(f"| {row['target']} | {row['value']} | {row['limit']} | {_mark(row['met'])} |")
    return "\n".join(lines)


def _quality_table(results: dict[str, Any], plan: _Plan) -> str:
    quality = results.get("quality")
    if not quality:
        return ""
    lines = ["## Quality (real embeddings, synthetic questions)", "",
             "| letters | questions | hit@1 | hit@5 | quote@1 | answer@1 | baseline hit@1 | hit@1 ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for size, entry in quality.items():
        product, base = entry["product"], entry["baseline"]
        lines.append(f"| {size} | {product['questions']} | {product['hit_at_1']} | {product['hit_at_5']} | "
                     f"{product['quote_at_1']} | {product['answer_at_1']} | {base['hit_at_1']} | "
                     f"{_ratio(product['hit_at_1'], base['hit_at_1'])} |")
        sub, base_sub = product.get("subset"), base.get("subset")
        if sub and base_sub:
            lines.append(f"| {size}, only the {sub['questions']} questions of the medium size | {sub['questions']} | "
                         f"{sub['hit_at_1']} | – | – | {sub['answer_at_1']} | {base_sub['hit_at_1']} | "
                         f"{_ratio(sub['hit_at_1'], base_sub['hit_at_1'])} |")
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "∞"


def _latency_table(results: dict[str, Any]) -> str:
    latency = results.get("latency")
    if not latency:
        return ""
    base = _get(results, "quality", max(results.get("quality", {"0": 0}), key=int), "baseline") or {}
    lines = ["## Latency (warm process, real query embedding)", "",
             "| letters | vectors | retrieve p50 ms | retrieve p95 ms | answer p50 ms | answer p95 ms | "
             "answer − retrieve p50 ms | first answer of the process, s |", "|---|---|---|---|---|---|---|---|"]
    for size, entry in latency.items():
        r, a = entry["retrieve"], entry["answer"]
        lines.append(f"| {size} | {entry['vectors']} | {r['p50_ms']} | {r['p95_ms']} | {a['p50_ms']} | "
                     f"{a['p95_ms']} | {entry['answer_minus_retrieve_p50_ms']} | {entry.get('first_answer_s', '–')} |")
    lines.append("\nThe first answer of a process loads the model, jieba, the index and its letter directory "
                 "(file cache warm).")
    if base:
        lines.append(f"\nBaseline (500-char chunks, dense only, exact FAISS) at {base.get('chunks')} chunks: "
                     f"retrieve p50 {base.get('retrieve_p50_ms')} ms, p95 {base.get('retrieve_p95_ms')} ms.")
    return "\n".join(lines)


def _scale_section(results: dict[str, Any]) -> str:
    rows = [
        ("build (real embeddings)", results.get("build")),
        ("incremental build to the large real size", results.get("build_incremental")),
        ("baseline embedding", results.get("baseline_build")),
        ("stand-in index build (parse + chunk + jieba + write, no embedding)", results.get("standin_build")),
        ("add one letter", results.get("add_one_letter")),
        ("index size on disk (MB)", results.get("index_size_mb")),
        ("IVF (chatbot.segments.train_ivf defaults)", results.get("ivf")),
        ("cold `chatbot ask`", results.get("cold_ask")),
        ("`chatbot serve` to first answer, peak RSS", results.get("serve")),
        ("step seconds", results.get("step_seconds")),
    ]
    lines = ["## Build, add, size, memory, cold start", "", "| measurement | figures |", "|---|---|"]
    for name, value in rows:
        if value is not None:
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
            lines.append(f"| {name} | {text} |")
    return "\n".join(lines)


def _huge_section(results: dict[str, Any]) -> str:
    out, build = results.get("huge"), results.get("huge_build")
    if not out and not build:
        return ""
    letters = (out or build or {}).get("letters")
    lines = [f"## {letters} letters (stand-in vectors: speed, memory and disk only, never quality)", "",
             "| measurement | figures |", "|---|---|"]
    if build:
        lines.append("| build (parse + chunk + jieba + write + IVF training, no embedding) | "
                     + _pairs({k: v for k, v in build.items() if k != "segments"}) + " |")
        for seg in build.get("segments", []):
            lines.append(f"| segment as written (segment.json) | {_pairs(seg)} |")
    if out:
        lat = out.get("latency", {})
        for name in ("retrieve", "answer"):
            if name in lat:
                lines.append(f"| {name}() warm, real query embedding (ms) | {_pairs(lat[name])} |")
        if "answer_minus_retrieve_p50_ms" in lat:
            lines.append(f"| answer() − retrieve() p50 (ms) | {lat['answer_minus_retrieve_p50_ms']} |")
        lines.append(f"| index size on disk (MB) | {out.get('index_size_mb')} |")
        lines.append(f"| open_index in-process, no model (s) | {_pairs(out.get('open_s', {}))} |")
        for seg in out.get("ivf", []):
            lines.append(f"| IVF as written, real queries | {_pairs(seg)} |")
        lines.append(f"| cold `chatbot ask` | {_pairs(out.get('cold_ask', {}))} |")
        lines.append(f"| `chatbot serve` to first answer, peak RSS | {_pairs(out.get('serve', {}))} |")
    return "\n".join(lines)


def _pairs(value: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in value.items())


def _backends_table(results: dict[str, Any]) -> str:
    data = results.get("embedding_backends")
    if not data:
        return ""
    cold = data.get("cold_start_s", {})
    lines = ["## Embedding backends (benchmarks/embedding_speed.py, same run)", "",
             f"{data['passages']} passages of ≤250 characters, {data['queries']} queries × {data['rounds']} rounds; "
             "hit@1 = dense top-1 paragraph of the real letter for the evaluation questions.", "",
             "| backend | passages/s | query p50 ms | query p95 ms | hit@1 | same top-1 as torch | cold start s |",
             "|---|---|---|---|---|---|---|"]
    for name, s in data["speed"].items():
        r = data["retrieval"][name]
        c = f"{cold[name]:.2f}" if name in cold else "–"
        lines.append(f"| {name} | {s['passages_per_s']:.1f} | {s['query_p50_ms']:.1f} | {s['query_p95_ms']:.1f} | "
                     f"{r['hit_at_1']:.3f} | {r['same_top1_as_torch']}/{r['questions']} | {c} |")
    return "\n".join(lines)


def _load_section(results: dict[str, Any]) -> str:
    """benchmarks/load.py's runs (benchmarks/load.json), one column per server setting."""
    runs = list((results.get("load") or {}).values())
    if not runs:
        return ""

    def row(label: str, value: Any) -> str:
        return f"| {label} | " + " | ".join(str(value(r)) for r in runs) + " |"

    def writes(r: dict[str, Any]) -> str:
        return "; ".join(f"{w['write']} {w['seconds']} s" for w in r["writes"])

    lines = [
        "## Load test (issue 12)", "",
        "`python -m benchmarks.load [--keep-alive S]`: HTTP API clients asking back to back, chat sessions "
        "(Gradio's queue, as the browser does it; a pause between questions) and idle API clients (a pause of about "
        "5 s, the keep-alive of uvicorn's default and of httpx's pool) ask questions of known answer while "
        "`chatbot index build --full` and `chatbot index add` (replacing the real letter) commit in turn. An error "
        "is anything but an answer (a reset connection, a 5xx, a failed chat event); a wrong answer lacks the "
        "expected figure or letter. `ReadError` is a connection reset by the server as it closed an idle "
        "connection the client was reusing. The load generator shares the 2 cores with the server and the "
        "writer, so latencies are those of a saturated machine (the API answers 4 questions at a time, the "
        "chat 4 more; the rest wait).", "",
        "| | " + " | ".join(r["server"] for r in runs) + " |", "|---|" + "---|" * len(runs),
        row("date (UTC)", lambda r: r["date"]),
        row("clients", lambda r: f"{r['api_clients']} API + {r['chat_sessions']} chat "
                                 f"(pause {r['chat_think_s'][0]:g}–{r['chat_think_s'][1]:g} s) + "
                                 f"{r.get('idle_clients', 0)} idle API (pause "
                                 f"{r.get('idle_pause_s', [0, 0])[0]:g}–{r.get('idle_pause_s', [0, 0])[1]:g} s), "
                                 f"{r['seconds']:g} s"),
        row("index", lambda r: f"{r['letters']} letters, {r['chunks']} chunks; {r['questions']} questions"),
        row("writes (generation before → after)",
            lambda r: f"{writes(r)} ({r['generations'][0]} → {r['generations'][1]})"),
    ]
    for kind in ("api", "chat", "idle"):
        lines += [
            row(f"{kind}: requests / errors / wrong answers",
                lambda r, k=kind: f"{r[k]['requests']} / {r[k]['errors']} / {r[k]['wrong']}" if k in r else "—"),
            row(f"{kind}: errors by kind", lambda r, k=kind: (r[k]["errors_by_kind"] or "—") if k in r else "—"),
            row(f"{kind}: p50 / p95 (ms)", lambda r, k=kind: f"{r[k]['p50_ms']} / {r[k]['p95_ms']}" if k in r else "—"),
        ]
    lines.append(row("server peak RSS (MB)", lambda r: r["server_peak_rss_mb"]))
    return "\n".join(lines)


def _ocr_section(results: dict[str, Any]) -> str:
    ocr = results.get("ocr")
    if not ocr:
        return ""
    lines = ["## OCR and input limits (issues 11 and 12; benchmarks/ocr_bench.py)", "",
             "Scans drawn by benchmarks/scans.py at 150 dpi; similarity = difflib ratio to the source text, "
             "whitespace removed; seconds = `load_document` (render, OCR, layout, metadata).", "",
             "| scan | pages | similarity | OCR confidence | s/page | 文号 | deputies | date |",
             "|---|---|---|---|---|---|---|---|"]
    for row in ocr.get("accuracy", []):
        lines.append(f"| {row['scan']} | {row['pages']} | {row['similarity']} | {row['ocr_confidence']} | "
                     f"{row['seconds_per_page']} | {row['doc_id']} | {'、'.join(row['deputies'])} | {row['date']} |")
    add, bomb = ocr.get("add_scanned_letter"), ocr.get("docx_bomb")
    if add:
        lines.append(f"\nAdding a {add['pages']}-page scanned letter ({add['chunks']} chunks): "
                     f"{add['in_process_s']} s in process (`add_files`), {add['cli_wall_s']} s with "
                     "`chatbot index add` in a new process.")
    if bomb:
        lines.append(f"\n`chatbot index add` of a {bomb['file_kb']} KB .docx of {bomb['paragraphs']:,} empty "
                     f"paragraphs: exit code {bomb['exit_code']} after {bomb['wall_s']} s, peak RSS "
                     f"{bomb['peak_rss_mb']} MB — {bomb['message']}")
    return "\n".join(lines)


def _method() -> str:
    return """## How these figures were made

- Corpus: `benchmarks/synthetic.py` (deterministic from the seed), in the conventions of real letters: county,
  city and province departments; with or without a 文号; headings of several forms, salutations, the
  suggestion's record above the reply, labelled lines (办复类别, 联系人 …), contact on one line or two, dates in
  several forms or none, half-width punctuation, short letters without sections and long ones with （一）/一是.
  The body calls its own place 我县/全市 and its unit 我局, so a question naming the place or unit is answered
  only through the letter's identity. Questions name the place (with or without its suffix), the unit (short
  forms), the deputy, the number or the 文号; meta questions ask contacts and labelled lines; near misses
  (another year or place, a field the letter lacks) have no evidence. Letters share vocabulary and sentence
  shapes; each asked fact has a place/year/noun key used by no other letter, and every question's evidence
  occurs in exactly one letter. The first N letters of a larger corpus are the N-letter corpus, so the medium
  size's questions are asked again at the large size ("same questions").
- Real sizes are built with `chatbot.indexing.build_index` and the configured embedder; the large real index
  grows incrementally from the medium one (only new letters embedded). Build throughput is the medium build's
  chunks/s beside `embed_texts` over the same chunk texts, measured twice in the same run around the build (the
  faster raw run is used).
- The stand-in index goes through the real writer (`build_index`: parsing, chunking, jieba, segments, SQLite)
  with stand-in vectors: a real chunk vector from the large real index chosen by a hash of the chunk text plus
  seeded Gaussian noise (`benchmarks/standin.py`). Queries are embedded by the real model. Its figures are speed,
  memory and disk only, never quality.
- Latency: `chatbot.retrieve` / `chatbot.answer` in this process after a warm-up, alternating per question.
- Add one letter: `chatbot.indexing.add_files` with the real embedder, then `chatbot index add` in a new process.
- Cold start: `chatbot ask "…" --json` in a new process (median of 3); serve: `chatbot serve` launched until its
  first successful `POST /api/ask`, then 20 more questions, peak RSS = VmHWM of the serving process.
- IVF: `chatbot.segments.train_ivf` over all vectors of the stand-in index (it is below the writer's
  `IVF_MIN_VECTORS`, so the writer itself serves it exactly), recall@10 against exact search for its own
  sample and for real question embeddings, searched as the product searches (8-bit codes, the best 2k
  re-scored on the float32 vectors: `chatbot.segments.refined_search`).
- Baseline: fixed 500-character chunks of each letter's cleaned text, dense only, exact `IndexFlatIP`, the same
  embedder and questions; a hit needs the evidence inside the first chunk of the right letter.
- 100,000 letters (long plan only, `--long`, or alone with `--only huge`; benchmarks/huge.py): the same
  writer and stand-in vectors as the 10,000-letter index, ≈1M chunks in one segment, which the writer serves
  with IVF (`chatbot.segments.train_ivf`). Latency uses the same question mix as the other sizes; open time is
  `open_index` in-process; cold ask and serve as above, on that index. When the plan has no 100,000-letter step,
  the 60 ms target row shows the 10,000-letter figure, a lower bound."""
