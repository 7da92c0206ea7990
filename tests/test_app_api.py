"""The web app over a real index (HashingEmbedder): HTTP API, staff page access, upload, safe rendering."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from chatbot import ui_text as T
from chatbot.app import (
    ask,
    create_app,
    probe_results,
    remove_status,
    safe_filename,
    screen_uploads,
    upload_letters,
)
from chatbot.config import Settings, load_settings
from chatbot.embedding import HashingEmbedder
from chatbot.indexing import build_index
from chatbot.service import Chatbot

ROOT = Path(__file__).resolve().parent.parent
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
APP_DATA = Path(__file__).resolve().parent / "data" / "app"
XSS_LETTER = APP_DATA / "温测提复〔2024〕99号.txt"
NEW_LETTER = APP_DATA / "温海渔提复〔2024〕35号.txt"
QUESTION = "2024年计划建成几家概念验证中心"
SENTENCE = "2024年计划建成5家概念验证中心和中试平台。"
PASSWORD = "s3cret-staff"


def _index(root: Path, password: str | None = None) -> tuple[Settings, Chatbot]:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    for letter in (REAL_LETTER, XSS_LETTER):
        shutil.copy(letter, corpus / letter.name)
    # replace(), not an override: a CHATBOT_ADMIN_PASSWORD in the environment must not leak into the tests
    settings = replace(load_settings(corpus_dir=corpus, index_dir=root / "index"), admin_password=password)
    embedder = HashingEmbedder()
    build_index(settings, embedder)
    return settings, Chatbot(settings, embedder=embedder)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Chatbot]:
    return _index(tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def client(built: tuple[Settings, Chatbot]) -> TestClient:
    settings, bot = built
    return TestClient(create_app(settings, bot))


@pytest.fixture(scope="module")
def staff_client(built: tuple[Settings, Chatbot]) -> TestClient:
    settings, bot = built
    return TestClient(create_app(replace(settings, admin_password=PASSWORD), bot))


# ---------------------------------------------------------------- HTTP API, good requests


def test_healthz_counts_letters_and_chunks(client: TestClient, built: tuple[Settings, Chatbot]) -> None:
    body = client.get("/healthz").json()
    letters = built[1].letters()
    assert body == {
        "status": "ok",
        "letters": 2,
        "chunks": sum(x.chunk_count for x in letters),
        "generation": built[1].snapshot().generation,
    }
    assert body["chunks"] > 2


def test_retrieve_returns_passages_best_first(client: TestClient) -> None:
    response = client.get("/api/retrieve", params={"q": QUESTION, "k": "3"})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == QUESTION
    assert len(body["passages"]) == 3
    top = body["passages"][0]
    assert top["doc_id"] == "温科提复〔2024〕91号"
    assert top["section"].startswith("二、") and top["section"].endswith("（二）下一步工作计划")
    assert SENTENCE in top["text"]
    assert {"doc_id", "title", "section", "text", "quote", "score", "start", "end"} <= set(top)


def test_retrieve_default_k_is_5_and_doc_id_filters(client: TestClient) -> None:
    assert len(client.get("/api/retrieve", params={"q": QUESTION}).json()["passages"]) == 5
    scoped = client.get("/api/retrieve", params={"q": QUESTION, "doc_id": "温测提复〔2024〕99号"}).json()
    assert {p["doc_id"] for p in scoped["passages"]} == {"温测提复〔2024〕99号"}


def test_ask_returns_the_design_json(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer", "direct_answer", "abstained", "passages", "scope", "reason"}
    assert body["direct_answer"] == "5家"
    assert body["abstained"] is False
    assert SENTENCE.rstrip("。") in body["passages"][0]["quote"]
    assert body["answer"].startswith("**5家**")


def test_ask_uses_history_for_a_follow_up(client: TestClient) -> None:
    body = client.post(
        "/api/ask", json={"question": "那中试平台呢？", "history": [QUESTION], "k": 2}
    ).json()
    assert len(body["passages"]) == 2
    assert "中试平台" in body["passages"][0]["quote"]


def test_letters_lists_every_indexed_letter(client: TestClient) -> None:
    letters = client.get("/api/letters").json()["letters"]
    by_id = {x["doc_id"]: x for x in letters}
    assert set(by_id) == {"温科提复〔2024〕91号", "温测提复〔2024〕99号"}
    assert by_id["温科提复〔2024〕91号"]["title"] == "关于加快科技成果落地转化的建议"
    assert by_id["温科提复〔2024〕91号"]["deputies"] == ["虞振勇"]
    assert by_id["温科提复〔2024〕91号"]["reading"] == {  # how it was read: a text file
        "method": "text", "pages": 0, "ocr_pages": [], "ocr_confidence": None, "low_confidence_pages": [],
        "converted_from": None,
    }


# ---------------------------------------------------------------- HTTP API, bad requests


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing q"),
        ({"q": "   "}, "q is empty"),
        ({"q": QUESTION, "k": "0"}, "k must be an integer from 1 to 50, got 0"),
        ({"q": QUESTION, "k": "51"}, "k must be an integer from 1 to 50, got 51"),
        ({"q": QUESTION, "k": "abc"}, "k must be an integer from 1 to 50, got 'abc'"),
        ({"q": QUESTION, "k": "1.5"}, "k must be an integer from 1 to 50, got '1.5'"),
        ({"q": "问" * 501}, "q is 501 characters long; the limit is 500"),
    ],
)
def test_retrieve_bad_request_is_400_json(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get("/api/retrieve", params=params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not JSON"),
        (b"", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b'["a list"]', "body must be a JSON object"),
        (b"{}", "missing question"),
        (b'{"question": 5}', "question must be a string"),
        (b'{"question": ""}', "question is empty"),
        (b'{"question": "q", "k": true}', "k must be an integer"),
        (b'{"question": "q", "k": 0}', "k must be an integer from 1 to 50, got 0"),
        (b'{"question": "q", "history": "x"}', "history must be a list"),
        (b'{"question": "q", "history": [{"role": "system", "content": "x"}]}', "history[0] must be"),
        (b'{"question": "q", "history": [1]}', "history[0] must be"),
        (b'{"question": "q", "extra": 1}', "unknown field(s): extra"),
    ],
)
def test_ask_bad_request_is_400_json(client: TestClient, body: bytes, message: str) -> None:
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_ask_question_over_500_chars_is_400(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "问" * 501})
    assert response.status_code == 400
    assert response.json() == {"error": "question is 501 characters long; the limit is 500"}


def test_ask_oversize_body_is_413(client: TestClient) -> None:
    big = b'{"question": "' + b"a" * (65 * 1024) + b'"}'
    response = client.post("/api/ask", content=big)
    assert response.status_code == 413
    assert response.json() == {"error": "request body is larger than 64 KB"}


def test_ask_oversize_chunked_body_without_length_is_413(client: TestClient) -> None:
    def chunks():  # a generator body is sent chunked, with no content-length header
        yield b'{"question": "'
        for _ in range(70):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/api/ask", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"] == "request body is larger than 64 KB"


def test_library_errors_become_json(tmp_path: Path, client: TestClient) -> None:
    unknown = client.get("/api/retrieve", params={"q": QUESTION, "doc_id": "不存在〔2024〕1号"})
    assert 400 <= unknown.status_code < 500
    assert "error" in unknown.json()
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "no-index")
    empty = TestClient(create_app(settings, Chatbot(settings, embedder=HashingEmbedder())))
    for path in ("/healthz", f"/api/retrieve?q={QUESTION}", "/api/letters"):
        response = empty.get(path)
        assert response.status_code == 503, path
        assert "no-index" in response.json()["error"]
    response = empty.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 503


# ---------------------------------------------------------------- staff page access


ADMIN_PATHS = ("/admin", "/admin/", "/admin/config", "/admin/gradio_api/info", "/ADMIN/config", "/admin/x")


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_is_404_without_password(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_admin_upload_and_queue_are_404_without_password(client: TestClient) -> None:
    assert client.post("/admin/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 404
    assert client.post("/admin/gradio_api/queue/join", json={}).status_code == 404


def test_public_page_has_no_management_functions(client: TestClient) -> None:
    assert client.get("/").status_code == 200
    config = client.get("/config").text
    assert "question" in config and "sources" in config
    for staff_only in ("upload-btn", "remove-btn", "rebuild-btn", "probe-results", T.TAB_PROBE):
        assert staff_only not in config


@pytest.mark.parametrize("path", ["/admin/config", "/admin/gradio_api/info"])
def test_admin_requires_login_with_password(staff_client: TestClient, path: str) -> None:
    assert staff_client.get(path).status_code == 401


def test_admin_upload_route_requires_login(staff_client: TestClient) -> None:
    response = staff_client.post("/admin/gradio_api/upload", files={"files": ("a.txt", b"x")})
    assert response.status_code == 401


def test_admin_login_with_password(built: tuple[Settings, Chatbot]) -> None:
    settings, bot = built
    app = create_app(replace(settings, admin_password=PASSWORD), bot)
    with TestClient(app) as browser:
        assert browser.get("/admin/config").status_code == 401
        right = browser.post("/admin/login", data={"username": "admin", "password": PASSWORD})
        assert right.status_code == 200 and right.url.path == "/admin/"  # redirected to the staff page
        config = browser.get("/admin/config")
        assert config.status_code == 200
        assert "upload-btn" in config.text and T.TAB_PROBE in config.text
        assert "remove-confirm-btn" in config.text


# ---------------------------------------------------------------- chat turns and safe rendering


def test_chat_turn_shows_answer_and_highlighted_sources(built: tuple[Settings, Chatbot]) -> None:
    _, bot = built
    textbox, messages, turns, sources = ask(bot, QUESTION, [], [])
    assert textbox == ""
    assert messages[0] == {"role": "user", "content": T.literal_markdown(QUESTION)}
    assert messages[1]["role"] == "assistant" and messages[1]["content"].startswith("**5家**")
    assert turns == [{"role": "user", "content": QUESTION}, messages[1]]
    assert f"<h3>{T.SOURCES_HEADING}</h3>" in sources
    cited = sources.split('<ol class="cited">')[1].split("</ol>")[0]
    assert "<mark>2024年计划建成5家概念验证中心和中试平台。</mark>" in cited
    assert f'<h3 class="others">{T.OTHERS_HEADING}</h3><ol class="others" start="2">' in sources
    assert "（二）下一步工作计划" in sources


def test_chat_follow_up_uses_this_sessions_questions(built: tuple[Settings, Chatbot]) -> None:
    _, bot = built
    _, messages, turns, _ = ask(bot, QUESTION, [], [])
    _, messages, turns, _ = ask(bot, "那中试平台呢？", messages, turns)
    assert len(messages) == 4
    assert [t["content"] for t in turns if t["role"] == "user"] == [QUESTION, "那中试平台呢？"]
    assert "中试平台" in messages[3]["content"]


def test_chat_refuses_a_too_long_question_and_reports_library_errors(tmp_path: Path) -> None:
    settings = load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "no-index")
    bot = Chatbot(settings, embedder=HashingEmbedder())
    _, messages, turns, _ = ask(bot, "问" * 501, [], [])
    assert messages[1]["content"] == T.QUESTION_TOO_LONG.format(limit=500) and turns == []
    _, messages, turns, _ = ask(bot, QUESTION, [], [])
    assert messages[1]["content"].startswith("暂时无法回答：") and "no\\-index" in messages[1]["content"]
    assert turns == []


def test_abstention_sources_are_possibly_related_without_highlight(built: tuple[Settings, Chatbot]) -> None:
    _, bot = built
    answer = bot.answer("市体育馆什么时候开放游泳池？")
    assert answer.abstained
    html = T.sources_html(answer)
    assert f"<h3>{T.RELATED_HEADING}</h3>" in html and 'class="sources abstained"' in html
    assert "<mark>" not in html


def test_user_html_and_markdown_are_shown_literally(built: tuple[Settings, Chatbot]) -> None:
    _, bot = built
    question = "<img src=x onerror=alert(1)> ![a](http://example.invalid/a.png) [b](javascript:alert(1))"
    _, messages, _, _ = ask(bot, question, [], [])
    shown = messages[0]["content"]
    assert "<img" not in shown and "](" not in shown
    assert shown == (
        r"&lt;img src\=x onerror\=alert\(1\)&gt; \!\[a\]\(http\://example\.invalid/a\.png\) "
        r"\[b\]\(javascript\:alert\(1\)\)"
    )


def test_letter_html_is_escaped_in_sources_and_letters(built: tuple[Settings, Chatbot]) -> None:
    _, bot = built
    answer = bot.answer("2024年共检查网页模板多少个？")
    html = T.sources_html(answer)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    letters = T.letters_html(bot.letters())
    assert "关于网页&lt;script&gt;alert(1)&lt;/script&gt;安全展示的建议" in letters
    assert "<script" not in letters
    probe = probe_results(bot, "网页模板", 3)
    assert "<img" not in probe and "<script" not in probe and "&lt;img src=x" in probe


def test_api_answer_markdown_has_no_raw_letter_html(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "诸如什么样的标记应当原样显示？"}).json()
    assert "<img" not in body["answer"] and "<script" not in body["answer"]


# ---------------------------------------------------------------- staff actions


def test_probe_lists_dense_bm25_fused_scores(built: tuple[Settings, Chatbot]) -> None:
    html = probe_results(built[1], QUESTION, 3)
    assert html.count("<tr>") == 4  # header + 3 rows
    for column in ("向量", "BM25", "融合", "最终得分"):
        assert f"<th>{column}</th>" in html
    assert probe_results(built[1], "  ", 3) == T.probe_html([])


@pytest.mark.parametrize(
    ("text", "quote", "html"),
    [
        ("甲。乙<b>。丙。", "乙<b>。", "甲。<mark>乙&lt;b&gt;。</mark>丙。"),
        ("甲一。乙二。丙三。", "甲一。丙三。", "<mark>甲一。</mark>乙二。<mark>丙三。</mark>"),
        ("甲一。乙二。", "不在原文。", "甲一。乙二。"),
        ("a<i>b", "", "a&lt;i&gt;b"),
    ],
)
def test_highlight_marks_the_quote_and_escapes_the_rest(text: str, quote: str, html: str) -> None:
    assert T.highlight(text, quote) == html


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\温科提复〔2024〕1号.TXT", "温科提复〔2024〕1号.txt"),
        (".hidden.md", "hidden.md"),
        ('a<b>:"c|?*.pdf', "a_b___c___.pdf"),
        ("...", "letter"),
        ("x\x00y.docx", "x_y.docx"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_screen_uploads_refuses_type_and_size(tmp_path: Path) -> None:
    good, exe, big = tmp_path / "a.txt", tmp_path / "b.exe", tmp_path / "c.pdf"
    good.write_text("x")
    exe.write_text("x")
    big.write_bytes(b"x" * 2048)
    accepted, refused = screen_uploads([str(good), str(exe), str(big)], max_file_mb=1 / 1024)
    assert accepted == [good]
    assert refused == [("b.exe", T.UPLOAD_BAD_TYPE), ("c.pdf", T.UPLOAD_TOO_BIG.format(mb="0.000976562"))]


def _no_progress(fraction: float, desc: str = "") -> None:
    pass


def test_upload_indexes_a_new_letter_under_a_safe_name(tmp_path: Path) -> None:
    settings, bot = _index(tmp_path / "site")
    uploads = tmp_path / "uploads" / "..hidden"
    uploads.mkdir(parents=True)
    sent = uploads / ".海洋牧场答复.TXT"
    shutil.copy(NEW_LETTER, sent)
    (uploads / "x.exe").write_bytes(b"MZ")
    status = upload_letters(bot, [str(sent), str(uploads / "x.exe")], settings.max_file_mb, _no_progress,
                            upload_folder=tmp_path / "uploads")
    assert status.startswith("**索引已更新**")
    assert not uploads.exists()  # both uploads are deleted, indexed or refused, and so is their folder
    assert "- 新增（1）：温海渔提复〔2024〕35号" in status
    assert "- 跳过：x\\.exe — 不支持的文件类型" in status
    assert (settings.corpus_dir / "海洋牧场答复.txt").is_file()
    assert {x.doc_id for x in bot.letters()} >= {"温海渔提复〔2024〕35号"}
    answer = bot.answer("2024年计划新建几个海洋牧场示范区？")
    assert answer.direct_answer == "3个"
    assert remove_status(bot, "温海渔提复〔2024〕35号").startswith("已删除 温海渔提复〔2024〕35号")
    assert "温海渔提复〔2024〕35号" not in {x.doc_id for x in bot.letters()}
    assert remove_status(bot, "温海渔提复〔2024〕35号").startswith("操作失败：no letter")


def test_upload_of_a_bad_letter_reports_it_and_changes_nothing(tmp_path: Path) -> None:
    settings, bot = _index(tmp_path / "site")
    before = bot.snapshot().generation
    empty = tmp_path / "空白.txt"
    empty.write_text("   \n")
    status = upload_letters(bot, [str(empty)], settings.max_file_mb, _no_progress, upload_folder=tmp_path)
    assert status == r"操作失败：空白\.txt\: empty file \(only whitespace\)"  # markdown-escaped
    assert bot.snapshot().generation == before
    assert not (settings.corpus_dir / "空白.txt").exists()


class _GatedEmbedder(HashingEmbedder):
    """HashingEmbedder whose batch encoding (index writes) waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.gate = threading.Event()

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if len(texts) > 1:  # a build embeds many chunks; a question embeds one text
            self.writing.set()
            if not self.gate.wait(timeout=60):
                raise TimeoutError("the test never opened the gate")
        return super().encode(texts, progress=progress)


