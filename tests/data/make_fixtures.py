"""Regenerate the fixture letters of tests/test_documents.py and tests/test_chunking.py.

Run `.venv/bin/python tests/data/make_fixtures.py` from the project root. The letters are invented, of
the same family as the real one (温科提复〔2024〕91号): a GBK 政协提案 reply with CRLF line ends, a .docx
人大建议 reply with a table, a two-page .pdf with a page header and "— 1 —" page numbers, a .pdf with hard
line breaks whose title wraps over two lines above the salutation (示例-温科提复〔2024〕97号.pdf; its text,
LETTER_97, is also what tests/test_ocr.py scans), and bad inputs.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

GBK_LETTER = """\
温财提复〔2024〕15号

关于市政协十二届三次会议第156号提案的答复函

陈立新、王晓燕委员：
　　你们提出的《关于加大对中小微企业融资支持的提案》（第156号提案）收悉。现答复如下：
一、关于“扩大政府性融资担保覆盖面”的建议
（一）工作进展。今年以来，全市政府性融资担保机构新增担保额86.5亿元，服务小微企业和个体工商户1.2万户，平均担保费率降至0.8%。我们坚持统一、规范的担保业务流程。
（二）下一步工作计划。2024年计划新增政府性融资担保额100亿元，担保费率保持在1%以下。
二、关于“设立科技型企业信贷风险池”的建议
（一）工作进展。市财政安排风险池资金2亿元，合作银行按1:10放大发放贷款，已支持科技型企业312家。
（二）下一步工作计划。一是扩大风险池规模，力争年底达到3亿元。二是提高风险补偿比例，对首贷企业的损失补偿比例提高到50%。
三、关于“优化涉企资金直达机制”的建议
　　目前，涉企资金通过“直通车”平台兑付，平均兑付时间缩短至7个工作日。下步将推动“免申即享”，让更多政策资金直接到企。

感谢你们对财政工作的关心和支持。
联系人：张三 电话：0577-88888888

　　　　　　　　　　温州市财政局
　　　　　　　　　　二〇二四年七月十五日

