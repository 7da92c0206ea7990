"""The web app: the deputies' chat (Gradio) at /, the staff page at /admin and the HTTP API, on one FastAPI.

The staff page exists only when CHATBOT_ADMIN_PASSWORD is set; without it every /admin path answers 404 and
no Gradio event of the public page touches the index. chatbot.guard screens every request (body limits,
hostile JSON, no uploads or file serving on the chat), chatbot.staff every /admin one (login, sessions,
uploads). All loaded state lives in the `Chatbot` passed in; a chat's history lives in the browser session
(gr.State / the Chatbot value), never in this module.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ui_text as T
from .api import add_api_routes
from .config import Settings
from .errors import ChatbotError, DocumentError, IndexCorruptError
from .guard import RequestGuard
from .limits import MAX_QUESTION_CHARS, trim_turn
from .scope import HISTORY_TURNS
from .staff import ADMIN_USER, StaffGate, session_key

if TYPE_CHECKING:
    import fastapi
    import gradio as gr

    from .service import Chatbot

log = logging.getLogger(__name__)

ADMIN_PATH = "/admin"
ALLOWED_SUFFIXES = (".docx", ".pdf", ".txt", ".md", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".html", ".htm",
                    ".doc", ".rtf", ".odt", ".wps")
MAX_UPLOAD_FILES = 20  # files a staff upload may carry at once
CHAT_CONCURRENCY = 4  # Chatbot is thread-safe; answering takes tens of milliseconds
WRITE_QUEUE = "index-write"  # upload, remove and rebuild run one at a time, in a worker thread
# What a chat session keeps: the turns follow-ups and the conversation's scope read (raw, trimmed; as many as
# chatbot.scope reads), and what the page shows, cut to a byte budget because the browser sends it back with
# every question (the body limit is 64 KB).
KEPT_TURNS = HISTORY_TURNS
SHOWN_BYTES = 32 * 1024
# How long an idle keep-alive connection stays open. uvicorn's default, 5 s, equals httpx's pool expiry (and
# is below most clients' and proxies'): a client reusing a connection just as the server closes it gets a
# reset (9 of 4,938 requests under load, issue 12). The side that keeps a connection longer must be the
# server, so that the client is always the one to close it.
KEEP_ALIVE_S = 75


def create_app(settings: Settings, chatbot: Chatbot | None = None) -> fastapi.FastAPI:
    """The whole web app: HTTP API routes, then /admin (if a password is set), then the chat at /."""
    import gradio as gr
    from fastapi import FastAPI
    from gradio.utils import get_upload_folder

    from .service import get_chatbot

    bot = chatbot if chatbot is not None else get_chatbot(settings)
    app = FastAPI(title=T.APP_TITLE, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    upload_limit = int(settings.max_file_mb * 1024 * 1024)
    if settings.admin_password:
        key = session_key(settings.admin_password, settings.cache_dir)
        app.add_middleware(StaffGate, password=settings.admin_password, key=key,
                           upload_folder=Path(get_upload_folder()))  # fmt: skip
    app.add_middleware(RequestGuard, admin_enabled=bool(settings.admin_password),
                       staff_upload_bytes=MAX_UPLOAD_FILES * upload_limit + 1024 * 1024)  # outermost: first
    add_api_routes(app, bot)  # before the Gradio mount at "/", which would otherwise catch these paths
    theme = gr.themes.Default(primary_hue="blue", neutral_hue="slate")
    common: dict[str, Any] = {"theme": theme, "css": T.CSS, "ssr_mode": False, "footer_links": []}
    if settings.admin_password:  # StaffGate logs staff in: Gradio's own login would keep sessions in memory
        gr.mount_gradio_app(app, admin_blocks(bot, settings), path=ADMIN_PATH, max_file_size=upload_limit,
                            **common)  # fmt: skip
    # The chat has no file input; the guard also refuses its upload route.
    gr.mount_gradio_app(app, chat_blocks(bot), path="/", max_file_size="1kb", **common)
    return app


# ---------------------------------------------------------------- the deputies' chat


def ask(
    bot: Chatbot, message: str, history: list[dict[str, Any]], turns: list[dict[str, str]]
) -> tuple[Any, ...]:
    """One chat turn: returns (textbox, chat messages, this session's raw turns, sources panel).

    `history` is what the chat shows (user text escaped for display); `turns` keeps the raw question and
    the answer of the last few turns (trimmed as the service would), which is what the follow-up logic reads.
    """
    message = (message or "").strip()
    if not message:
        return "", history, turns, _unchanged()
    user = {"role": "user", "content": T.literal_markdown(message if len(message) <= MAX_QUESTION_CHARS
                                                          else f"{message[:MAX_QUESTION_CHARS]}…")}
    if len(message) > MAX_QUESTION_CHARS:
        reply = T.QUESTION_TOO_LONG.format(limit=MAX_QUESTION_CHARS)
        return "", shown([*history, user, {"role": "assistant", "content": reply}]), turns, _unchanged()
    try:
        answer = bot.answer(message, history=list(turns))
    except ChatbotError as e:
        log.warning("cannot answer %r: %s", message, e)
        reply = T.ANSWER_FAILED.format(reason=T.literal_markdown(str(e)))
        return "", shown([*history, user, {"role": "assistant", "content": reply}]), turns, _unchanged()
    said = {"role": "assistant", "content": answer.answer}
    new_turns = [trim_turn(t) for t in [*turns, {"role": "user", "content": message}, said][-KEPT_TURNS:]]
    return "", shown([*history, user, said]), new_turns, T.sources_html(answer)


def shown(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest messages whose JSON fits SHOWN_BYTES, dropping whole exchanges (a question, its reply)
    from the start: the browser sends what the chat shows back with every question."""
    def size(items: list[dict[str, Any]]) -> int:
        return len(json.dumps(items, ensure_ascii=False, default=str).encode())

    while len(messages) > 2 and size(messages) > SHOWN_BYTES:
        messages = messages[2:]
    return messages


def _unchanged() -> Any:
    import gradio as gr

    return gr.skip()


def chat_blocks(bot: Chatbot) -> gr.Blocks:
    """The public page: chat with example questions and a sources panel; the letters list."""
    import gradio as gr

    with gr.Blocks(title=T.APP_TITLE, analytics_enabled=False) as demo:
        turns = gr.State([])  # this session's raw questions and answers, for follow-ups
        gr.Markdown(T.INTRO, elem_id="intro")
        with gr.Tabs() as tabs:
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
                    with gr.Row(visible=False, elem_id="scope-row") as scope_row:
                        scope_line = gr.Markdown(elem_id="scope")
                        scope_all = gr.Button(T.SCOPE_ALL_BUTTON, size="sm", elem_id="scope-all", scale=1)
                    gr.Markdown(T.EXAMPLES_LABEL, elem_id="examples-label")
                    with gr.Row(elem_id="examples"):
                        examples = [gr.Button(q, size="sm") for q in T.EXAMPLE_QUESTIONS]
                    clear = gr.Button(T.CLEAR_LABEL, elem_id="clear", size="sm")
                with gr.Column(scale=2):
                    sources = gr.HTML(T.SOURCES_EMPTY, elem_id="sources")
            with gr.Tab(T.TAB_LETTERS, id="letters-tab") as letters_tab:
                gr.Markdown(T.LETTERS_INTRO)
                with gr.Row():
                    pick = gr.Dropdown(label=T.LETTER_PICK_LABEL, choices=[], elem_id="letter-pick", scale=4)
                    start = gr.Button(T.LETTER_START_BUTTON, variant="primary", elem_id="letter-start", scale=1)
                letters = gr.HTML(elem_id="letters")
                refresh = gr.Button(T.REFRESH_LABEL, size="sm", elem_id="refresh-letters")

        def turn(message: str, history: list[dict[str, Any]], prior: list[dict[str, str]]) -> tuple[Any, ...]:
            return ask(bot, message, history, prior)

        def show_scope(prior: list[dict[str, str]]) -> tuple[Any, Any]:
            try:
                line = T.scope_markdown(bot.conversation_scope(prior))
            except ChatbotError:
                line = ""
            return gr.Row(visible=bool(line)), line

        outputs = [question, chat, turns, sources]
        scoped: dict[str, Any] = {"fn": show_scope, "inputs": turns, "outputs": [scope_row, scope_line],
                                  "api_visibility": "private"}
        gr.on([send.click, question.submit], turn, [question, chat, turns], outputs,
              concurrency_limit=CHAT_CONCURRENCY, api_name="chat").then(**scoped)  # fmt: skip
        for i, button in enumerate(examples):
            button.click(_example_turn(bot, T.EXAMPLE_QUESTIONS[i]), [chat, turns], outputs,
                         concurrency_limit=CHAT_CONCURRENCY, api_visibility="private").then(**scoped)  # fmt: skip
        scope_all.click(_example_turn(bot, T.ALL_LETTERS_COMMAND), [chat, turns], outputs,
                        concurrency_limit=CHAT_CONCURRENCY, api_visibility="private").then(**scoped)  # fmt: skip
        clear.click(lambda: ("", [], [], T.SOURCES_EMPTY), None, outputs, api_visibility="private").then(**scoped)

        def start_with(doc_id: str | None, history: list[dict[str, Any]],
                       prior: list[dict[str, str]]) -> tuple[Any, ...]:
            if not doc_id:
                return (gr.skip(), *(_unchanged() for _ in outputs))
            return (gr.Tabs(selected="chat-tab"), *ask(bot, T.LETTER_START_COMMAND.format(doc_id=doc_id),
                                                        history, prior))

        start.click(start_with, [pick, chat, turns], [tabs, *outputs], concurrency_limit=CHAT_CONCURRENCY,
                    api_visibility="private").then(**scoped)  # fmt: skip

        def show_letters() -> tuple[str, Any]:
            try:
                known = bot.letters()
            except ChatbotError as e:  # e.g. no index yet: say so on the page instead of an error toast
                return f'<div class="sources-empty">{T.escape_text(str(e))}</div>', gr.Dropdown(choices=[])
            choices = [(f"{x.title}（{x.doc_id}）", x.doc_id) for x in known]
            return T.letters_html(known), gr.Dropdown(choices=choices, value=None)

        demo.load(show_letters, None, [letters, pick], api_visibility="private")
        letters_tab.select(show_letters, None, [letters, pick], api_visibility="private")  # letters added since
        refresh.click(show_letters, None, [letters, pick], api_name="letters")
    # Only through the queue: Gradio's direct /gradio_api/run route answers 500 to input it cannot process.
    demo.queue(api_open=False)
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


def upload_letters(bot: Chatbot, paths: Sequence[str], max_file_mb: float, progress: Any,
                   upload_folder: Path | None = None) -> str:
    """Stage accepted uploads under safe names, index them through `bot.add_files`, describe the result.

    Only files inside Gradio's upload folder (`upload_folder`) are read: any other path is refused and left
    alone. Every upload read is deleted afterwards, indexed or refused (the corpus keeps its own copy).
    """
    if not paths:
        return T.UPLOAD_NOTHING
    folder = Path(upload_folder or _gradio_upload_folder()).resolve()
    ours = [p for p in paths if Path(p).resolve().is_relative_to(folder) and Path(p).is_file()]
    foreign = [p for p in paths if p not in ours]
    for path in foreign:
        log.warning("refused an upload outside %s: %s", folder, path)
    try:
        return _index_uploads(bot, ours, [(Path(p).name, T.UPLOAD_NOT_OURS) for p in foreign], max_file_mb,
                              progress)  # fmt: skip
    finally:
        for path in ours:
            _delete_upload(Path(path), folder)


def _index_uploads(bot: Chatbot, paths: Sequence[str], refused: list[tuple[str, str]], max_file_mb: float,
                   progress: Any) -> str:
    accepted, too_bad = screen_uploads(paths, max_file_mb)
    lines = [f"- {T.REPORT_SKIPPED}：{T.literal_markdown(n)} — {r}" for n, r in [*refused, *too_bad]]
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


def _gradio_upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def _delete_upload(path: Path, folder: Path) -> None:
    """Delete an upload and the per-file folder Gradio made for it (never anything outside `folder`)."""
    path.unlink(missing_ok=True)
    parent = path.resolve().parent
    if parent != folder and parent.is_relative_to(folder):
        with contextlib.suppress(OSError):  # not empty: another upload of the same content
            parent.rmdir()


def removal_prompt(doc_id: str | None) -> tuple[bool, str, str | None]:
    """The staff page's confirmation before removing: (show the prompt, its text, the letter pending)."""
    if not doc_id:
        return False, T.REMOVE_NOTHING, None
    return True, T.REMOVE_CONFIRM.format(doc=T.literal_markdown(doc_id)), doc_id


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

    # delete_cache: uploads never handed to the upload button go after a day (Gradio deletes them)
    with gr.Blocks(title=T.ADMIN_TITLE, analytics_enabled=False, delete_cache=(3600, 86400)) as admin:
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
                with gr.Row(visible=False, elem_id="remove-confirm") as confirm_row:
                    confirm_text = gr.Markdown(elem_id="remove-confirm-text")
                    confirm_btn = gr.Button(T.REMOVE_CONFIRM_BUTTON, variant="stop", elem_id="remove-confirm-btn")
                    cancel_btn = gr.Button(T.REMOVE_CANCEL_BUTTON, elem_id="remove-cancel-btn")
                pending = gr.State(None)  # the letter the prompt asks about
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

        def ask_remove(doc_id: str | None) -> tuple[Any, ...]:
            show, text, letter = removal_prompt(doc_id)
            return gr.Row(visible=show), text if show else "", letter, "" if show else text

        def remove(doc_id: str | None) -> tuple[Any, ...]:
            return (remove_status(bot, doc_id), *listing(), gr.Row(visible=False), None)

        def cancel() -> tuple[Any, ...]:
            return T.REMOVE_CANCELLED, gr.Row(visible=False), None

        def rebuild(full_rebuild: bool, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return (rebuild_status(bot, full_rebuild, progress), *listing())

        def probe(question: str, k: float) -> str:
            return probe_results(bot, question, int(k))

        write: dict[str, Any] = {
            "concurrency_id": WRITE_QUEUE, "concurrency_limit": 1, "api_visibility": "private"
        }  # fmt: skip
        upload_btn.click(upload, files, [upload_status, files, letters, doc], **write)
        remove_btn.click(ask_remove, doc, [confirm_row, confirm_text, pending, manage_status],
                         api_visibility="private")  # fmt: skip
        confirm_btn.click(remove, pending, [manage_status, letters, doc, confirm_row, pending], **write)
        cancel_btn.click(cancel, None, [manage_status, confirm_row, pending], api_visibility="private")
        rebuild_btn.click(rebuild, full, [manage_status, letters, doc], **write)
        probe_btn.click(probe, [probe_q, probe_k], probe_out, api_visibility="private")
        probe_q.submit(probe, [probe_q, probe_k], probe_out, api_visibility="private")
        admin.load(listing, None, [letters, doc], api_visibility="private")
    admin.queue(api_open=False)
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
        try:
            report = build_index(settings, bot.embedder)
        except IndexCorruptError as e:  # serve anyway: every question gets 503 with the way out
            log.error("the index is damaged, questions get 503 until it is rebuilt: %s", e)
        else:
            for name, reason in report.skipped:
                log.warning("skipped %s: %s", name, reason)
            log.info("index up to date (generation %s)", report.generation)
    app = create_app(settings, bot)
    url = f"http://{settings.host}:{settings.port}"
    print(T.SERVING.format(url=url), flush=True)
    if settings.admin_password:
        print(T.SERVING_ADMIN.format(url=f"{url}{ADMIN_PATH}", user=ADMIN_USER), flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_S)
