"""`chatbot index build/add/remove/list` through click's CliRunner, with the hashing embedder."""

from __future__ import annotations

import json

from conftest import idx_letter_text

from chatbot import cli
from chatbot.embedding import HashingEmbedder
from chatbot.store import index_generation

L101, L102, L103 = "温科提复〔2024〕101号", "温科提复〔2024〕102号", "温科提复〔2024〕103号"


def test_build_then_list(run, idx_corpus) -> None:
    result = run("index", "build")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [f"新增  {L101}", f"新增  {L102}", f"新增  {L103}"]
    listing = run("index", "list")
    assert listing.exit_code == 0
    assert listing.stdout.splitlines() == [
        "文号/编号\t标题\t答复单位\t代表/委员\t日期\t片段数\t读取方式",
        f"{L101}\t关于加快人才引进的建议\t温州市科学技术局\t王伟\t2024-07-01\t4\t文本",
        f"{L102}\t关于发展海洋经济的建议\t温州市科学技术局\t李娜\t2024-07-02\t4\t文本",
        f"{L103}\t关于改善农村道路的建议\t温州市科学技术局\t陈刚\t2024-07-03\t4\t文本",
    ]


def test_list_json(run, idx_corpus) -> None:
    run("index", "build")
    result = run("index", "list", "--json")
    letters = json.loads(result.stdout)
    assert [(x["doc_id"], x["deputies"], x["date"], x["chunk_count"]) for x in letters] == [
        (L101, ["王伟"], "2024-07-01", 4),
        (L102, ["李娜"], "2024-07-02", 4),
        (L103, ["陈刚"], "2024-07-03", 4),
    ]


def test_build_with_a_bad_file_exits_2_and_indexes_the_rest(run, idx_settings, idx_corpus) -> None:
    (idx_settings.corpus_dir / "坏文件.docx").write_bytes(b"not a zip file")
    result = run("index", "build")
    assert result.exit_code == 2
    assert "跳过  坏文件.docx: corrupt .docx" in result.stderr
    assert f"新增  {L103}" in result.stdout
    assert "\t4" in run("index", "list").stdout


def test_add_a_bad_file_exits_1_naming_file_and_reason(run, idx_corpus, tmp_path) -> None:
    run("index", "build")
    bad = tmp_path / "空.txt"
    bad.write_text("  \n", encoding="utf-8")
    result = run("index", "add", str(bad))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bad}: empty file (only whitespace)\n"


def test_add_and_remove(run, idx_settings, idx_corpus, tmp_path) -> None:
    run("index", "build")
    new = tmp_path / "新答复函.txt"
    new.write_text(idx_letter_text("温科提复〔2024〕104号", "赵敏", date="2024年8月8日"), encoding="utf-8")
    added = run("index", "add", str(new))
    assert added.exit_code == 0 and added.stdout.startswith("新增  温科提复〔2024〕104号\n")
    assert "温科提复〔2024〕104号\t关于加快人才引进的建议\t温州市科学技术局\t赵敏\t2024-08-08\t4" in run(
        "index", "list").stdout
    removed = run("index", "remove", L101)
    assert removed.exit_code == 0
    assert removed.stdout == f"已从索引移除 {L101}；原文件 {L101}.txt 已移至语料目录的 .removed/。\n"
    assert L101 not in run("index", "list").stdout
    unknown = run("index", "remove", L101)
    assert unknown.exit_code == 1
    assert unknown.stderr == (f"Error: no letter {L101} in the index at {idx_settings.index_dir}; "
                              "`chatbot index list` shows them\n")


def test_model_mismatch_exits_1_naming_the_full_rebuild(run, idx_corpus, monkeypatch) -> None:
    run("index", "build")
    monkeypatch.setattr(cli, "_embedder", lambda settings: HashingEmbedder(dim=32, name="other"))
    result = run("index", "build")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: index at ")
    assert "run `chatbot index build --full`" in result.stderr
    assert run("index", "build", "--full").exit_code == 0


def test_options_override_the_environment(run, idx_corpus, idx_settings, tmp_path) -> None:
    other = tmp_path / "other-index"
    assert run("index", "build", "--index", str(other)).exit_code == 0
    assert index_generation(other) == 1 and index_generation(idx_settings.index_dir) is None


def test_list_without_an_index(run, idx_settings) -> None:
    result = run("index", "list")
    assert result.exit_code == 1
    assert result.stderr == f"Error: no index at {idx_settings.index_dir}: run `chatbot index build`\n"


def test_every_option_has_help(run) -> None:
    for command in cli.index_group.commands.values():
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.name}"
