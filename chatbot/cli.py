"""The `chatbot` command line: one click group; each command is a function.

The library raises ChatbotError subclasses; this module alone turns them into `Error: …` on stderr, exit 1.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import click

from .config import Settings, load_settings
from .embedding import Embedder
from .errors import ChatbotError

EXIT_SKIPPED = 2  # `index build` indexed the corpus but skipped at least one unreadable file

# User-facing text (Chinese), kept together.
LIST_HEADERS = ("文号/编号", "标题", "答复单位", "代表/委员", "日期", "片段数", "读取方式")
NO_LETTERS = "索引中还没有答复函：用 `chatbot index add 文件` 或 `chatbot index build` 加入。"
REPORT_LABELS = {
    "added": "新增", "replaced": "替换", "removed": "移除", "unchanged": "未变", "skipped": "跳过",
}
REPORT_SUMMARY = "共嵌入 {chunks} 个片段，用时 {seconds:.1f} 秒，索引版本 {generation}。"
ALSO_SEE = "其他相关段落："
REMOVED_MESSAGE = "已从索引移除 {doc_id}；原文件 {source} 已移至语料目录的 .removed/。"
MOVED_ASIDE = "原索引已损坏：已整体移到 {path}（未删除任何文件），本次从语料目录重建。"
CHECK_OK = "索引完好：已核对 {files} 个文件，索引版本 {generation}。"
CHECK_NOTE = "提示"
CHECK_PROBLEM = "损坏"
CHECK_DAMAGED = ("索引 {index} 有 {count} 处损坏：运行 `chatbot index build --full` 从语料重建"
                 "（损坏的索引会被整体移到一旁，不会删除）。")


class ChatbotGroup(click.Group):
    """A click group that reports ChatbotError as `Error: message` (exit 1) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChatbotError as e:
            raise click.ClickException(str(e)) from e


def _embedder(settings: Settings) -> Embedder:
    """The configured embedding model (tests replace this function with a fake model)."""
    from .embedding import load_embedder

    return load_embedder(settings)


def _settings(**overrides: Any) -> Settings:
    return load_settings(**overrides)


