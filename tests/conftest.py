

# --- index fixtures (tests/test_store.py, test_indexing.py, test_cli_index.py) ---------------------------
import pytest as _idx_pytest

IDX_LETTER_TEMPLATE = """{doc_no}

关于市十四届人大四次会议{number}号建议的
答 复 函

{deputy}代表：
你们在市人大十四届四次会议期间所提的《{title}》（人大建议{number}号）收悉。经调查研究，现答复如下：
一、关于“{topic}”的建议
（一）工作进展。{progress}
（二）下一步工作计划。{plan}
非常感谢您对我们工作的关心与支持。
联系人：张明，联系电话：88960000。

                               温州市科学技术局
                               {date}

抄送：市人大常委会代表工委
"""


def idx_letter_text(doc_no: str, deputy: str = "王伟", *, number: str = "101",
                    title: str = "关于加快人才引进的建议", topic: str = "加快人才引进",
                    progress: str = "2023年全市新增人才公寓300套。",
                    plan: str = "2024年计划新建人才驿站12家。", date: str = "2024年7月1日") -> str:
    """A small letter in the real letters' format (letterhead, one section with two subsections, closing)."""
    return IDX_LETTER_TEMPLATE.format(doc_no=doc_no, deputy=deputy, number=number, title=title, topic=topic,
                                      progress=progress, plan=plan, date=date)


@_idx_pytest.fixture
def idx_settings(tmp_path, monkeypatch):
    """Settings with an empty corpus folder and index folder under tmp_path (env vars cleared)."""
    from chatbot.config import load_settings

    for var in ("CHATBOT_CORPUS_DIR", "CHATBOT_INDEX_DIR", "CHATBOT_EMBEDDING_MODEL"):
        monkeypatch.delenv(var, raising=False)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")


@_idx_pytest.fixture
def idx_corpus(idx_settings):
    """Three letters written into idx_settings.corpus_dir; returns {doc_id: path}."""
    letters = {
        "温科提复〔2024〕101号": idx_letter_text("温科提复〔2024〕101号", "王伟"),
        "温科提复〔2024〕102号": idx_letter_text(
            "温科提复〔2024〕102号", "李娜", number="102", title="关于发展海洋经济的建议",
            topic="发展海洋经济", progress="全市海洋生产总值达到1200亿元。",
            plan="2024年计划建设海洋牧场5个。", date="2024年7月2日"),
        "温科提复〔2024〕103号": idx_letter_text(
            "温科提复〔2024〕103号", "陈刚", number="103", title="关于改善农村道路的建议",
            topic="改善农村道路", progress="去年改造农村公路860公里。",
            plan="今年计划完成危桥改造40座。", date="2024年7月3日"),
    }
    paths = {}
    for doc_id, text in letters.items():
        path = idx_settings.corpus_dir / f"{doc_id}.txt"
        path.write_text(text, encoding="utf-8")
        paths[doc_id] = path
    return paths


# --- real-model fixtures (tests/test_answer.py, test_cli_ask.py …): one model and one index per session -------
@_idx_pytest.fixture(scope="session")
def real_embedder():
    """The default model and backend (packaged m3e-small, ONNX int8), loaded once for the whole session."""
    from chatbot.config import load_settings
    from chatbot.embedding import load_embedder

    return load_embedder(load_settings())


REAL_LETTERS = ("温科提复〔2024〕91号.txt",)
FIXTURE_LETTERS = ("gbk_letter.txt", "letter.docx", "letter.pdf")


@_idx_pytest.fixture(scope="session")
def real_corpus(tmp_path_factory):
    """The real letter plus the fixture letters (GBK .txt, .docx, .pdf) in one corpus folder."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parent
    corpus = tmp_path_factory.mktemp("real") / "corpus"
    corpus.mkdir()
    for name in REAL_LETTERS:
        shutil.copy(root.parent / "corpus" / name, corpus / name)
    for name in FIXTURE_LETTERS:
        shutil.copy(root / "data" / name, corpus / name)
    return corpus


@_idx_pytest.fixture(scope="session")
def real_chatbot(real_corpus, real_embedder):
    """A Chatbot over an index of real_corpus built with the real model (built once per session)."""
    from chatbot.config import load_settings
    from chatbot.indexing import build_index
    from chatbot.service import Chatbot

    settings = load_settings(corpus_dir=real_corpus, index_dir=real_corpus.parent / "index")
    report = build_index(settings, real_embedder)
    assert not report.skipped, report.skipped
    return Chatbot(settings, embedder=real_embedder)


@_idx_pytest.fixture(scope="session")
def real_letter_chatbot(tmp_path_factory, real_embedder):
    """A Chatbot over the real letter alone (the sample questions speak of "this letter")."""
    import shutil
    from pathlib import Path

    from chatbot.config import load_settings
    from chatbot.indexing import build_index
    from chatbot.service import Chatbot

    root = tmp_path_factory.mktemp("real_letter")
    (root / "corpus").mkdir()
    for name in REAL_LETTERS:
        shutil.copy(Path(__file__).resolve().parent.parent / "corpus" / name, root / "corpus" / name)
    settings = load_settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, real_embedder)
    return Chatbot(settings, embedder=real_embedder)


@_idx_pytest.fixture
def run(idx_settings, monkeypatch):
    """Invoke the CLI on idx_settings' folders (through the environment, as a user would)."""
    from click.testing import CliRunner

    from chatbot import cli
    from chatbot.embedding import HashingEmbedder

    monkeypatch.setattr(cli, "_embedder", lambda settings: HashingEmbedder())
    monkeypatch.setenv("CHATBOT_CORPUS_DIR", str(idx_settings.corpus_dir))
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(idx_settings.index_dir))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.main, list(args))
