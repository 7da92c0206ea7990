"""Web pages saved from a department's site (trafilatura) and old word processor files (LibreOffice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chatbot.converted import is_boilerplate
from chatbot.documents import load_document
from chatbot.errors import DocumentError
from chatbot.schema import READ_CONVERTED, READ_WEB

DATA = Path(__file__).resolve().parent / "data"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="{charset}">
<title>关于市十七届人大三次会议第182号代表建议的答复函_泰顺县人民政府</title>
<meta name="PubDate" content="2023-05-05 10:20"></head>
<body>
<div class="nav"><a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 建议提案办理</div>
<div class="header">泰顺县人民政府门户网站 | 无障碍 | 长者模式</div>
<div class="article">
<h1>关于市十七届人大三次会议第182号代表建议的答复函</h1>
<div class="info">来源：县住建局 发布时间：2023-05-05 浏览次数：123</div>
<div class="tools">【字体：大 中 小】 【打印本页】 【关闭窗口】</div>
<div class="content">
<p>张三代表：</p>
<p>您提出的《关于加快老旧小区改造的建议》收悉，现答复如下：</p>
<p>一、工作进展。2022年我县完成老旧小区改造12个，惠及居民3600户。</p>
<p>二、下一步计划。2023年计划改造老旧小区15个，同步推进加装电梯20台。</p>
<p>感谢您对我县住建工作的关心和支持。</p>
<p>联系人：李明，联系电话：0577-67580000</p>
<p style="text-align:right">泰顺县住房和城乡建设局</p>
{signature_date}
</div>
<div class="share">分享到：微信 微博 QQ空间</div>
</div>
<div class="footer">主办：泰顺县人民政府办公室 版权所有 网站标识码3303290001 浙ICP备12345号</div>
</body></html>
"""