@click.group(cls=ChatbotGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (INFO level) to stderr.")
def main(verbose: bool) -> None:
    """Answers questions about government reply letters (答复函) by quoting them.

    \b
    Examples:
      chatbot index build
      chatbot index add 新答复函.docx
      chatbot index list
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.group("index")
def index_group() -> None:
    """Build and maintain the index of reply letters (folder index/ by default).

    \b
    Examples:
      chatbot index build --corpus corpus/ --index index/
      chatbot index remove 温科提复〔2024〕91号
    """


_INDEX_OPTION = click.option(
    "--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Index folder (default: $CHATBOT_INDEX_DIR or index/).",
)
_CORPUS_OPTION = click.option(
    "--corpus", "corpus_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder of letter files (default: $CHATBOT_CORPUS_DIR or corpus/).",
)


def _print_report(report: Any) -> None:
    if getattr(report, "moved_aside", None):
        click.echo(MOVED_ASIDE.format(path=report.moved_aside), err=True)
    for key, label in REPORT_LABELS.items():
        for item in getattr(report, key):
            if key == "skipped":
                file, reason = item
                click.echo(f"{label}  {file}: {reason}", err=True)
            elif key != "unchanged":
                click.echo(f"{label}  {item}")
    if report.unchanged:
        click.echo(f"{REPORT_LABELS['unchanged']}  {len(report.unchanged)}")
    click.echo(REPORT_SUMMARY.format(chunks=report.chunks_embedded, seconds=report.seconds,
                                     generation=report.generation))


@index_group.command("build")
@_CORPUS_OPTION
@_INDEX_OPTION
@click.option("--full", is_flag=True, help="Re-read and re-embed every letter (needed after changing model).")
@click.pass_context
def index_build(ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None, full: bool) -> None:
    """Bring the index up to date with the corpus folder.

    Only new or changed files are embedded; letters whose file left the corpus are removed.
    An unreadable file is reported and skipped (exit code 2) while the others are indexed.

    \b
    Examples:
      chatbot index build
      chatbot index build --full
      chatbot index build --corpus ~/letters --index /srv/chatbot/index
    """
    from .indexing import build_index

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    report = build_index(settings, _embedder(settings), full=full, progress=True)
    _print_report(report)
    if report.skipped:
        ctx.exit(EXIT_SKIPPED)


@index_group.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@_INDEX_OPTION
@_CORPUS_OPTION
def index_add(files: tuple[Path, ...], index_dir: Path | None, corpus_dir: Path | None) -> None:
    """Copy letter files into the corpus and index them.

    Types: .txt .md .docx .pdf (a scanned PDF is read by OCR, page by page), photos and scans
    (.jpg .png .tif), web pages saved from a site (.html .htm), and .doc .rtf .odt .wps (converted by
    LibreOffice, Debian package libreoffice-writer-nogui).

    Every file is checked first: if one cannot be read, nothing is added (exit 1).
    A letter whose 文号 is already indexed replaces the old one.

    \b
    Examples:
      chatbot index add 温科提复〔2024〕92号.docx
      chatbot index add ~/inbox/*.pdf --index /srv/chatbot/index
    """
    from .indexing import add_files

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    _print_report(add_files(settings, _embedder(settings), list(files), progress=True))


@index_group.command("remove")
@click.argument("doc_id")
@_INDEX_OPTION
@_CORPUS_OPTION
def index_remove(doc_id: str, index_dir: Path | None, corpus_dir: Path | None) -> None:
    """Remove the letter DOC_ID (its 文号) from the index; its file moves to <corpus>/.removed/.

    \b
    Example:
      chatbot index remove 温科提复〔2024〕91号
    """
    from .indexing import remove_letter

    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    source = remove_letter(settings, doc_id)
    click.echo(REMOVED_MESSAGE.format(doc_id=doc_id, source=source))


@index_group.command("check")
@_INDEX_OPTION
def index_check(index_dir: Path | None) -> None:
    """Verify every file of the index against the sizes and checksums recorded when it was written.

    Checks store.sqlite (SQLite's integrity check), every segment file (size and SHA-256), and that
    the index loads. Prints each problem with the file it concerns; exit code 1 when anything is damaged.

    \b
    Examples:
      chatbot index check
      chatbot index check --index /srv/chatbot/index
    """
    from .check import check_index

    settings = _settings(index_dir=index_dir)
    report = check_index(settings.index_dir)
    for note in report.notes:
        click.echo(f"{CHECK_NOTE}  {note}")
    for problem in report.problems:
        click.echo(f"{CHECK_PROBLEM}  {problem}")
    if report.problems:
        raise click.ClickException(CHECK_DAMAGED.format(index=settings.index_dir, count=len(report.problems)))
    click.echo(CHECK_OK.format(files=report.files_verified, generation=report.generation))


@index_group.command("list")
@_INDEX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of letters instead of a table.")
def index_list(index_dir: Path | None, as_json: bool) -> None:
    """List the indexed letters: 文号 (or the id a letter without one gets), title, unit, deputies, date, number
    of chunks and how each was read (文本, 网页, 由 .doc 转换, or 识别自扫描件 with the OCR confidence and the pages
    below its floor).

    \b
    Examples:
      chatbot index list
      chatbot index list --json
    """
    from .store import list_letters
    from .ui_text import reading_label

    settings = _settings(index_dir=index_dir)
    letters = list_letters(settings.index_dir)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(x) for x in letters], ensure_ascii=False, indent=1))
        return
    if not letters:
        click.echo(NO_LETTERS)
        return
    rows = [(x.doc_id, x.title, x.unit or "", "、".join(x.deputies), x.date or "", str(x.chunk_count),
             reading_label(x.reading))
            for x in letters]
    click.echo("\t".join(LIST_HEADERS))
    for row in rows:
        click.echo("\t".join(row))


def _chatbot(index_dir: Path | None) -> Any:
    from .service import Chatbot

    settings = _settings(index_dir=index_dir)
    return Chatbot(settings, embedder=_embedder(settings))


@main.command("ask")
@click.argument("question")
@_INDEX_OPTION
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages to return.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object (see README).")
def ask(question: str, index_dir: Path | None, k: int, as_json: bool) -> None:
    """Answer QUESTION from the letters: short answer, quote and source.

    \b
    Examples:
      chatbot ask "2024年计划建成几家概念验证中心"
      chatbot ask "答复函的联系人是谁" --json
    """
    reply = _chatbot(index_dir).answer(question, k=k)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(reply), ensure_ascii=False, indent=2))
        return
    click.echo(reply.answer)
    if not reply.abstained and len(reply.passages) > 1:
        click.echo(f"\n{ALSO_SEE}")
        for passage in reply.passages[1:]:
            click.echo(f"  [{passage.score:.2f}] {passage.doc_id} · {passage.section}")


@main.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_INDEX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the metrics and every miss as JSON.")
def evaluate_command(questions: Path, index_dir: Path | None, as_json: bool) -> None:
    """Measure retrieval and answers on a QUESTIONS.jsonl file (or a file of conversations).

    Prints hit@1/3/5, quote@1, answer@1, MRR, abstention on out-of-scope questions, false
    abstention on the others, latency p50/p95, the same per question kind and per letter, the
    reason of every wrong refusal, and every miss. A file of conversations ({"turns": [...]}) is
    asked turn by turn with the replies as history; every turn must come from the right letter.

    \b
    Example:
      chatbot eval ../shared/eval/questions.jsonl
    """
    from . import evaluation as ev

    bot = _chatbot(index_dir)
    letters = bot.letters()
    report: Any
    if ev.is_conversation_file(questions):
        report = ev.evaluate_conversations(bot, ev.load_conversations(questions), letters)
        text = ev.format_conversation_report(report)
    else:
        report = ev.evaluate(bot, ev.load_questions(questions), letters)
        text = ev.format_report(report)
    click.echo(json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=2) if as_json else text)


@main.command("serve")
@_INDEX_OPTION
@_CORPUS_OPTION
@click.option("--host", default=None, help="Address to listen on (default: $CHATBOT_HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on (default: $CHATBOT_PORT or 7860).")  # fmt: skip
def serve_command(
    index_dir: Path | None, corpus_dir: Path | None, host: str | None, port: int | None
) -> None:
    """Serve the chat window, the staff page and the HTTP API.

    Builds the index first when it is missing or stale. The staff page (/admin: upload, remove,
    rebuild, 命中测试) exists only when CHATBOT_ADMIN_PASSWORD is set; log in as `admin` with it.

    \b
    Examples:
      chatbot serve
      CHATBOT_ADMIN_PASSWORD=换成强密码 chatbot serve --host 0.0.0.0 --port 8080
    """
    from .app import serve
    from .service import Chatbot

    settings = _settings(index_dir=index_dir, corpus_dir=corpus_dir, host=host, port=port)
    serve(settings, Chatbot(settings, embedder=_embedder(settings)))
