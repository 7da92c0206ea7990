"""What the chat window shows: its Chinese strings and the HTML/markdown built from letters and questions.

Every piece of letter text, file name and user text goes through `html.escape` here before it reaches a
component: `gr.HTML` is not sanitized at all, and user messages are rendered as markdown.
Pure functions, no Gradio import, so the tests can check the exact markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .schema import READ_CONVERTED, READ_OCR, READ_WEB, Answer, LetterInfo, Passage, Reading

APP_TITLE = "答复函问答"
ADMIN_TITLE = "答复函管理（工作人员）"
ADMIN_LOGIN_MESSAGE = "答复函管理（工作人员）：用户名填 admin，密码为服务器设置的 CHATBOT_ADMIN_PASSWORD。"
LOGIN_WRONG = "用户名或密码不对。"
LOGIN_WAIT = "登录失败次数过多，请 {seconds} 秒后再试。"
# The staff login page (chatbot.staff): {title}, {hint}, {message} (escaped), {user}. No script, nothing
# from another host.
LOGIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f8fafc; display: flex; justify-content: center;
  margin: 0; padding-top: 12vh; }}
form {{ background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 2em; width: 22em; }}
h1 {{ font-size: 1.2em; margin: 0 0 1em 0; }} label {{ display: block; margin: .8em 0 .3em 0; }}
input {{ width: 100%; box-sizing: border-box; padding: .5em; font-size: 1em; }}
button {{ margin-top: 1.4em; width: 100%; padding: .6em; font-size: 1em; background: #2563eb; color: #fff;
  border: 0; border-radius: 6px; }}
.message {{ color: #b91c1c; min-height: 1.2em; margin: 0; }}
</style></head>
<body><form method="post" action="/admin/login">
<h1>{title}</h1>
<p>{hint}</p>
<p class="message" id="login-message">{message}</p>
<label for="username">用户名</label><input id="username" name="username" value="{user}" autocomplete="username">
<label for="password">密码</label><input id="password" name="password" type="password" autocomplete="current-password"
  autofocus>
<button id="login" type="submit">登录</button>
</form></body></html>
"""
INTRO = (
    "### 答复函问答\n"
    "用平常的话提问，回答会先给出结论，再引用答复函原文，并注明出自哪份答复函的哪一部分。"
)
EXAMPLE_QUESTIONS = (
    "2024年计划建成几家概念验证中心",
    "2023年度新增了多少家高新技术企业？",
    "市科创基金的规模是多少？",
    "这份答复函的联系人是谁？",
)
EXAMPLES_LABEL = "试试这些问题："
QUESTION_LABEL = "您的问题"
QUESTION_PLACEHOLDER = "例如：2024年计划建成几家概念验证中心？（按回车发送）"
SEND_LABEL = "提问"
CLEAR_LABEL = "清空对话"
CHAT_LABEL = "对话"
TAB_CHAT = "问答"
TAB_LETTERS = "已收录的答复函"
LETTERS_INTRO = "以下答复函可以提问。选中一份后点“就这份答复函提问”，之后的问题只在这份答复函中查找。"
SCOPE_PREFIX = "正在查看："
SCOPE_ALL_BUTTON = "回到全部答复函"
ALL_LETTERS_COMMAND = "回到全部答复函"  # what the button says in the chat: the scope logic reads it like typed text
LETTER_PICK_LABEL = "选择答复函"
LETTER_START_BUTTON = "就这份答复函提问"
LETTER_START_COMMAND = "查看{doc_id}这份答复函"
REFRESH_LABEL = "刷新列表"
SOURCES_EMPTY = '<div class="sources-empty">提问后，这里会列出回答所依据的答复函原文。</div>'
SOURCES_HEADING = "依据的原文"
OTHERS_HEADING = "其他相关段落"
RELATED_HEADING = "可能相关的内容"
RELATED_NOTE = "答复函中没有直接回答这个问题的内容。以下段落可能相关，仅供参考。"
SCORE_LABEL = "检索得分"
QUESTION_TOO_LONG = "问题太长了（最多 {limit} 个字），请精简后再问。"
ANSWER_FAILED = "暂时无法回答：{reason}"
NO_LETTERS = "目前还没有收录任何答复函。"
LETTER_COLUMNS = ("文号/编号", "标题", "答复单位", "代表/委员", "日期", "片段数", "读取方式")
# How a letter was read (Reading.method); an OCR'd letter's quotes carry SCANNED_MARK.
SCANNED_MARK = "识别自扫描件"
READ_AS_TEXT = "文本"
READ_AS_WEB = "网页"
READ_AS_CONVERTED = "由 {suffix} 转换"
OCR_PAGES = "第 {pages} 页"
OCR_CONFIDENCE = "置信度 {confidence:.2f}"
OCR_LOW_PAGES = "低置信度页：{pages}"