# An older site: the page laid out with tables, GB2312, the letter's paragraphs inside one table cell, and a
# data table inside the letter.
TABLE_LAYOUT_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>对《关于加强农村饮用水安全的建议》（第94号建议）的答复 - 民乐县人民政府</title></head><body>
<table width="100%"><tr><td><a href="/">网站首页</a> | <a href="/xxgk">信息公开</a> | <a>政民互动</a></td></tr></table>
<table width="900" align="center">
<tr><td class="title">对《关于加强农村饮用水安全的建议》（第94号建议）的答复</td></tr>
<tr><td>发布时间：2023-06-12 &nbsp; 来源：县水务局 &nbsp; 【字体：<a>大</a> <a>中</a> <a>小</a>】</td></tr>
<tr><td class="content">
<p>李华代表：</p>
<p>你提出的关于加强农村饮用水安全的建议收悉，现答复如下：</p>
<p>近年来，我县累计投入资金1.2亿元，实施农村供水保障工程46处，农村自来水普及率达到98.5%。下一步，
我县将继续推进城乡供水一体化，计划2023年底前完成12个行政村管网改造。</p>
<p>感谢您对水务工作的关心和支持。</p>
<table><tr><td>年份</td><td>普及率</td></tr><tr><td>2022</td><td>96.1%</td></tr></table>
<p align="right">民乐县水务局</p><p align="right">2023年6月10日</p>
</td></tr>
<tr><td><a>【打印本页】</a> <a>【关闭窗口】</a></td></tr></table>
<div>版权所有：民乐县人民政府 地址：民乐县XX路1号 技术支持：XX公司</div></body></html>
"""


def _page(tmp_path: Path, charset: str, signature_date: str = "<p>2023年5月6日</p>") -> Path:
    path = tmp_path / f"page-{charset}.html"
    path.write_bytes(PAGE.format(charset=charset, signature_date=signature_date).encode(charset))
    return path


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_web_page_gives_the_letter_without_the_site(tmp_path: Path, charset: str) -> None:
    doc = load_document(_page(tmp_path, charset))
    assert doc.text.splitlines()[:3] == [
        "关于市十七届人大三次会议第182号代表建议的答复函", "张三代表：",
        "您提出的《关于加快老旧小区改造的建议》收悉，现答复如下：",
    ]
    assert doc.text.endswith("泰顺县住房和城乡建设局\n2023年5月6日")
    for furniture in ("首页", "字体", "打印本页", "分享到", "版权所有", "浏览次数", "门户网站"):
        assert furniture not in doc.text
    assert doc.reading.method == READ_WEB
    assert (doc.meta.deputies, doc.meta.title, doc.meta.date) == (("张三",), "关于加快老旧小区改造的建议", "2023-05-06")
    assert (doc.meta.contact_person, doc.meta.unit) == ("李明", "泰顺县住房和城乡建设局")


def test_page_laid_out_with_tables_gives_the_letter_paragraph_by_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "old.htm"
    path.write_bytes(TABLE_LAYOUT_PAGE.encode("gb2312"))
    doc = load_document(path)
    assert doc.text.splitlines() == [
        "对《关于加强农村饮用水安全的建议》（第94号建议）的答复", "李华代表：",
        "你提出的关于加强农村饮用水安全的建议收悉，现答复如下：",
        "近年来，我县累计投入资金1.2亿元，实施农村供水保障工程46处，农村自来水普及率达到98.5%。下一步，我县将继续推进"
        "城乡供水一体化，计划2023年底前完成12个行政村管网改造。",
        "感谢您对水务工作的关心和支持。", "民乐县水务局", "2023年6月10日",
        "年份｜普及率", "2022｜96.1%",  # trafilatura moves a table nested in a layout table after that table
    ]
    assert (doc.meta.deputies, doc.meta.proposal_number, doc.meta.date) == (("李华",), "94", "2023-06-10")
    assert (doc.meta.title, doc.meta.unit) == ("关于加强农村饮用水安全的建议", "民乐县水务局")


def test_web_page_title_and_date_fill_what_the_letter_lacks(tmp_path: Path) -> None:
    path = tmp_path / "no-title.html"
    page = PAGE.format(charset="utf-8", signature_date="").replace("《关于加快老旧小区改造的建议》", "建议")
    path.write_text(page, encoding="utf-8")
    doc = load_document(path)
    assert doc.meta.title == "关于市十七届人大三次会议第182号代表建议的答复函"  # the page's, without the site name
    assert doc.meta.date == "2023-05-05"  # the page's publication date: the letter has none


def test_web_page_without_content_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>首页</title></head><body><div class='nav'>首页</div></body></html>")
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert caught.value.reason == "no letter text found in the web page: its main content holds 0 Chinese characters"


@pytest.mark.parametrize("line", [
    "【字体：大 中 小】", "字体：大中小", "【打印本页】 【关闭窗口】", "分享到：微信 微博", "浏览次数：123",
    "来源：县住建局 发布时间：2023-05-05", "发布时间：2023-05-05 10:20", "扫一扫在手机打开当前页",
    "网站首页 | 信息公开 | 政民互动", "首页 > 政务公开 > 建议提案办理", "您当前的位置：首页 > 建议提案",
    "版权所有：民乐县人民政府 地址：民乐县XX路1号",
])
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    "张三代表：", "2023年计划改造老旧小区15个。", "一、工作进展。", "泰顺县住房和城乡建设局", "2023年5月6日",
    "字体设计大赛获奖作品展出。", "来源于群众的意见建议已全部办结。", "首页设计已改版。",
])
def test_letter_lines_are_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


# --- old word processor files, through LibreOffice -----------------------------------------------------------
@pytest.fixture(scope="session")
def old_formats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """letter.docx saved by LibreOffice as .doc, .rtf and .odt (and the .doc named .wps, as WPS saves it)."""
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: `make test` installs libreoffice-writer-nogui"
    folder = tmp_path_factory.mktemp("old")
    profile = (folder / "profile").as_uri()
    for fmt in ("doc", "rtf", "odt"):
        subprocess.run([soffice, "--headless", f"-env:UserInstallation={profile}", "--convert-to", fmt,
                        "--outdir", str(folder), str(DATA / "letter.docx")], check=True, capture_output=True)
    shutil.copy(folder / "letter.doc", folder / "letter.wps")
    return {suffix: folder / f"letter{suffix}" for suffix in (".doc", ".rtf", ".odt", ".wps")}


@pytest.mark.parametrize("suffix", [".doc", ".rtf", ".odt", ".wps"])
def test_old_formats_read_like_the_docx(old_formats: dict[str, Path], suffix: str) -> None:
    original = load_document(DATA / "letter.docx")
    doc = load_document(old_formats[suffix])
    assert doc.text == original.text
    assert (doc.doc_id, doc.meta) == (original.doc_id, original.meta)
    assert (doc.reading.method, doc.reading.converted_from) == (READ_CONVERTED, suffix)


def test_corrupt_old_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # an OLE header and nothing in it
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value).startswith(f"{path}: LibreOffice could not convert this .doc file (corrupt or not a "
                                        "document): ")


def test_missing_libreoffice_names_the_package(old_formats: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without soffice, as on a machine without LibreOffice
    with pytest.raises(DocumentError) as caught:
        load_document(old_formats[".rtf"])
    assert caught.value.reason == (
        ".rtf files need LibreOffice to be read: install the Debian package libreoffice-writer-nogui "
        "(sudo apt-get install libreoffice-writer-nogui), or save the letter as .docx"
    )
