"""The chat and the staff page in a real browser (Debian's chromium, Playwright), over the real model.

Run alone with `pytest -m browser`. Set CHATBOT_UPDATE_SCREENSHOT=1 to also write docs/screenshot.png,
the chat screenshot shown in the README.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect, sync_playwright

from chatbot.app import create_app
from chatbot.config import load_settings
from chatbot.embedding import load_embedder
from chatbot.indexing import build_index
from chatbot.service import Chatbot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
APP_DATA = Path(__file__).resolve().parent / "data" / "app"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-password"
TIMEOUT_MS = 60_000  # answers take milliseconds; a cold start on 2 busy cores takes seconds
QUESTION = "2024年计划建成几家概念验证中心"
SENTENCE = "2024年计划建成5家概念验证中心和中试平台。"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the real letter and the real model, served by uvicorn in a background thread."""
    import uvicorn

    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "温科提复〔2024〕91号.txt", corpus)
    shutil.copy(APP_DATA / "温测提复〔2024〕99号.txt", corpus)  # a letter with HTML in it
    settings = replace(load_settings(corpus_dir=corpus, index_dir=root / "index"), admin_password=PASSWORD)
    embedder = load_embedder(settings)
    build_index(settings, embedder)
    app = create_app(settings, Chatbot(settings, embedder=embedder))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:  # uvicorn offers no event to wait on
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{uv.config.port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-wqy-microhei")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """A fresh browser session on the app that records every dialog and every request leaving it."""

    def __init__(self, browser: Browser, server: str) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.dialogs: list[str] = []  # an alert() run from letter or user text would land here
        self.outside: list[str] = []
        self.context.on("dialog", self._on_dialog)
        self.context.on("request", lambda r: None if r.url.startswith(server) else self.outside.append(r.url))
        self.page = self.context.new_page()
        self.page.goto(server)
        self.bot = self.page.locator('#chat [data-testid="bot"]')
        self.user = self.page.locator('#chat [data-testid="user"]')

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str) -> None:
        box = self.page.locator("#question textarea")
        box.fill(question)
        box.press("Enter")


@pytest.fixture
def tab(server: str, browser: Browser) -> Iterator[Tab]:
    expect.set_options(timeout=TIMEOUT_MS)
    tab = Tab(browser, server)
    yield tab
    assert tab.dialogs == [], "a script from letter or user text ran"
    assert tab.outside == [], "the page contacted another host"
    tab.context.close()


def test_chat_answers_with_quote_and_source_then_follows_up(tab: Tab, tmp_path: Path) -> None:
    tab.ask(QUESTION)
    expect(tab.bot).to_have_count(1)
    expect(tab.bot.first.locator("strong")).to_have_text("5家")
    expect(tab.bot.first.locator("mark")).to_have_text("2024年计划建成5家概念验证中心和中试平台")  # the clause
    expect(tab.bot.first).to_contain_text("温科提复〔2024〕91号")
    expect(tab.bot.first).to_contain_text("（二）下一步工作计划")
    expect(tab.page.locator("#sources mark").first).to_have_text(SENTENCE)
    expect(tab.page.locator("#question textarea")).to_have_value("")
    shot = tmp_path / "chat.png"
    tab.page.screenshot(path=str(shot), animations="disabled")
    if os.environ.get("CHATBOT_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "screenshot.png")

    tab.ask("那中试平台呢？")
    expect(tab.bot).to_have_count(2)
    expect(tab.bot.nth(1)).to_contain_text("中试平台")

    tab.page.locator("#clear").click()
    expect(tab.user).to_have_count(0)
    expect(tab.page.locator("#sources")).to_contain_text("提问后")


def test_the_chat_shows_the_letter_it_keeps_to_and_goes_back_to_all(tab: Tab) -> None:
    expect(tab.page.locator("#scope-row")).to_be_hidden()
    tab.ask("温科提复〔2024〕91号的联系人是谁")
    expect(tab.bot).to_have_count(1)
    expect(tab.bot.first.locator("strong")).to_have_text("李贤")
    expect(tab.page.locator("#scope")).to_have_text("正在查看：《关于加快科技成果落地转化的建议》（温科提复〔2024〕91号）")
    tab.ask("电话呢？")
    expect(tab.bot.nth(1).locator("strong")).to_have_text("88962022")
    tab.page.locator("#scope-all").click()
    expect(tab.bot).to_have_count(3)
    expect(tab.bot.nth(2)).to_contain_text("全部答复函")
    expect(tab.page.locator("#scope-row")).to_be_hidden()


def test_the_letters_tab_starts_a_conversation_about_one_letter(tab: Tab) -> None:
    tab.page.get_by_role("tab", name="已收录的答复函").click()
    expect(tab.page.locator("#letters")).to_contain_text("温州市科学技术局")  # the unit is listed
    tab.page.locator("#letter-pick input").click()
    tab.page.get_by_role("option", name=re.compile("温测提复")).click()
    tab.page.locator("#letter-start").click()
    expect(tab.bot).to_have_count(1)
    expect(tab.page.locator("#scope")).to_contain_text("温测提复〔2024〕99号")
    tab.ask("联系人是谁")
    expect(tab.bot.nth(1).locator("strong")).to_have_text("王测试")


def test_example_question_click_and_sessions_are_separate(server: str, browser: Browser, tab: Tab) -> None:
    tab.page.locator("#examples").get_by_role("button", name=QUESTION).click()
    expect(tab.bot).to_have_count(1)
    expect(tab.bot.first.locator("strong")).to_have_text("5家")
    other = Tab(browser, server)
    expect(other.page.locator("#question textarea")).to_be_visible()
    expect(other.page.locator("#sources")).to_contain_text("提问后")  # the page finished loading
    expect(other.user).to_have_count(0)
    other.context.close()


def test_html_in_letters_and_questions_is_shown_literally(tab: Tab) -> None:
    tab.ask("<img src=x onerror=alert(1)>2024年共检查网页模板多少个？")
    expect(tab.user.first).to_contain_text("<img src=x onerror=alert(1)>2024年")
    expect(tab.bot).to_have_count(1)
    expect(tab.page.locator("#sources")).to_contain_text("诸如<img src=x onerror=alert(1)>这样的标记")
    expect(tab.page.locator("#chat img, #sources img")).to_have_count(0)
    tab.page.get_by_role("tab", name="已收录的答复函").click()
    expect(tab.page.locator("#letters")).to_contain_text("关于网页<script>alert(1)</script>安全展示的建议")
    expect(tab.page.locator("#letters")).to_contain_text("关于加快科技成果落地转化的建议")


def test_staff_uploads_a_letter_and_the_chat_answers_from_it(tab: Tab) -> None:
    admin = tab.context.new_page()
    admin.goto(f"{tab.server}/admin")  # → /admin/ → the login page
    expect(admin.locator("#username")).to_have_value("admin")
    admin.locator("#password").fill(PASSWORD)
    admin.locator("#login").click()
    admin.locator("#upload input[type=file]").set_input_files(str(APP_DATA / "温海渔提复〔2024〕35号.txt"))
    admin.locator("#upload-btn").click()
    expect(admin.locator("#upload-status")).to_contain_text("温海渔提复〔2024〕35号")
    admin.get_by_role("tab", name="删除与重建").click()
    expect(admin.locator("#admin-letters")).to_contain_text("关于加快海洋牧场建设的提案")

    tab.ask("2024年计划新建几个海洋牧场示范区？")  # the chat page was open all along
    expect(tab.bot.first.locator("strong")).to_have_text("3个")
    expect(tab.bot.first).to_contain_text("温海渔提复〔2024〕35号")

    admin.locator("#remove-doc input").fill("温海渔")
    admin.get_by_role("option", name=re.compile("温海渔提复〔2024〕35号")).click()
    admin.locator("#remove-btn").click()  # asks first
    expect(admin.locator("#remove-confirm-text")).to_contain_text("确定要从索引中删除 温海渔提复〔2024〕35号")
    expect(admin.locator("#admin-letters")).to_contain_text("关于加快海洋牧场建设的提案")
    admin.locator("#remove-confirm-btn").click()
    expect(admin.locator("#manage-status")).to_contain_text("已删除 温海渔提复〔2024〕35号")
    expect(admin.locator("#admin-letters")).not_to_contain_text("关于加快海洋牧场建设的提案")
    expect(admin.locator("#remove-confirm")).to_be_hidden()