def test_questions_during_a_rebuild_are_answered_from_the_old_index(tmp_path: Path) -> None:
    settings, _ = _index(tmp_path / "site")
    embedder = _GatedEmbedder()
    bot = Chatbot(settings, embedder=embedder)
    client = TestClient(create_app(settings, bot))
    before = client.get("/healthz").json()["generation"]
    rebuild = threading.Thread(target=bot.rebuild, kwargs={"full": True})
    rebuild.start()
    try:
        assert embedder.writing.wait(timeout=60)
        during = client.post("/api/ask", json={"question": QUESTION})
        assert during.status_code == 200
        assert during.json()["direct_answer"] == "5家"
        assert client.get("/healthz").json()["generation"] == before
    finally:
        embedder.gate.set()
        rebuild.join(timeout=60)
    after = client.get("/healthz").json()
    assert after["generation"] > before and after["letters"] == 2
    assert client.post("/api/ask", json={"question": QUESTION}).json()["direct_answer"] == "5家"


# ---------------------------------------------------------------- serving


def test_cli_serve_builds_the_missing_index_and_prints_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from click.testing import CliRunner

    from chatbot import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REAL_LETTER, corpus)
    served: dict[str, object] = {}
    monkeypatch.setattr(cli, "_embedder", lambda settings: HashingEmbedder())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("CHATBOT_ADMIN_PASSWORD", PASSWORD)
    args = ["serve", "--index", str(tmp_path / "index"), "--corpus", str(corpus), "--port", "7999"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        T.SERVING.format(url="http://127.0.0.1:7999"),
        T.SERVING_ADMIN.format(url="http://127.0.0.1:7999/admin", user="admin"),
    ]
    assert served["host"] == "127.0.0.1" and served["port"] == 7999
    assert served["timeout_keep_alive"] == 75  # longer than clients keep idle connections
    health = TestClient(served["app"]).get("/healthz").json()  # type: ignore[arg-type]
    assert health["letters"] == 1 and health["generation"] >= 1


def test_cli_serve_reports_a_missing_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from chatbot import cli

    monkeypatch.setattr(cli, "_embedder", lambda settings: HashingEmbedder())
    args = ["serve", "--index", str(tmp_path / "index"), "--corpus", str(tmp_path / "nothing")]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 1
    assert "corpus folder" in result.output and "does not exist" in result.output
