"""Load test (issue 12): API clients and chat sessions ask questions of known answer from `chatbot serve` while
the index is rebuilt from scratch (`chatbot index build --full`) and a letter is replaced (`chatbot index add`).

    .venv/bin/python -m benchmarks.load                  # 50 + 20 idle API clients, 20 chat sessions, 60 s (≈ 3 min)
    .venv/bin/python -m benchmarks.load --keep-alive 5   # the same against uvicorn's default 5 s keep-alive

Not part of `make test`. Three kinds of client: API clients asking back to back, chat sessions (Gradio's
queue, as the browser uses it, pausing 2–8 s between questions) and "idle" API clients pausing 4.95–5.05 s,
about as long as uvicorn's default keep-alive and httpx's pool expiry (5 s): the pause at which a reused
connection can meet the server closing it (issue 12's resets). Every reply is checked: an error is anything
but a 200 with an answer (a reset connection, a 5xx, a failed chat event); a wrong answer is a 200 whose
answer lacks the expected figure or cites another letter. The questions are those the index answers right
before the load starts (preflight). Results go to benchmarks/load.json (one entry per server setting) and
the "Load test" section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.synthetic import generate, write_corpus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
REAL_QUESTION = ("2024年计划建成几家概念验证中心", ("5家",), "温科提复〔2024〕91号")
SEED = 1212


@dataclass(frozen=True)
class Ask:
    question: str
    answers: tuple[str, ...]
    doc: str

    def right(self, answer: str, cited: str) -> bool:
        return any(a in answer for a in self.answers) and self.doc in cited


@dataclass
class Tally:
    """Outcomes of one kind of client: latencies of the answered, wrong answers, errors by kind."""

    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, wrong: str | None = None, error: str | None = None) -> None:
        with self.lock:
            if error is not None:
                self.errors[error] = self.errors.get(error, 0) + 1
                return
            self.latencies.append(seconds)
            if wrong is not None:
                self.wrong.append(wrong)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        pick = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)) if lat else (lambda q: None)
        return {"requests": len(lat) + sum(self.errors.values()), "errors": sum(self.errors.values()),
                "errors_by_kind": self.errors, "wrong": len(self.wrong), "wrong_examples": self.wrong[:5],
                "p50_ms": pick(0.5), "p95_ms": pick(0.95),
                "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None}


# ---------------------------------------------------------------- setup
def prepare(work: Path, letters: int) -> tuple[Path, Path, list[Ask]]:
    """A corpus of the real letter and `letters` synthetic ones, indexed; the candidate questions."""
    if work.exists():
        shutil.rmtree(work)
    corpus, index = work / "corpus", work / "index"
    synthetic = generate(letters, seed=SEED)
    write_corpus(corpus, synthetic)
    shutil.copy(REAL_LETTER, corpus)
    asks = [Ask(*REAL_QUESTION)] + [Ask(q.question, tuple(q.answers), q.doc)
                                    for letter in synthetic for q in letter.questions if q.kind != "oos"]
    _chatbot("index", "build", "--corpus", str(corpus), "--index", str(index))
    return corpus, index, asks


def _chatbot(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).parent / "chatbot"), *args], check=True, capture_output=True)
    return time.monotonic() - started


def start_server(corpus: Path, index: Path, port: int, keep_alive: float | None) -> subprocess.Popen[bytes]:
    """`chatbot serve` as shipped, or (keep_alive given) the same app under uvicorn with that keep-alive."""
    if keep_alive is None:
        command = [str(Path(sys.executable).parent / "chatbot"), "serve", "--corpus", str(corpus),
                   "--index", str(index), "--port", str(port)]
    else:
        code = ("import uvicorn; from chatbot.app import create_app; from chatbot.config import load_settings; "
                f"s = load_settings(corpus_dir={str(corpus)!r}, index_dir={str(index)!r}); "
                f"uvicorn.run(create_app(s), port={port}, log_level='warning', timeout_keep_alive={keep_alive})")
        command = [sys.executable, "-c", code]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("the server did not come up within 120 s")


def preflight(base: str, asks: list[Ask], keep: int) -> list[Ask]:
    """The first `keep` questions the idle server answers right."""
    right = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for ask in asks:
            body = client.post("/api/ask", json={"question": ask.question}).json()
            cited = body["passages"][0]["doc_id"] if body.get("passages") else ""
            if not body.get("abstained") and ask.right(body.get("answer", ""), cited):
                right.append(ask)
            if len(right) == keep:
                break
    return right


# ---------------------------------------------------------------- clients
def api_client(base: str, asks: list[Ask], stop: threading.Event, tally: Tally, seed: int) -> None:
    """One developer's client: POST /api/ask back to back over one keep-alive connection pool."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            _ask_api(client, rng.choice(asks), tally)


