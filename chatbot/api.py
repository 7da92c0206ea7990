"""The HTTP API for developers, on the web app's FastAPI instance.

GET /api/retrieve?q=…&k=…   → {"question", "passages": [Passage…]}
POST /api/ask {"question", "history"?, "k"?} → the Answer JSON of DESIGN.md
GET /api/letters            → {"letters": [LetterInfo…]}
GET /healthz                → {"status": "ok", "letters", "chunks", "generation"}

Every bad request gets a 4xx with {"error": "…"}; errors of the library map to 4xx/503 with their message.
History turns are trimmed to what analysis reads (chatbot.limits); a question unanswered after
ANSWER_TIMEOUT_S gets 503. chatbot.guard has already limited the body and refused hostile JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

# Imported at module level: FastAPI resolves the route signatures' annotations in this module's globals.
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import ChatbotError, DocumentError, QueryError
from .guard import MAX_BODY_BYTES, Refused, check_json
from .limits import ANSWER_TIMEOUT_S, MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, trim_turn

if TYPE_CHECKING:
    from .service import Chatbot

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_K = 50
DEFAULT_K = 5
API_CONCURRENCY = 4  # questions answered at once (2 cores; the chat answers 4 more)
MAX_HISTORY = MAX_HISTORY_TURNS


class BadRequest(Exception):
    """A request the API refuses; `status` is the HTTP status, the message goes into {"error": …}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_question(value: Any, field: str = "q") -> str:
    if value is None:
        raise BadRequest(f"missing {field}: pass the question, e.g. {field}=2024年计划建成几家概念验证中心")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string")
    question = value.strip()
    if not question:
        raise BadRequest(f"{field} is empty: pass a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadRequest(f"{field} is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


def parse_k(value: Any) -> int:
    """k from a query string ("5") or JSON (5); None means the default."""
    if value is None:
        return DEFAULT_K
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"k must be an integer from 1 to {MAX_K}")
    try:
        k = int(value)
    except ValueError:
        raise BadRequest(f"k must be an integer from 1 to {MAX_K}, got {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise BadRequest(f"k must be an integer from 1 to {MAX_K}, got {k}")
    return k


def parse_history(value: Any) -> list[dict[str, str] | str]:
    """Prior turns: plain questions or {"role": "user"|"assistant", "content": str} messages."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("history must be a list of prior questions or {role, content} messages")
    if len(value) > MAX_HISTORY:
        raise BadRequest(f"history has {len(value)} items; the limit is {MAX_HISTORY}")
    turns: list[dict[str, str] | str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            turns.append(trim_turn(item))
        elif (
            isinstance(item, dict)
            and item.get("role") in ("user", "assistant")
            and isinstance(item.get("content"), str)
        ):
            turns.append(trim_turn({"role": item["role"], "content": item["content"]}))
        else:
            raise BadRequest(f"history[{i}] must be a string or {{role: user|assistant, content: string}}")
    return turns


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing (413) anything above `limit` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body is larger than {limit // 1024} KB", status=413)
    body = bytearray()
    async for part in request.stream():
        body.extend(part)
        if len(body) > limit:
            raise BadRequest(f"request body is larger than {limit // 1024} KB", status=413)
    return bytes(body)


def parse_ask_body(body: bytes) -> tuple[str, list[dict[str, str] | str], int]:
    try:
        data = check_json(body)  # also for a body not sent as JSON: the guard only checks those
    except Refused as e:
        raise BadRequest(f"{e}: send {{\"question\": \"…\"}}", e.status) from None
    if not isinstance(data, dict):
        raise BadRequest('body must be a JSON object: {"question": "…", "history": [...], "k": 5}')
    unknown = set(data) - {"question", "history", "k"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}; use question, history, k")
    return parse_question(data.get("question"), "question"), parse_history(data.get("history")), parse_k(
        data.get("k")
    )


def error_status(error: ChatbotError) -> int:
    """QueryError and DocumentError are the caller's to fix (400); the rest mean the index or model is
    not usable right now (503)."""
    return 400 if isinstance(error, QueryError | DocumentError) else 503


class Workers:
    """At most `size` questions of the API answered at once; the others wait (within their time). The chat's
    Gradio events run in anyio's default pool of 40 threads: API clients alone would fill it and starve the
    chat (measured: 50 API clients made chat answers wait 24 s at the median)."""

    def __init__(self, size: int = API_CONCURRENCY) -> None:
        self.size = size
        self._limiter: Any = None

    def limiter(self) -> Any:
        import anyio

        if self._limiter is None:  # made in the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.size)
        return self._limiter


async def within_time(func: Callable[..., T], *args: Any, timeout: float = ANSWER_TIMEOUT_S,
                      workers: Workers | None = None) -> T:
    """`func(*args)` in a worker thread; BadRequest (503) when it has not returned after `timeout` seconds,
    waiting for a worker included.

    The thread is abandoned, not stopped (Python cannot stop one): the caps on every text a question brings
    (chatbot.limits) are what bound its work; this bounds how long a client waits when the server is full.
    """
    import anyio

    limiter = workers.limiter() if workers is not None else None
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(lambda: func(*args), abandon_on_cancel=True, limiter=limiter)
    except TimeoutError:
        log.warning("%s did not return within %.0f s", getattr(func, "__name__", func), timeout)
        raise BadRequest(f"no answer within {timeout:.0f} s: the server is busy, try again", 503) from None


def add_api_routes(app: FastAPI, bot: Chatbot) -> None:
    """Register the routes and the error handlers that turn failures into JSON."""
    workers = Workers()

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def on_bad_request(request: Request, exc: Exception) -> JSONResponse:
        return error(str(exc), getattr(exc, "status", 400))

    async def on_library_error(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error(str(exc), error_status(exc) if isinstance(exc, ChatbotError) else 503)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        return error(f"bad request: {exc}", 400)

    app.add_exception_handler(BadRequest, on_bad_request)
    app.add_exception_handler(Refused, on_bad_request)
    app.add_exception_handler(ChatbotError, on_library_error)
    app.add_exception_handler(RequestValidationError, on_validation)

    @app.get("/api/retrieve")
    async def api_retrieve(request: Request) -> JSONResponse:
        params = request.query_params
        question, k = parse_question(params.get("q")), parse_k(params.get("k"))
        doc_ids = params.getlist("doc_id") or None
        passages = await within_time(bot.retrieve, question, k, doc_ids, workers=workers)
        return JSONResponse({"question": question, "passages": [asdict(p) for p in passages]})

    @app.post("/api/ask")
    async def api_ask(request: Request) -> JSONResponse:
        question, history, k = parse_ask_body(await read_body(request))
        answer = await within_time(bot.answer, question, history, k, workers=workers)
        return JSONResponse(asdict(answer))

    @app.get("/api/letters")
    def api_letters() -> JSONResponse:
        return JSONResponse({"letters": [asdict(letter) for letter in bot.letters()]})

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        snapshot = bot.snapshot()
        return JSONResponse(
            {
                "status": "ok",
                "letters": len(snapshot.by_id),
                "chunks": snapshot.num_chunks,
                "generation": snapshot.generation,
            }
        )
