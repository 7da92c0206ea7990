"""The web app: the deputies' chat (Gradio) at /, the staff page at /admin and the HTTP API, on one FastAPI.

The staff page exists only when CHATBOT_ADMIN_PASSWORD is set; without it every /admin path answers 404 and
no Gradio event of the public page touches the index. All loaded state lives in the `Chatbot` passed in;
a chat's history lives in the browser session (gr.State / the Chatbot value), never in this module.
"""

from __future__ import annotations

import hmac
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ui_text as T
from .api import MAX_QUESTION_CHARS, add_api_routes
from .config import Settings
from .errors import ChatbotError, DocumentError

if TYPE_CHECKING:
    import fastapi
    import gradio as gr

    from .service import Chatbot

log = logging.getLogger(__name__)

ADMIN_PATH = "/admin"
ADMIN_USER = "admin"  # documented; any user name is accepted, the password is the secret
ALLOWED_SUFFIXES = (".docx", ".pdf", ".txt", ".md", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".html", ".htm",
                    ".doc", ".rtf", ".odt", ".wps")
CHAT_CONCURRENCY = 4  # Chatbot is thread-safe; answering takes tens of milliseconds
WRITE_QUEUE = "index-write"  # upload, remove and rebuild run one at a time, in a worker thread
_ADMIN_RE = re.compile(r"^/+admin", re.IGNORECASE)


