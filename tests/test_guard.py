"""Bounded work and hostile requests: every route answers 4xx JSON, never 500; every text is capped."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from chatbot.api import BadRequest, Workers, parse_history, within_time
from chatbot.app import KEPT_TURNS, SHOWN_BYTES, ask, create_app, shown
from chatbot.embedding import HashingEmbedder
from chatbot.guard import MAX_JSON_DEPTH, Refused, check_json
from chatbot.indexing import build_index
from chatbot.limits import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, trim_history
from chatbot.service import Chatbot

QUESTION = "2024年计划建设海洋牧场几个？"
NESTED = b"[" * 1200 + b"]" * 1200
SURROGATE = b'"\\ud800"'
# (body, the error it gets) for any JSON route
HOSTILE = [
    (b'{"question": ' + SURROGATE + b"}", "body holds a lone surrogate (U+D800), which is no character"),
    (b'{"question": "q", "history": [' + SURROGATE + b"]}", "body holds a lone surrogate (U+D800)"),
    (b'{"question": "q", "history": ' + NESTED + b"}", f"body is nested deeper than {MAX_JSON_DEPTH} levels"),
    (b'{"question": "\xff\xfe"}', "body is not JSON: it is not UTF-8 (byte 0xff at position 14)"),
]


@pytest.fixture
def client(idx_settings, idx_corpus) -> TestClient:
    build_index(idx_settings, HashingEmbedder())
    return TestClient(create_app(idx_settings, Chatbot(idx_settings, embedder=HashingEmbedder())),
                      raise_server_exceptions=False)


ROUTES = ["/api/ask", "/gradio_api/queue/join", "/gradio_api/call/chat", "/gradio_api/run/chat"]


@pytest.mark.parametrize(("body", "error"), HOSTILE)
@pytest.mark.parametrize("path", ROUTES)
def test_hostile_json_is_400_json_on_every_route(client: TestClient, path: str, body: bytes, error: str) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"].startswith(error)


@pytest.mark.parametrize(("body", "error"), HOSTILE)
def test_hostile_json_sent_as_text_is_400_on_the_api_too(client: TestClient, body: bytes, error: str) -> None:
    response = client.post("/api/ask", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400 and response.json()["error"].startswith(error)


@pytest.mark.parametrize("path", ["/gradio_api/queue/join", "/gradio_api/run/chat", "/api/ask"])
def test_the_chat_routes_have_the_api_body_limit(client: TestClient, path: str) -> None:
    history = [{"role": "user", "content": "问" * 500}] * 50  # 75 KB of text, 3 bytes a character
    huge = {"data": ["那呢？", history, None], "fn_index": 0, "session_hash": "s"}
    response = client.post(path, json=huge)
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 64 KB"}


def test_the_chat_route_is_reached_through_the_queue_only(client: TestClient) -> None:
    """Gradio's direct /run route answers 500 to any input it cannot process; the queue reports errors as
    events. The chat closes the direct route."""
    response = client.post("/gradio_api/run/chat", json={"data": ["问题"]})
    assert response.status_code == 404


def test_a_long_history_is_trimmed_before_analysis(client: TestClient) -> None:
    turns = parse_history(["年" * 6000, {"role": "assistant", "content": "答" * 9000}])
    assert [len(t if isinstance(t, str) else t["content"]) for t in turns] == [MAX_QUESTION_CHARS, MAX_ANSWER_CHARS]
    pair = trim_history([("问" * 900, "答" * 9000)] * 80)
    assert len(pair) == 50 and [len(x) for x in pair[0]] == [MAX_QUESTION_CHARS, MAX_ANSWER_CHARS]
    started = time.monotonic()
    response = client.post("/api/ask", json={"question": "那呢？", "history": ["年" * 20_000]})
    assert response.status_code == 200
    assert time.monotonic() - started < 10  # untrimmed, jieba's tagger alone takes ~20 s on this


def test_a_question_without_answer_in_time_is_503() -> None:
    with pytest.raises(BadRequest) as info:
        asyncio.run(within_time(time.sleep, 5, timeout=0.2))
    assert info.value.status == 503
    assert str(info.value) == "no answer within 0 s: the server is busy, try again"


def test_check_json_walks_deep_values_without_recursion() -> None:
    assert check_json(b'{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
    deep = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert check_json(deep) == json.loads(deep)
    with pytest.raises(Refused, match="nested deeper than 32 levels"):
        check_json(b"[" + deep + b"]")
    with pytest.raises(Refused, match=r"lone surrogate \(U\+DC00\)"):
        check_json(b'{"\\udc00": 1}')  # keys too


def test_the_chat_keeps_what_the_browser_sends_back_under_the_body_limit(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    bot = Chatbot(idx_settings, embedder=HashingEmbedder())
    messages: list = []
    turns: list = []
    for _ in range(150):
        _, messages, turns, _ = ask(bot, QUESTION, messages, turns)
    assert len(turns) == KEPT_TURNS and len(messages) < 300 and len(messages) % 2 == 0
    assert messages[-1]["content"].startswith("**5个**")
    assert SHOWN_BYTES - 1000 < len(json.dumps(messages, ensure_ascii=False).encode()) <= SHOWN_BYTES
    one_big_exchange = [{"role": "user", "content": "x" * SHOWN_BYTES}] * 2
    assert shown(one_big_exchange) == one_big_exchange  # the latest exchange always stays


def test_the_api_answers_a_few_questions_at_a_time() -> None:
    """The API's own workers: API clients alone must not fill the thread pool the chat's events use."""
    running, most = [0], [0]
    lock = threading.Lock()

    def answer(seconds: float) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(seconds)
        with lock:
            running[0] -= 1

    async def many() -> None:
        workers = Workers(size=2)
        await asyncio.gather(*(within_time(answer, 0.05, workers=workers) for _ in range(8)))

    asyncio.run(many())
    assert most[0] == 2
