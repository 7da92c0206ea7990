"""The dataclasses that flow between the stages: Document → Chunk → Passage → Answer."""

from __future__ import annotations

from dataclasses import dataclass, field

LETTERHEAD = "letterhead"
BODY = "body"
CLOSING = "closing"

# How a letter's text was read from its file (Reading.method).
READ_TEXT = "text"  # a text file, a .docx, or a PDF's text layer
READ_OCR = "ocr"  # at least one page recognised from an image (scanned PDF page, photo)
READ_WEB = "web"  # the main content of a saved web page
READ_CONVERTED = "converted"  # an old Word/.rtf/.odt/.wps file converted to .docx by LibreOffice


@dataclass(frozen=True)
class LetterMeta:
    """What the letterhead and closing say about a letter; every field may be missing."""

    doc_number: str | None = None  # 文号, e.g. 温科提复〔2024〕91号
    session: str | None = None  # 会议, e.g. 市十四届人大四次会议
    proposal_kind: str | None = None  # 建议 (人大) or 提案 (政协)
    proposal_number: str | None = None  # e.g. "817"
    deputies: tuple[str, ...] = ()  # 代表/委员 names, without the title
    title: str | None = None  # the suggestion's title without 《》, else the letter's heading
    unit: str | None = None  # replying unit (落款单位, else the one before the heading or 承办单位)
    date: str | None = None  # ISO date of the letter, e.g. 2024-06-26 (2024-06 when no day is written)
    contact_person: str | None = None
    contact_phone: str | None = None
    cc: tuple[str, ...] = ()  # 抄送 list
    heading: str | None = None  # the letter's own title line(s), e.g. 关于市十七届人大三次会议第182号代表建议的答复函
    role: str | None = None  # 代表 or 委员, as the letter addresses them
    fields: tuple[tuple[str, str], ...] = ()  # every labelled line (办复类别, B类), (承办责任人, 王敏) …, as written


@dataclass(frozen=True)
class Reading:
    """How a letter's text was obtained from its file; what the letter says is LetterMeta."""

    method: str = READ_TEXT  # READ_TEXT, READ_OCR, READ_WEB or READ_CONVERTED
    pages: int = 0  # pages of a PDF or an image file; 0 for formats without pages
    ocr_pages: tuple[int, ...] = ()  # 1-based numbers of the pages read by OCR
    ocr_confidence: float | None = None  # the recogniser's mean confidence over those pages' characters
    low_confidence_pages: tuple[int, ...] = ()  # OCR'd pages below the confidence floor (chatbot.ocr)
    converted_from: str | None = None  # the original suffix (".doc") when LibreOffice converted the file


@dataclass(frozen=True)
class Document:
    """One letter, read and cleaned. `text` is what chunk spans index into."""

    doc_id: str  # 文号 when present, else the file's stem
    source: str  # file name inside the corpus folder
    sha256: str  # of the raw file bytes
    text: str  # cleaned text (original characters, not NFKC-normalized)
    meta: LetterMeta = field(default_factory=LetterMeta)
    warnings: tuple[str, ...] = ()
    reading: Reading = field(default_factory=Reading)


@dataclass(frozen=True)
class Chunk:
    """A piece of a letter cut along its own structure."""

    chunk_id: str  # doc_id + section path + content hash: stable across rebuilds
    doc_id: str
    section: str  # e.g. "二、关于“…”的建议 › （二）下一步工作计划"; "函头" / "落款" for letterhead / closing
    kind: str  # LETTERHEAD, BODY or CLOSING
    text: str  # original text, quoted to users
    start: int  # span of `text` in Document.text
    end: int
    search_text: str  # NFKC-normalized unit › heading path + text: what is embedded and searched


@dataclass(frozen=True)
class LetterInfo:
    """A letter as the index knows it: for `chatbot index list`, the letters page and the API."""

    doc_id: str
    title: str
    deputies: tuple[str, ...]
    date: str | None
    chunk_count: int
    source: str
    meta: LetterMeta = field(default_factory=LetterMeta)
    unit: str | None = None  # the responding unit (meta.unit), shown beside the title
    reading: Reading = field(default_factory=Reading)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the sentence(s) that answer the question."""

    doc_id: str
    title: str
    section: str
    text: str
    quote: str
    score: float
    start: int
    end: int
    chunk_id: str = ""
    kind: str = BODY
    scanned: bool = False  # the letter was read by OCR (shown as 识别自扫描件 beside the citation)


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str  # markdown shown in the chat
    direct_answer: str | None
    abstained: bool
    passages: list[Passage]
    scope: list[str] = field(default_factory=list)  # doc_ids the answer was restricted to; empty: all letters
    reason: str | None = None  # why the letters do not answer, when abstained (for evaluation and staff)