class AdminGuard:
    """ASGI middleware: 404 on every /admin* path (HTTP and websocket) when no staff password is set.

    The staff page is not even mounted then; this makes "no management function is reachable" hold
    whatever else gets mounted later.
    """

    def __init__(self, app: Any, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self.enabled and scope["type"] in ("http", "websocket") and _ADMIN_RE.match(scope["path"]):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            from starlette.responses import JSONResponse

            await JSONResponse({"error": "not found"}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: Settings, chatbot: Chatbot | None = None) -> fastapi.FastAPI:
    """The whole web app: HTTP API routes, then /admin (if a password is set), then the chat at /."""
    import gradio as gr
    from fastapi import FastAPI

    from .service import get_chatbot

    bot = chatbot if chatbot is not None else get_chatbot(settings)
    app = FastAPI(title=T.APP_TITLE, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.add_middleware(AdminGuard, enabled=bool(settings.admin_password))
    add_api_routes(app, bot)  # before the Gradio mount at "/", which would otherwise catch these paths
    theme = gr.themes.Default(primary_hue="blue", neutral_hue="slate")
    common: dict[str, Any] = {"theme": theme, "css": T.CSS, "ssr_mode": False, "footer_links": []}
    if settings.admin_password:
        upload_limit = int(settings.max_file_mb * 1024 * 1024)
        gr.mount_gradio_app(
            app, admin_blocks(bot, settings), path=ADMIN_PATH, auth=password_check(settings.admin_password),
            auth_message=T.ADMIN_LOGIN_MESSAGE, max_file_size=upload_limit, **common,
        )  # fmt: skip
    # The chat has no file input: refuse uploads beyond a token size on its upload route.
    gr.mount_gradio_app(app, chat_blocks(bot), path="/", max_file_size="1kb", **common)
    return app


def password_check(password: str) -> Callable[[str, str], bool]:
    """Gradio auth callable: any user name, the staff password (compared in constant time)."""
    expected = password.encode()

    def check(username: str, given: str) -> bool:
        return hmac.compare_digest(expected, (given or "").encode())

    return check


# ---------------------------------------------------------------- the deputies' chat


def ask(
    bot: Chatbot, message: str, history: list[dict[str, Any]], turns: list[dict[str, str]]
) -> tuple[Any, ...]:
    """One chat turn: returns (textbox, chat messages, this session's raw turns, sources panel).

    `history` is what the chat shows (user text escaped for display); `turns` keeps the raw question and
    the answer of each earlier turn, which is what the follow-up logic reads.
    """
    message = (message or "").strip()
    if not message:
        return "", history, turns, _unchanged()
    user = {"role": "user", "content": T.literal_markdown(message)}
    if len(message) > MAX_QUESTION_CHARS:
        reply = T.QUESTION_TOO_LONG.format(limit=MAX_QUESTION_CHARS)
        return "", [*history, user, {"role": "assistant", "content": reply}], turns, _unchanged()
    try:
        answer = bot.answer(message, history=list(turns))
    except ChatbotError as e:
        log.warning("cannot answer %r: %s", message, e)
        reply = T.ANSWER_FAILED.format(reason=T.literal_markdown(str(e)))
        return "", [*history, user, {"role": "assistant", "content": reply}], turns, _unchanged()
    said = {"role": "assistant", "content": answer.answer}
    new_turns = [*turns, {"role": "user", "content": message}, said]
    return "", [*history, user, said], new_turns, T.sources_html(answer)


def _unchanged() -> Any:
    import gradio as gr

    return gr.skip()


def chat_blocks(bot: Chatbot) -> gr.Blocks:
    """The public page: chat with example questions and a sources panel; the letters list."""
    import gradio as gr

    with gr.Blocks(title=T.APP_TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])  # this session's raw questions and answers, for follow-ups
        gr.Markdown(T.INTRO, elem_id="intro")
        with gr.Tabs():
            with gr.Tab(T.TAB_CHAT, id="chat-tab"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        label=T.CHAT_LABEL, elem_id="chat", height=460, latex_delimiters=[],
                        feedback_options=None, buttons=["copy"], layout="bubble",
                    )  # fmt: skip
                    with gr.Row():
                        question = gr.Textbox(
                            show_label=False, placeholder=T.QUESTION_PLACEHOLDER, elem_id="question",
                            scale=6, max_lines=4, max_length=MAX_QUESTION_CHARS, autofocus=True,
                        )  # fmt: skip
                        send = gr.Button(T.SEND_LABEL, variant="primary", elem_id="send", scale=1)
                    gr.Markdown(T.EXAMPLES_LABEL, elem_id="examples-label")
                    with gr.Row(elem_id="examples"):
                        examples = [gr.Button(q, size="sm") for q in T.EXAMPLE_QUESTIONS]
                    clear = gr.Button(T.CLEAR_LABEL, elem_id="clear", size="sm")
                with gr.Column(scale=2):
                    sources = gr.HTML(T.SOURCES_EMPTY, elem_id="sources")
            with gr.Tab(T.TAB_LETTERS, id="letters-tab") as letters_tab:
                gr.Markdown(T.LETTERS_INTRO)
                letters = gr.HTML(elem_id="letters")
                refresh = gr.Button(T.REFRESH_LABEL, size="sm", elem_id="refresh-letters")

        def turn(message: str, history: list[dict[str, Any]], prior: list[dict[str, str]]) -> tuple[Any, ...]:
            return ask(bot, message, history, prior)

        outputs = [question, chat, turns, sources]
        gr.on([send.click, question.submit], turn, [question, chat, turns], outputs,
              concurrency_limit=CHAT_CONCURRENCY, api_name="chat")  # fmt: skip
        for i, button in enumerate(examples):
            button.click(_example_turn(bot, T.EXAMPLE_QUESTIONS[i]), [chat, turns], outputs,
                         concurrency_limit=CHAT_CONCURRENCY, api_visibility="private")  # fmt: skip
        clear.click(lambda: ("", [], [], T.SOURCES_EMPTY), None, outputs, api_visibility="private")

        def show_letters() -> str:
            try:
                return T.letters_html(bot.letters())
            except ChatbotError as e:  # e.g. no index yet: say so on the page instead of an error toast
                return f'<div class="sources-empty">{T.escape_text(str(e))}</div>'

        demo.load(show_letters, None, letters, api_visibility="private")
        letters_tab.select(show_letters, None, letters, api_visibility="private")  # letters added meanwhile
        refresh.click(show_letters, None, letters, api_name="letters")
    return demo


def _example_turn(bot: Chatbot, example: str) -> Callable[..., tuple[Any, ...]]:
    def turn(history: list[dict[str, Any]], prior: list[dict[str, str]]) -> tuple[Any, ...]:
        return ask(bot, example, history, prior)

    return turn


# ---------------------------------------------------------------- the staff page


def safe_filename(name: str) -> str:
    """A file name that can only land inside the corpus folder: the base name, no control or
    path characters, no leading dots, a lower-case suffix."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r'[\x00-\x1f\x7f<>:"|?*]', "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" .")[:120] or "letter"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def screen_uploads(paths: Sequence[str], max_file_mb: float) -> tuple[list[Path], list[tuple[str, str]]]:
    """Split uploads into acceptable files and (name, reason) refusals: type and size limits."""
    accepted: list[Path] = []
    refused: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.suffix.lower() not in ALLOWED_SUFFIXES:
            refused.append((path.name, T.UPLOAD_BAD_TYPE))
        elif path.stat().st_size > max_file_mb * 1024 * 1024:
            refused.append((path.name, T.UPLOAD_TOO_BIG.format(mb=f"{max_file_mb:g}")))
        else:
            accepted.append(path)
    return accepted, refused


def upload_letters(bot: Chatbot, paths: Sequence[str], max_file_mb: float, progress: Any) -> str:
    """Stage accepted uploads under safe names, index them through `bot.add_files`, describe the result."""
    if not paths:
        return T.UPLOAD_NOTHING
    accepted, refused = screen_uploads(paths, max_file_mb)
    lines = [f"- {T.REPORT_SKIPPED}：{T.literal_markdown(n)} — {r}" for n, r in refused]
    if accepted:
        with tempfile.TemporaryDirectory(prefix="chatbot-upload-") as tmp:
            staged = []
            for path in accepted:
                target = Path(tmp) / safe_filename(path.name)
                shutil.copyfile(path, target)
                staged.append(target)
            progress(0.1, desc=T.INDEXING)
            try:
                report = bot.add_files(staged, progress=_progress_callback(progress))
            except ChatbotError as e:
                return "\n".join([_failure(e), *lines])
        lines.insert(0, T.report_markdown(report))
    return "\n".join(lines)


def remove_status(bot: Chatbot, doc_id: str | None) -> str:
    if not doc_id:
        return T.REMOVE_NOTHING
    try:
        source = bot.remove(doc_id)
    except ChatbotError as e:
        return _failure(e)
    return T.REMOVED.format(doc=T.literal_markdown(doc_id), file=T.literal_markdown(source))


def rebuild_status(bot: Chatbot, full: bool, progress: Any) -> str:
    progress(0.1, desc=T.INDEXING)
    try:
        return T.report_markdown(bot.rebuild(full=full, progress=_progress_callback(progress)))
    except ChatbotError as e:
        return _failure(e)


def probe_results(bot: Chatbot, question: str, k: int) -> str:
    """命中测试 table for the staff page."""
    if not (question or "").strip():
        return T.probe_html([])
    try:
        return T.probe_html(bot.explain(question.strip(), k=k))
    except ChatbotError as e:
        return f'<div class="sources-empty">{T.escape_text(str(e))}</div>'


def _failure(e: ChatbotError) -> str:
    # A DocumentError names a staged temporary path: show the file name the staff uploaded instead.
    reason = f"{Path(e.path).name}: {e.reason}" if isinstance(e, DocumentError) else str(e)
    return T.ACTION_FAILED.format(reason=T.literal_markdown(reason))


def _progress_callback(progress: Any) -> Callable[[float, str], None]:
    def report(fraction: float, desc: str) -> None:
        progress(fraction, desc=desc)

    return report


def admin_blocks(bot: Chatbot, settings: Settings) -> gr.Blocks:
    """The staff page: upload, remove, rebuild, and the retrieval test (命中测试)."""
    import gradio as gr

    with gr.Blocks(title=T.ADMIN_TITLE, analytics_enabled=False) as admin:
        gr.Markdown(T.ADMIN_INTRO)
        with gr.Tabs():
            with gr.Tab(T.TAB_UPLOAD, id="upload-tab"):
                files = gr.File(
                    label=T.UPLOAD_LABEL.format(mb=f"{settings.max_file_mb:g}"), file_count="multiple",
                    file_types=list(ALLOWED_SUFFIXES), type="filepath", elem_id="upload",
                )  # fmt: skip
                upload_btn = gr.Button(T.UPLOAD_BUTTON, variant="primary", elem_id="upload-btn")
                upload_status = gr.Markdown(elem_id="upload-status")
            with gr.Tab(T.TAB_MANAGE, id="manage-tab"):
                letters = gr.HTML(elem_id="admin-letters")
                with gr.Row():
                    doc = gr.Dropdown(label=T.REMOVE_LABEL, choices=[], elem_id="remove-doc", scale=3)
                    remove_btn = gr.Button(T.REMOVE_BUTTON, variant="stop", elem_id="remove-btn", scale=1)
                with gr.Row():
                    full = gr.Checkbox(label=T.REBUILD_FULL_LABEL, value=False, elem_id="rebuild-full")
                    rebuild_btn = gr.Button(T.REBUILD_BUTTON, elem_id="rebuild-btn")
                manage_status = gr.Markdown(elem_id="manage-status")
            with gr.Tab(T.TAB_PROBE, id="probe-tab"):
                with gr.Row():
                    probe_q = gr.Textbox(label=T.PROBE_QUESTION_LABEL, elem_id="probe-question", scale=4,
                                         max_length=MAX_QUESTION_CHARS)  # fmt: skip
                    probe_k = gr.Slider(1, 50, value=10, step=1, label=T.PROBE_K_LABEL, elem_id="probe-k")
                probe_btn = gr.Button(T.PROBE_BUTTON, variant="primary", elem_id="probe-btn")
                probe_out = gr.HTML(elem_id="probe-results")

        def listing() -> tuple[str, Any]:
            known = bot.letters()
            choices = [(f"{x.doc_id}　{x.title or ''}", x.doc_id) for x in known]
            return T.letters_html(known), gr.Dropdown(choices=choices, value=None)

        def upload(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            status = upload_letters(bot, paths or [], settings.max_file_mb, progress)
            return (status, None, *listing())

        def remove(doc_id: str | None) -> tuple[Any, ...]:
            return (remove_status(bot, doc_id), *listing())

        def rebuild(full_rebuild: bool, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return (rebuild_status(bot, full_rebuild, progress), *listing())

        def probe(question: str, k: float) -> str:
            return probe_results(bot, question, int(k))

        write: dict[str, Any] = {
            "concurrency_id": WRITE_QUEUE, "concurrency_limit": 1, "api_visibility": "private"
        }  # fmt: skip
        upload_btn.click(upload, files, [upload_status, files, letters, doc], **write)
        remove_btn.click(remove, doc, [manage_status, letters, doc], **write)
        rebuild_btn.click(rebuild, full, [manage_status, letters, doc], **write)
        probe_btn.click(probe, [probe_q, probe_k], probe_out, api_visibility="private")
        probe_q.submit(probe, [probe_q, probe_k], probe_out, api_visibility="private")
        admin.load(listing, None, [letters, doc], api_visibility="private")
    return admin


# ---------------------------------------------------------------- serving


def serve(settings: Settings, chatbot: Chatbot | None = None) -> None:
    """Bring the index up to date with the corpus (incremental: only new or changed letters are embedded),
    print the URL, and serve until interrupted. An index without its corpus folder is served as it is."""
    import uvicorn

    from .indexing import build_index
    from .service import get_chatbot

    bot = chatbot if chatbot is not None else get_chatbot(settings)
    if Path(settings.corpus_dir).is_dir() or not Path(settings.index_dir).exists():
        report = build_index(settings, bot.embedder)
        for name, reason in report.skipped:
            log.warning("skipped %s: %s", name, reason)
        log.info("index up to date (generation %s)", report.generation)
    app = create_app(settings, bot)
    url = f"http://{settings.host}:{settings.port}"
    print(T.SERVING.format(url=url), flush=True)
    if settings.admin_password:
        print(T.SERVING_ADMIN.format(url=f"{url}{ADMIN_PATH}", user=ADMIN_USER), flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