SERVING = "答复函问答已启动：{url}  （按 Ctrl+C 停止）"
SERVING_ADMIN = "工作人员页面：{url}  （用户名 {user}，密码即 CHATBOT_ADMIN_PASSWORD）"

# Staff page
ADMIN_INTRO = (
    "### 答复函管理\n"
    "上传新的答复函（.docx、.pdf、.txt、.md、扫描件或照片 .jpg/.png/.tif、网页 .html、"
    "旧版 .doc/.rtf/.odt/.wps）后会自动建立索引；扫描件逐页识别文字，每页需数秒；建立索引期间问答照常可用。"
    "[退出登录](/admin/logout)"
)
TAB_UPLOAD = "上传答复函"
TAB_MANAGE = "删除与重建"
TAB_PROBE = "命中测试"
UPLOAD_LABEL = (
    "选择文件（.docx / .pdf / .txt / .md / .jpg / .png / .tif / .html / .doc / .rtf / .odt / .wps，单个不超过 {mb} MB）"
)
UPLOAD_BUTTON = "上传并建立索引"
UPLOAD_NOTHING = "请先选择要上传的文件。"
UPLOAD_BAD_TYPE = (
    "不支持的文件类型（只接受 .docx、.pdf、.txt、.md、.jpg、.jpeg、.png、.tif、.tiff、"
    ".html、.htm、.doc、.rtf、.odt、.wps）"
)
UPLOAD_TOO_BIG = "文件超过 {mb} MB 的上限"
UPLOAD_NOT_OURS = "不是本次上传的文件，已拒绝"
REMOVE_LABEL = "要删除的答复函（文号）"
REMOVE_BUTTON = "删除"
REMOVE_CONFIRM = "确定要从索引中删除 **{doc}** 吗？原文件会移到语料文件夹的 .removed 子文件夹，问答将不再引用它。"
REMOVE_CONFIRM_BUTTON = "确认删除"
REMOVE_CANCEL_BUTTON = "取消"
REMOVE_CANCELLED = "已取消，没有删除任何答复函。"
REMOVED = "已删除 {doc}（原文件 {file} 已移到语料文件夹的 .removed 子文件夹）。"
INDEXING = "正在读取答复函并建立索引…"
REMOVE_NOTHING = "请先选择要删除的答复函。"
REBUILD_FULL_LABEL = "全部重新计算向量（较慢）"
REBUILD_BUTTON = "重建索引"
PROBE_QUESTION_LABEL = "测试问题"
PROBE_K_LABEL = "返回条数"
PROBE_BUTTON = "测试"
PROBE_EMPTY = "请输入测试问题。"
PROBE_COLUMNS = ("名次", "文号", "位置", "原文", "向量", "BM25", "融合", "最终得分")
ACTION_FAILED = "操作失败：{reason}"
REPORT_TITLE = "**索引已更新**（用时 {seconds:.1f} 秒，计算向量的片段 {chunks} 个）"
REPORT_LINES = (
    ("added", "新增"),
    ("replaced", "替换"),
    ("removed", "删除"),
    ("unchanged", "未变"),
)
REPORT_SKIPPED = "跳过"