def _ask_api(client: httpx.Client, ask: Ask, tally: Tally) -> None:
    started = time.monotonic()
    try:
        response = client.post("/api/ask", json={"question": ask.question})
    except httpx.HTTPError as e:
        tally.add(0, error=type(e).__name__)
        return
    if response.status_code != 200:
        tally.add(0, error=f"HTTP {response.status_code}")
        return
    body = response.json()
    cited = body["passages"][0]["doc_id"] if body["passages"] else ""
    wrong = None if ask.right(body["answer"], cited) else f"{ask.question} → {body['answer'][:60]!r}"
    tally.add(time.monotonic() - started, wrong=wrong)


def idle_client(base: str, asks: list[Ask], stop: threading.Event, tally: Tally, seed: int,
                pause: tuple[float, float]) -> None:
    """A client that asks now and then over a kept-alive connection, idle about as long as the server and
    httpx keep one (5 s by default): where a reused connection can meet the server closing it."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            _ask_api(client, rng.choice(asks), tally)
            stop.wait(rng.uniform(*pause))


def chat_session(base: str, event: tuple[int, int], asks: list[Ask], stop: threading.Event, tally: Tally,
                 seed: int, think: tuple[float, float]) -> None:
    """One deputy in the chat page: Gradio's queue (join, then the event stream), as the browser does it,
    sending back what the chat shows; thinks between questions."""
    rng, session, shown = random.Random(seed), uuid.uuid4().hex[:11], []
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            ask = rng.choice(asks)
            started = time.monotonic()
            try:
                shown = _chat_turn(client, event, session, ask.question, shown)
            except (httpx.HTTPError, RuntimeError, ValueError) as e:
                tally.add(0, error=type(e).__name__ if not isinstance(e, RuntimeError) else str(e))
                continue
            reply = shown[-1]["content"]
            text = reply if isinstance(reply, str) else " ".join(part.get("text", "") for part in reply)
            wrong = None if ask.right(text, text) else f"{ask.question} → {text[:60]!r}"  # the 文号 is cited in it
            tally.add(time.monotonic() - started, wrong=wrong)
            stop.wait(rng.uniform(*think))


def _chat_turn(client: httpx.Client, event: tuple[int, int], session: str, question: str,
               shown: list[Any]) -> list[Any]:
    fn_index, trigger = event
    joined = client.post("/gradio_api/queue/join", json={
        "data": [question, shown, None], "fn_index": fn_index, "trigger_id": trigger, "session_hash": session,
        "event_data": None})
    if joined.status_code != 200:
        raise RuntimeError(f"join HTTP {joined.status_code}")
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        if stream.status_code != 200:
            raise RuntimeError(f"stream HTTP {stream.status_code}")
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                if not message.get("success"):
                    raise RuntimeError("chat event failed")
                return list(message["output"]["data"][1])
    raise RuntimeError("chat stream ended without a result")


def chat_event(base: str) -> tuple[int, int]:
    """(fn_index, trigger id) of the chat's send event, from the page's config."""
    config = httpx.get(f"{base}/config", timeout=30).json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == "chat":
            return int(dep["id"]), int(dep["targets"][0][0])
    raise RuntimeError("no chat event in /config")


# ---------------------------------------------------------------- writes and memory
def writer(corpus: Path, index: Path, inbox: Path, stop: threading.Event, delay: float,
           done: list[dict[str, Any]]) -> None:
    """From `delay` s on, until stopped: the real letter replaced by a copy, then a full rebuild, in turn."""
    inbox.mkdir(parents=True, exist_ok=True)
    where = ["--corpus", str(corpus), "--index", str(index)]
    turn = 0
    stop.wait(delay)
    while not stop.is_set():
        copy = inbox / f"科技成果转化答复（第{turn}稿）.txt"
        shutil.copy(REAL_LETTER, copy)  # same 文号: replaces the indexed letter
        done.append({"write": "index add (replaces 温科提复〔2024〕91号)",
                     "seconds": round(_chatbot_ok("index", "add", str(copy), *where), 1)})
        turn += 1
        if stop.is_set():
            break
        seconds = _chatbot_ok("index", "build", "--full", *where)
        done.append({"write": "index build --full", "seconds": round(seconds, 1)})


def _chatbot_ok(*args: str) -> float:
    started = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).parent / "chatbot"), *args], capture_output=True, text=True)
    if result.returncode not in (0, 2):  # 2: a file skipped, the rest indexed
        raise RuntimeError(f"chatbot {' '.join(args)} failed: {result.stderr[-500:]}")
    return time.monotonic() - started


def sample_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    import psutil

    process = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        stop.wait(0.2)


# ---------------------------------------------------------------- the run
def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus, index, candidates = prepare(args.work, args.letters)
    port = _free_port()
    server = start_server(corpus, index, port, args.keep_alive)
    base = f"http://127.0.0.1:{port}"
    try:
        asks = preflight(base, candidates, args.questions)
        event = chat_event(base)
        before = httpx.get(f"{base}/healthz", timeout=30).json()
        stop, clients_stop = threading.Event(), threading.Event()
        api, chat, idle, writes, peak = Tally(), Tally(), Tally(), [], [0]
        threads = [threading.Thread(target=api_client, args=(base, asks, clients_stop, api, i))
                   for i in range(args.api_clients)]
        threads += [threading.Thread(target=idle_client, args=(base, asks, clients_stop, idle, 2000 + i,
                                                                (args.idle_min, args.idle_max)))
                    for i in range(args.idle_clients)]
        threads += [threading.Thread(target=chat_session, args=(base, event, asks, clients_stop, chat, 1000 + i,
                                                                 (args.think_min, args.think_max)))
                    for i in range(args.chat_sessions)]
        writing = threading.Thread(target=writer, args=(corpus, index, args.work / "inbox", clients_stop, 3.0, writes))
        sampler = threading.Thread(target=sample_rss, args=(server.pid, stop, peak))
        for thread in [*threads, writing, sampler]:
            thread.start()
        time.sleep(args.seconds)
        clients_stop.set()
        for thread in [*threads, writing]:
            thread.join()
        stop.set()
        sampler.join()
        after = httpx.get(f"{base}/healthz", timeout=30).json()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _summary(args, asks, {"api": api, "chat": chat, "idle": idle}, writes, peak[0], before, after)


def _summary(args: argparse.Namespace, asks: list[Ask], tallies: dict[str, Tally], writes: list[dict[str, Any]],
             peak_rss: int, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "server": "chatbot serve" if args.keep_alive is None else f"uvicorn, keep-alive {args.keep_alive:g} s",
        "cores": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "seconds": args.seconds, "api_clients": args.api_clients, "chat_sessions": args.chat_sessions,
        "chat_think_s": [args.think_min, args.think_max], "idle_clients": args.idle_clients,
        "idle_pause_s": [args.idle_min, args.idle_max], "letters": args.letters + 1, "chunks": after["chunks"],
        "questions": len(asks), **{kind: tally.summary() for kind, tally in tallies.items()}, "writes": writes,
        "generations": [before["generation"], after["generation"]], "server_peak_rss_mb": round(peak_rss / 2**20),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="how long the clients ask (default 60)")
    parser.add_argument("--api-clients", type=int, default=50, help="HTTP API clients asking back to back")
    parser.add_argument("--chat-sessions", type=int, default=20, help="chat sessions (Gradio queue)")
    parser.add_argument("--think-min", type=float, default=2.0, help="a chat session's shortest pause (s)")
    parser.add_argument("--think-max", type=float, default=8.0, help="a chat session's longest pause (s)")
    parser.add_argument("--idle-clients", type=int, default=20, help="API clients idle ~5 s between questions")
    parser.add_argument("--idle-min", type=float, default=4.95, help="an idle client's shortest pause (s)")
    parser.add_argument("--idle-max", type=float, default=5.05, help="an idle client's longest pause (s)")
    parser.add_argument("--letters", type=int, default=30, help="synthetic letters beside the real one")
    parser.add_argument("--questions", type=int, default=40, help="questions asked (answered right when idle)")
    parser.add_argument("--keep-alive", type=float, default=None,
                        help="serve with this uvicorn keep-alive (s) instead of `chatbot serve`")
    parser.add_argument("--work", type=Path, default=HERE / "out" / "load", help="corpus and index (git-ignored)")
    parser.add_argument("--out", type=Path, default=HERE, help="where load.json and RESULTS.md are")
    args = parser.parse_args(argv)
    summary = run(args)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "load.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    runs[summary["server"]] = summary
    path.write_text(json.dumps(runs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if (args.out / "results.json").is_file():
        from benchmarks import run as suite

        suite.main(["--render", "--out", str(args.out)])


if __name__ == "__main__":
    main()
