"""`chatbot ask` and `chatbot eval` driven through click, on an index built with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chatbot import cli

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"


@pytest.fixture
def runner(monkeypatch, real_letter_chatbot, real_embedder) -> CliRunner:
    monkeypatch.setattr(cli, "_embedder", lambda settings: real_embedder)
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(real_letter_chatbot.settings.index_dir))
    return CliRunner()


def test_ask_json_has_the_documented_fields(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["ask", "2024年计划建成几家概念验证中心", "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.output)
    assert set(reply) == {"question", "answer", "direct_answer", "abstained", "passages", "scope", "reason"}
    assert reply["direct_answer"] == "5家"
    assert reply["abstained"] is False
    assert len(reply["passages"]) == 3
    first = reply["passages"][0]
    assert first["doc_id"] == "温科提复〔2024〕91号"
    assert first["title"] == "关于加快科技成果落地转化的建议"
    assert first["section"].endswith("（二）下一步工作计划")
    assert first["quote"] == "2024年计划建成5家概念验证中心和中试平台。"
    assert first["text"][first["text"].index("2024年计划") :].startswith(first["quote"])
    assert {"score", "start", "end", "chunk_id", "kind"} <= set(first)


def test_ask_prints_answer_first(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["ask", "答复函的联系人和联系电话是什么？"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("**李贤，88962022**")


def test_ask_empty_question_is_an_error(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["ask", "  "])
    assert result.exit_code == 1
    assert "Error: the question is empty" in result.output


def test_eval_prints_metrics_and_misses(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["eval", str(DATA / "questions_sample.jsonl")])
    assert result.exit_code == 0, result.output
    assert "26 questions: 24 answerable, 2 out of scope" in result.output
    assert "hit@1                      1.0" in result.output


def test_eval_json(runner: CliRunner) -> None:
    result = runner.invoke(cli.main, ["eval", str(DATA / "questions_sample.jsonl"), "--json"])
    report = json.loads(result.output)
    assert report["abstention"] == 1.0
    assert report["false_abstention"] == 0.0
    assert report["latency_p50_ms"] > 0
