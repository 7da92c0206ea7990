"""The staff page's gate: login, throttling, signed sessions, which files may be indexed, what the chat serves."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from chatbot import ui_text as T
from chatbot.app import create_app, removal_prompt, upload_letters
from chatbot.config import Settings, load_settings
from chatbot.embedding import HashingEmbedder
from chatbot.indexing import build_index
from chatbot.service import Chatbot
from chatbot.staff import SESSION_COOKIE, LoginThrottle, Sessions, StaffGate, session_key

ROOT = Path(__file__).resolve().parent.parent
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
NEW_LETTER = Path(__file__).resolve().parent / "data" / "app" / "温海渔提复〔2024〕35号.txt"
PASSWORD = "s3cret-staff"


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Chatbot]:
    """An index of the real letter, a staff password, and Gradio's upload folder under tmp_path."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REAL_LETTER, corpus)
    settings = replace(load_settings(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache"),
                       admin_password=PASSWORD)
    build_index(settings, HashingEmbedder())
    return settings, Chatbot(settings, embedder=HashingEmbedder())


def _login(client: TestClient, user: str = "admin", password: str = PASSWORD) -> Any:
    return client.post("/admin/login", data={"username": user, "password": password}, follow_redirects=False)


def _gate(tmp_path: Path, clock: Clock) -> TestClient:
    """The gate alone in front of an app that answers "inside" (the time is the test's)."""
    async def inside(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("inside")(scope, receive, send)

    gate = StaffGate(inside, password=PASSWORD, key=b"k" * 32, upload_folder=tmp_path,
                     throttle=LoginThrottle(clock), sessions=Sessions(b"k" * 32, clock=clock))
    return TestClient(gate)


# ---------------------------------------------------------------- logging in


def test_admin_redirects_to_the_staff_page_and_that_to_the_login(site: tuple[Settings, Chatbot]) -> None:
    client = TestClient(create_app(*site))
    first = client.get("/admin", follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (307, "/admin/")
    second = client.get("/admin/", follow_redirects=False)
    assert (second.status_code, second.headers["location"]) == (303, "/admin/login")
    page = client.get("/admin/login")
    assert page.status_code == 200 and 'name="password"' in page.text and "<script" not in page.text


def test_only_the_user_admin_logs_in_and_gets_a_signed_cookie(site: tuple[Settings, Chatbot]) -> None:
    client = TestClient(create_app(*site))
    other = _login(client, user="root")
    assert other.status_code == 401 and T.LOGIN_WRONG in other.text and SESSION_COOKIE not in other.cookies
    client = TestClient(create_app(*site))  # a fresh throttle: the wrong login above made this client wait
    right = _login(client)
    assert (right.status_code, right.headers["location"]) == (303, "/admin/")
    flags = right.headers["set-cookie"].split("; ")[1:]
    assert flags == ["Path=/admin", "Max-Age=28800", "HttpOnly", "SameSite=Strict"]
    assert client.get("/admin/config").status_code == 200


def test_wrong_logins_wait_longer_each_time_then_lock_the_client_out(tmp_path: Path, caplog) -> None:
    clock = Clock()
    client = _gate(tmp_path, clock)
    caplog.set_level(logging.WARNING, logger="chatbot.staff")
    statuses = [_login(client, password="guess").status_code for _ in range(200)]  # as fast as it can
    assert statuses == [401] + [429] * 199
    assert _login(client).status_code == 429  # the right password waits too
    waits = []
    for _ in range(9):  # each wrong login makes the next wait twice as long, until the lock-out
        wait = int(_login(client, password="guess").headers.get("retry-after", "0") or 0)
        waits.append(wait)
        clock.now += wait
        assert _login(client, password="guess").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    locked = _login(client)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    assert T.LOGIN_WAIT.format(seconds=900) in locked.text
    clock.now += 900
    assert _login(client).status_code == 303
    assert "wrong staff login from testclient (user 'admin', 10 in a row)" in caplog.text


def test_a_session_survives_a_restart_but_not_a_new_password(site: tuple[Settings, Chatbot]) -> None:
    settings, bot = site
    first = TestClient(create_app(settings, bot))
    token = _login(first).cookies[SESSION_COOKIE]
    restarted = TestClient(create_app(settings, bot))  # a new process: same password and cache folder
    restarted.cookies.set(SESSION_COOKIE, token, path="/admin")
    assert restarted.get("/admin/config").status_code == 200
    changed = TestClient(create_app(replace(settings, admin_password="another-password"), bot))
    changed.cookies.set(SESSION_COOKIE, token, path="/admin")
    assert changed.get("/admin/config").status_code == 401
    first.get("/admin/logout")
    assert first.get("/admin/config").status_code == 401


def test_session_tokens_expire_and_cannot_be_forged(tmp_path: Path) -> None:
    clock = Clock()
    sessions = Sessions(session_key(PASSWORD, tmp_path), clock=clock)
    token = sessions.issue()
    sid, expiry, signature = token.split(".")
    assert sessions.verify(token) == sid and int(expiry) == clock.now + 8 * 3600
    assert sessions.verify(f"{sid}.{int(expiry) + 3600}.{signature}") is None  # a longer life, same signature
    assert sessions.verify(f"{sid}.{expiry}.{'0' * 64}") is None
    clock.now += 8 * 3600
    assert sessions.verify(token) is None
    assert session_key(PASSWORD, tmp_path) == session_key(PASSWORD, tmp_path)  # the secret is kept
    assert (tmp_path / "staff-session.key").stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- files


def test_only_this_sessions_uploads_reach_the_staff_page(site: tuple[Settings, Chatbot]) -> None:
    settings, bot = site
    client = TestClient(create_app(settings, bot))
    _login(client)
    config = client.get("/admin/config").json()
    upload_input = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "upload")
    event = next(d for d in config["dependencies"] if upload_input in d["inputs"])

    def join(path: str, who: TestClient = client) -> Any:
        data = [[{"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}]]
        return who.post("/admin/gradio_api/queue/join", json={
            "data": data, "fn_index": event["id"], "trigger_id": event["targets"][0][0], "session_hash": "s1"})

    server_file = join(str(ROOT / "README.md"))
    assert server_file.status_code == 403
    assert server_file.json() == {"error": "README.md was not uploaded in this session: upload it again"}
    (uploaded,) = client.post("/admin/gradio_api/upload", files={"files": ("a.txt", "答复函".encode())}).json()
    assert Path(uploaded).is_relative_to(settings.cache_dir.parent / "gradio")
    other = TestClient(create_app(settings, bot))
    _login(other)
    assert join(uploaded, other).status_code == 403  # another session's upload
    assert join(uploaded).status_code == 200
    assert {x.doc_id for x in bot.letters()} == {"温科提复〔2024〕91号"}


def test_the_chat_accepts_no_upload_and_serves_no_staff_file(site: tuple[Settings, Chatbot]) -> None:
    client = TestClient(create_app(*site))
    public = client.post("/gradio_api/upload", files={"files": ("a.txt", b"x")})
    assert public.status_code == 404
    assert public.json() == {"error": "not found: the chat accepts no uploads and serves no files"}
    assert client.post("/gradio_api/component_server", files={"x": ("a.txt", b"x")}).status_code == 404
    _login(client)
    (uploaded,) = client.post("/admin/gradio_api/upload", files={"files": ("a.txt", b"staff only")}).json()
    assert client.get(f"/admin/gradio_api/file={uploaded}").content == b"staff only"
    for path in (f"/gradio_api/file={uploaded}", f"//gradio_api/file={uploaded}", f"/gradio_api/file/{uploaded}"):
        assert client.get(path).status_code == 404, path


def test_staff_uploads_need_a_declared_length_within_the_limit(site: tuple[Settings, Chatbot]) -> None:
    settings, bot = site
    client = TestClient(create_app(replace(settings, max_file_mb=0.001), bot))
    _login(client)
    big = client.post("/admin/gradio_api/upload", files={"files": ("a.txt", b"x" * 1200 * 1024)})  # > 20 files
    assert big.status_code == 413 and big.json()["error"].startswith("request body is larger than")

    def chunks() -> Any:
        yield b"--x\r\n"

    streamed = client.post("/admin/gradio_api/upload", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 411


def test_upload_handler_reads_only_the_upload_folder_and_deletes_what_it_read(site: tuple[Settings, Chatbot],
                                                                            tmp_path: Path) -> None:
    settings, bot = site
    folder = tmp_path / "gradio"
    (folder / "abc").mkdir(parents=True)
    sent = folder / "abc" / "海洋.txt"
    shutil.copy(NEW_LETTER, sent)
    outside = tmp_path / "secret.txt"
    shutil.copy(NEW_LETTER, outside)
    escape = folder / "abc" / "link.txt"
    escape.symlink_to(outside)
    status = upload_letters(bot, [str(sent), str(outside), str(escape)], settings.max_file_mb,
                            lambda *a, **k: None, upload_folder=folder)
    assert "- 新增（1）：温海渔提复〔2024〕35号" in status
    for name in ("secret\\.txt", "link\\.txt"):
        assert f"- 跳过：{name} — {T.UPLOAD_NOT_OURS}" in status
    assert not sent.exists() and outside.read_bytes() == NEW_LETTER.read_bytes()  # never deleted: not ours


def test_removal_asks_first(site: tuple[Settings, Chatbot]) -> None:
    assert removal_prompt(None) == (False, T.REMOVE_NOTHING, None)
    show, text, pending = removal_prompt("温科提复〔2024〕91号")
    assert (show, pending) == (True, "温科提复〔2024〕91号")
    assert text == T.REMOVE_CONFIRM.format(doc="温科提复〔2024〕91号")
    assert {x.doc_id for x in site[1].letters()} == {"温科提复〔2024〕91号"}  # asking removes nothing
