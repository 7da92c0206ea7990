"""OCR and input-limit figures (issues 11 and 12): seconds per page, character accuracy, the time to add a
3-page scanned letter, and the refusal of a .docx of 20 million empty paragraphs (time and memory).

Scans are drawn by benchmarks/scans.py: the real letter as image-only PDF (4 pages at 150 dpi, and 3 pages
without its fourth section for the add), 示例 97号 as one JPG page; clean, noisy + skewed, sealed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from benchmarks import measure
from benchmarks.scans import ScanStyle, render_pages, save_jpg, save_pdf, similarity
from chatbot.config import load_settings
from chatbot.documents import load_document, read_letter_text
from chatbot.embedding import Embedder
from chatbot.indexing import add_files, build_index

ROOT = Path(__file__).resolve().parents[1]
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
STYLES = {
    "clean": ScanStyle(head="温州市科学技术局"),
    "noisy, 1.5° skew": ScanStyle(noise=0.02, skew_degrees=1.5, head="温州市科学技术局"),
    "red seal": ScanStyle(seal=True, head="温州市科学技术局"),
}


def measure_all(work: Path, embedder: Embedder) -> dict[str, Any]:
    folder = work / "ocr"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"accuracy": accuracy(folder), "add_scanned_letter": add_scanned(folder, embedder),
            "docx_bomb": docx_bomb(folder)}


def accuracy(folder: Path) -> list[dict[str, Any]]:
    """Similarity and seconds per page of each scan (load_document: render, OCR, layout, metadata)."""
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from make_fixtures import LETTER_97

    real = read_letter_text(REAL_LETTER)
    rows = []
    for name, style in STYLES.items():
        files = [(save_pdf(render_pages(real, style), folder / f"real-{len(rows)}.pdf"), real, "real letter, PDF"),
                 (save_jpg(render_pages(LETTER_97, style)[0], folder / f"97-{len(rows)}.jpg"), LETTER_97,
                  "示例 97号, JPG")]
        for path, source, what in files:
            started = time.perf_counter()
            doc = load_document(path)
            seconds = time.perf_counter() - started
            rows.append({"scan": f"{what}, {name}", "pages": doc.reading.pages,
                         "similarity": round(similarity(doc.text, source), 4),
                         "ocr_confidence": doc.reading.ocr_confidence, "seconds": round(seconds, 1),
                         "seconds_per_page": round(seconds / max(doc.reading.pages, 1), 2),
                         "doc_id": doc.doc_id, "deputies": list(doc.meta.deputies), "date": doc.meta.date})
    return rows


def _three_pages(text: str) -> str:
    """The real letter without its fourth section: three pages as drawn."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("四、"))
    end = next(i for i, line in enumerate(lines) if line.startswith("非常感谢"))
    return "\n".join(lines[:start] + lines[end:])


def add_scanned(folder: Path, embedder: Embedder) -> dict[str, Any]:
    """`add_files` of a 3-page scanned letter into an index of one typed letter, then `chatbot index add`."""
    pages = render_pages(_three_pages(read_letter_text(REAL_LETTER)), STYLES["clean"])
    scan = save_pdf(pages, folder / "扫描件-3页.pdf")
    settings = load_settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    settings.corpus_dir.mkdir()
    (settings.corpus_dir / "其他.txt").write_text(read_letter_text(ROOT / "tests" / "data" / "gbk_letter.txt"),
                                                 encoding="utf-8")
    build_index(settings, embedder)
    started = time.perf_counter()
    report = add_files(settings, embedder, [scan])
    in_process = time.perf_counter() - started
    copy = shutil.copy(scan, folder / "扫描件-3页-再次.pdf")
    cli = measure.cli_seconds(["index", "add", str(copy)], settings.index_dir, settings.corpus_dir)
    return {"pages": len(pages), "in_process_s": round(in_process, 1), "chunks": report.chunks_embedded,
            "cli_wall_s": round(cli, 1)}


def bomb_docx(path: Path, paragraphs: int = 20_000_000) -> Path:
    """letter.docx whose body is `paragraphs` empty paragraphs (a few hundred KB, 120 MB unpacked)."""
    template = ROOT / "tests" / "data" / "letter.docx"
    with zipfile.ZipFile(template) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
        with target.open("word/document.xml", "w", force_zip64=True) as body:
            body.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                       b'wordprocessingml/2006/main"><w:body>')
            for _ in range(paragraphs // 1_000_000):
                body.write(b"<w:p/>" * 1_000_000)
            body.write(b"</w:body></w:document>")
    return path


def docx_bomb(folder: Path) -> dict[str, Any]:
    """`chatbot index add` of the bomb in a new process: exit code, message, wall seconds, peak RSS."""
    import psutil

    path = bomb_docx(folder / "bomb.docx")
    env = measure.env(folder / "bomb-index", folder / "bomb-corpus")
    started = time.perf_counter()
    proc = subprocess.Popen([str(measure.CHATBOT_BIN), "index", "add", str(path)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    _, stderr = proc.communicate()
    return {"file_kb": round(path.stat().st_size / 1024), "paragraphs": 20_000_000, "exit_code": proc.returncode,
            "wall_s": round(time.perf_counter() - started, 2), "peak_rss_mb": round(peak / 1024 / 1024),
            "message": stderr.decode("utf-8", "replace").strip().splitlines()[-1]}