CSS = """
.sources { font-size: 0.95em; line-height: 1.6; max-height: 680px; overflow-y: auto; padding-right: 4px; }
.sources h3 { margin: 0 0 .5em 0; font-size: 1.05em; }
.sources .related-note { color: var(--body-text-color-subdued); margin-bottom: .6em; }
.sources ol { padding-left: 1.2em; margin: 0; }
.sources li { margin-bottom: .9em; padding: .6em .8em; border: 1px solid var(--border-color-primary);
  border-radius: 8px; background: var(--background-fill-secondary); }
.sources .src-title { font-weight: 600; }
.sources .src-scanned { margin-left: .4em; font-size: .85em; color: #b45309; }
.sources .src-section { color: var(--body-text-color-subdued); font-size: .9em; }
.sources .src-text { margin-top: .3em; white-space: pre-wrap; }
.sources .src-score { color: var(--body-text-color-subdued); font-size: .85em; margin-top: .2em; }
.sources h3.others { margin-top: 1em; color: var(--body-text-color-subdued); }
.sources ol.others li { background: transparent; }
.sources ol.others mark { background: #fef3c7; }
.sources.abstained li { background: transparent; border-style: dashed; }
.sources-empty { color: var(--body-text-color-subdued); padding: 1em; }
mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
table.letters, table.probe { border-collapse: collapse; width: 100%; font-size: .95em; }
table.letters th, table.letters td, table.probe th, table.probe td {
  border: 1px solid var(--border-color-primary); padding: .35em .5em; text-align: left; vertical-align: top; }
table.probe td.text { white-space: pre-wrap; max-width: 40em; }
#examples button { font-size: .9em; }
"""

# CommonMark lets a backslash escape any ASCII punctuation; `&<>"'` are left to html.escape.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$=])")
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")


def escape_text(text: str) -> str:
    """Text that shows literally in HTML (attributes too)."""
    return html.escape(text, quote=True)


def literal_markdown(text: str) -> str:
    """User text that shows literally when rendered as markdown: no links, images, emphasis or HTML.

    Every markdown character is backslash-escaped, so a typed "# 标题" stays text. (answer.escape_markdown
    uses HTML entities for fewer characters instead, so that the raw answer strings of the API stay readable.)
    """
    return escape_text(_MARKDOWN_SPECIAL.sub(r"\\\1", text))


def highlight(text: str, quote: str) -> str:
    """Escaped `text` with every part of `quote` it contains wrapped in <mark>.

    The quote is usually one contiguous run of the text; when it is several sentences that are not
    adjacent, each sentence found is marked on its own.
    """
    quote = quote.strip()
    pieces = [quote] if quote and quote in text else [s.strip() for s in _SENTENCE.findall(quote)]
    spans: list[tuple[int, int]] = []
    for piece in pieces:
        if len(piece) < 2:
            continue
        start = text.find(piece)
        if start >= 0 and not any(a < start + len(piece) and start < b for a, b in spans):
            spans.append((start, start + len(piece)))
    out, pos = [], 0
    for start, end in sorted(spans):
        out.append(escape_text(text[pos:start]))
        out.append(f"<mark>{escape_text(text[start:end])}</mark>")
        pos = end
    out.append(escape_text(text[pos:]))
    return "".join(out)


def citation(passage: Passage) -> str:
    """《title》（文号）, escaped; 识别自扫描件 when the letter was read by OCR."""
    title = f"《{passage.title}》" if passage.title else ""
    scanned = f'<span class="src-scanned">{SCANNED_MARK}</span>' if passage.scanned else ""
    return f'<span class="src-title">{escape_text(title)}</span>（{escape_text(passage.doc_id)}）{scanned}'


def reading_label(reading: Reading) -> str:
    """How a letter was read, for the letters list: 文本, 网页, 由 .doc 转换, 识别自扫描件（置信度 0.98）."""
    if reading.method == READ_WEB:
        return READ_AS_WEB
    if reading.method == READ_CONVERTED:
        return READ_AS_CONVERTED.format(suffix=reading.converted_from or "")
    if reading.method != READ_OCR:
        return READ_AS_TEXT
    details = []
    if reading.pages and len(reading.ocr_pages) < reading.pages:  # a mixed PDF: which pages were scans
        details.append(OCR_PAGES.format(pages="、".join(map(str, reading.ocr_pages))))
    if reading.ocr_confidence is not None:
        details.append(OCR_CONFIDENCE.format(confidence=reading.ocr_confidence))
    if reading.low_confidence_pages:
        details.append(OCR_LOW_PAGES.format(pages="、".join(map(str, reading.low_confidence_pages))))
    return f"{SCANNED_MARK}（{'；'.join(details)}）" if details else SCANNED_MARK


def _source_item(passage: Passage, marked: bool) -> str:
    body = highlight(passage.text, passage.quote) if marked else escape_text(passage.text)
    return (
        "<li>"
        f'<div class="src-head">{citation(passage)}</div>'
        f'<div class="src-section">{escape_text(passage.section)}</div>'
        f'<div class="src-text">{body}</div>'
        f'<div class="src-score">{SCORE_LABEL} {passage.score:.2f}</div>'
        "</li>"
    )