抄送：市政协提案委，市府办、鹿城区政协
"""

DOCX_PARAGRAPHS = [
    "温经信提复〔2024〕33号",
    "",
    "关于市十四届人大四次会议第245号建议的答复函",
    "",
    "张伟、李娜等代表：",
    "你们在市十四届人大四次会议期间提出的《关于推动制造业数字化改造的建议》收悉。\u200b现答复如下：",
    "一、关于“加快中小企业数字化改造”的建议",
    "（一）工作进展。2023年全市完成中小企业数字化改造1200家，建成省级未来工厂3家。",
    "各县（市、区）改造进度如下表：",
    "TABLE",
    "（二）下一步工作计划。2024年计划完成数字化改造1500家，新增省级智能工厂10家。",
    "二、关于“培育工业互联网平台”的建议",
    "（一）工作进展。全市已培育省级工业互联网平台21个，连接设备超过5万台。",
    "（二）下一步工作计划。力争到2025年省级平台达到30个。",
    "非常感谢你们对我市经信工作的关心和支持。",
    "联系人：王芳，联系电话：88960001。",
    "温州市经济和信息化局",
    "2024年6月20日",
    "抄送：市人大常委会代表工委，市府办",
]
DOCX_TABLE = [["地区", "改造企业（家）"], ["鹿城区", "320"], ["瓯海区", "280"]]

PDF_HEADER = "温州市教育局文件"
PDF_PAGES = [
    [
        "温教提复〔2024〕7号",
        "关于市十四届人大四次会议第45号建议的答复函",
        "周明代表：",
        "您提出的《关于增加公办幼儿园学位的建议》收悉。现答复如下：",
        "一、关于“新建改扩建公办幼儿园”的建议",
        "（一）工作进展。2023年全市新建改扩建公办幼儿园42所，新增学位1.1万个，公办幼儿园在园幼儿占比达到",
        "65%。",
        "（二）下一步工作计划。2024年计划新建改扩建公办幼儿园30所。",
    ],
    [
        "二、关于“加强幼儿教师队伍建设”的建议",
        "（一）工作进展。全市幼儿园专任教师持证率达到98%。",
        "感谢您对教育工作的关心。",
        "联系人：刘洋，联系电话：88961234。",
        "温州市教育局",
        "2024年7月1日",
    ],
]


LETTER_97 = """\
温科提复〔2024〕97号
关于市十四届人大四次会议第512号建议的答复函
王建国代表：
你在市人大十四届四次会议期间所提的《关于支持科技型中小企业研发投入的建议》（人大建议512号）收悉。经认真研究，现答复如下：
一、关于“加大研发费用补助”的建议
（一）工作进展。2023年全市兑现企业研发费用补助资金3.2亿元，惠及企业1860家，规上工业企业研发投入增长12.5%。
（二）下一步工作计划。2024年计划安排研发补助资金4亿元，重点支持首次开展研发活动的企业。
二、关于“完善科技金融服务”的建议
（一）工作进展。全市“科技贷”累计发放贷款46.8亿元，服务科技型企业920家。
（二）下一步工作计划。力争到2025年“科技贷”余额突破60亿元，新增合作银行5家。
非常感谢您对我市科技工作的关心和支持。
联系人：陈晓，联系电话：88961234。
温州市科学技术局
2024年7月8日
抄送：市人大常委会代表工委，市府办
"""
PDF_97_WRAP = 24  # characters a line: the title's first line (22) counts as full, as in the letter that broke


def pdf_97_lines() -> list[str]:
    """LETTER_97 as a PDF with hard line breaks lays it out: the title over two lines, paragraphs wrapped."""
    lines: list[str] = []
    for line in LETTER_97.splitlines():
        if line.startswith("关于市十四届"):
            lines += ["关于市十四届人大四次会议第512号建议的", "答 复 函"]
        else:
            lines += [line[k:k + PDF_97_WRAP] for k in range(0, len(line), PDF_97_WRAP)]
    return lines


def write_pdf_97() -> None:
    pdf, (width, height) = _pdf_canvas(HERE / "示例-温科提复〔2024〕97号.pdf")
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(pdf_97_lines()):
        x = (width - pdf.stringWidth(line, "STSong-Light", 12)) / 2 if i in (1, 2) else 90
        pdf.drawString(x, height - 80 - 19 * i, line)
    pdf.showPage()
    pdf.save()


def write_gbk_letter() -> None:
    data = GBK_LETTER.replace("\n", "\r\n").encode("gbk")
    (HERE / "gbk_letter.txt").write_bytes(data)


def write_docx_letter() -> None:
    import docx

    document = docx.Document()
    for text in DOCX_PARAGRAPHS:
        if text != "TABLE":
            document.add_paragraph(text)
            continue
        table = document.add_table(rows=len(DOCX_TABLE), cols=len(DOCX_TABLE[0]))
        for row, values in zip(table.rows, DOCX_TABLE, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    document.core_properties.author = "fixture"
    document.save(str(HERE / "letter.docx"))


def _pdf_canvas(path: Path) -> tuple[Any, tuple[float, float]]:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=True)  # invariant: same bytes on every run
    return pdf, A4


def write_pdf_letter() -> None:
    pdf, (width, height) = _pdf_canvas(HERE / "letter.pdf")
    for number, lines in enumerate(PDF_PAGES, start=1):
        pdf.setFont("STSong-Light", 9)
        pdf.drawCentredString(width / 2, height - 40, PDF_HEADER)
        pdf.setFont("STSong-Light", 11)
        for i, line in enumerate(lines):
            pdf.drawString(60, height - 90 - 20 * i, line)
        pdf.setFont("STSong-Light", 9)
        pdf.drawCentredString(width / 2, 30, f"— {number} —")
        pdf.showPage()
    pdf.save()


def write_bad_inputs() -> None:
    pdf, (width, height) = _pdf_canvas(HERE / "bad_scanned.pdf")
    pdf.rect(60, height - 300, width - 120, 200, fill=1)  # a page that is all picture, no text
    pdf.showPage()
    pdf.save()
    good_pdf = (HERE / "letter.pdf").read_bytes()
    (HERE / "bad_corrupt.pdf").write_bytes(good_pdf[:400])
    (HERE / "bad_corrupt.docx").write_bytes(b"PK\x03\x04" + b"\x00\x01garbage" * 40)
    (HERE / "bad_empty.txt").write_bytes(b"")
    (HERE / "bad_whitespace.txt").write_bytes(" \r\n\t\u3000\r\n".encode())
    rng = random.Random(20240626)
    (HERE / "bad_binary.txt").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (HERE / "bad_sheet.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))


if __name__ == "__main__":
    write_gbk_letter()
    write_docx_letter()
    write_pdf_letter()
    write_pdf_97()
    write_bad_inputs()