def sources_html(answer: Answer) -> str:
    """The sources panel beside the chat: passages with section path, score and the highlighted quote.

    The first passage is the one the answer cites; the others follow under their own heading, their best
    sentence marked more faintly. An abstention shows every passage as "possibly related", without
    highlighting: nothing in them answers the question, and a highlight would suggest that something does.
    """
    if not answer.passages:
        return SOURCES_EMPTY
    if answer.abstained:
        items = "".join(_source_item(p, marked=False) for p in answer.passages)
        head = f'<h3>{RELATED_HEADING}</h3><div class="related-note">{RELATED_NOTE}</div>'
        return f'<div class="sources abstained">{head}<ol>{items}</ol></div>'
    cited, *others = answer.passages
    html = f'<div class="sources"><h3>{SOURCES_HEADING}</h3><ol class="cited">{_source_item(cited, True)}</ol>'
    if others:
        items = "".join(_source_item(p, marked=True) for p in others)
        html += f'<h3 class="others">{OTHERS_HEADING}</h3><ol class="others" start="2">{items}</ol>'
    return html + "</div>"


def _table(css_class: str, columns: Sequence[str], rows: Iterable[Sequence[tuple[str, str]]]) -> str:
    """An HTML table; each cell is (css class, already escaped html)."""
    head = "".join(f"<th>{escape_text(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls}">{cell}</td>' for cls, cell in row) + "</tr>" for row in rows
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def letters_html(letters: Sequence[LetterInfo]) -> str:
    """The letters a deputy can ask about: 文号/编号, 标题, 答复单位, 代表/委员, 日期, 片段数, 读取方式."""
    if not letters:
        return f'<div class="sources-empty">{NO_LETTERS}</div>'
    rows = [
        [
            ("doc", escape_text(letter.doc_id)),
            ("title", escape_text(letter.title or "")),
            ("unit", escape_text(letter.unit or "")),
            ("deputies", escape_text("、".join(letter.deputies))),
            ("date", escape_text(letter.date or "")),
            ("count", str(letter.chunk_count)),
            ("reading", escape_text(reading_label(letter.reading))),
        ]
        for letter in letters
    ]
    return _table("letters", LETTER_COLUMNS, rows)


def _score(value: Any) -> str:
    return "" if value is None else f"{float(value):.3f}"


def probe_html(rows: Sequence[dict[str, Any]]) -> str:
    """命中测试: the top-k passages with their dense, BM25, fused and final scores."""
    if not rows:
        return f'<div class="sources-empty">{escape_text(PROBE_EMPTY)}</div>'
    cells = [
        [
            ("rank", escape_text(str(row.get("rank", "")))),
            ("doc", escape_text(str(row.get("doc_id", "")))),
            ("section", escape_text(str(row.get("section", "")))),
            ("text", highlight(str(row.get("text", "")), str(row.get("quote", "")))),
            ("dense", _score(row.get("dense"))),
            ("bm25", _score(row.get("bm25"))),
            ("fused", _score(row.get("fused"))),
            ("score", _score(row.get("score"))),
        ]
        for row in rows
    ]
    return _table("probe", PROBE_COLUMNS, cells)


def report_markdown(report: Any) -> str:
    """A BuildReport as markdown for the staff page; file names and reasons escaped."""
    lines = [REPORT_TITLE.format(seconds=report.seconds, chunks=report.chunks_embedded)]
    for attr, label in REPORT_LINES:
        names = list(getattr(report, attr, ()) or ())
        if names:
            lines.append(f"- {label}（{len(names)}）：" + "、".join(literal_markdown(str(n)) for n in names))
    for name, reason in getattr(report, "skipped", ()) or ():
        lines.append(f"- {REPORT_SKIPPED}：{literal_markdown(str(name))} — {literal_markdown(str(reason))}")
    return "\n".join(lines)


def scope_markdown(letters: Sequence[LetterInfo]) -> str:
    """The line above the question box while a conversation keeps to some letters: 正在查看：《title》（文号）."""
    named = "；".join(f"《{literal_markdown(x.title)}》（{literal_markdown(x.doc_id)}）" for x in letters)
    return f"**{SCOPE_PREFIX}**{named}" if letters else ""
