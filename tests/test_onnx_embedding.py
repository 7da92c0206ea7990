"""The ONNX Runtime backend: layout reading and pooling (fast), agreement with torch and caching (slow)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chatbot import onnx_embedding
from chatbot.config import Settings
from chatbot.errors import EmbeddingError
from chatbot.onnx_embedding import (
    FP32_FILE,
    INT8_FILE,
    OnnxEmbedder,
    cache_folder,
    pool,
    read_layout,
)

LETTER = Path(__file__).resolve().parents[1] / "corpus" / "温科提复〔2024〕91号.txt"


# --- shared, exported once per session (the export takes tens of seconds) -------------------------------


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def onnx_fp32_embedder(onnx_cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(Settings(cache_dir=onnx_cache_dir, embedding_backend="onnx"))


@pytest.fixture(scope="session")
def onnx_int8_embedder(onnx_cache_dir: Path, onnx_fp32_embedder: OnnxEmbedder) -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(Settings(cache_dir=onnx_cache_dir, embedding_backend="onnx-int8"))


@pytest.fixture(scope="session")
def onnx_letter_sentences() -> list[str]:
    """Ten sentences of the real letter, 15 to 150 characters long."""
    text = LETTER.read_text(encoding="utf-8")
    sentences = [s.strip() for s in re.split(r"[。；\n]", text)]
    return [s for s in sentences if 15 <= len(s) <= 150][:10]


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


# --- fast: no model --------------------------------------------------------------------------------------


def test_pool_mean_ignores_padding() -> None:
    tokens = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert pool(tokens, mask, "mean").tolist() == [[2.0, 3.0]]


def test_pool_max_never_picks_padding_and_cls_takes_first_token() -> None:
    tokens = np.array([[[-1.0, 2.0], [-3.0, 1.0], [50.0, 50.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert pool(tokens, mask, "max").tolist() == [[-1.0, 2.0]]
    assert pool(tokens, mask, "cls").tolist() == [[-1.0, 2.0]]


def _write_model_folder(root: Path, modules: list[dict[str, str]] | None, pooling: dict[str, object]) -> Path:
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"hidden_size": 8, "max_position_embeddings": 512}))
    st_config = {"max_seq_length": 128, "do_lower_case": True}
    (root / "sentence_bert_config.json").write_text(json.dumps(st_config))
    if modules is not None:
        (root / "modules.json").write_text(json.dumps(modules))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return root


_ST_MODULES = [
    {"idx": "0", "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": "1", "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": "2", "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def test_read_layout_reads_legacy_cls_pooling_and_sequence_length(tmp_path: Path) -> None:
    root = _write_model_folder(tmp_path / "bge", _ST_MODULES, {"pooling_mode_cls_token": True})
    layout = read_layout(root)
    assert (layout.pooling, layout.max_seq_length, layout.do_lower_case) == ("cls", 128, True)
    assert layout.transformer_dir == root


def test_read_layout_rejects_a_dense_module_naming_the_torch_backend(tmp_path: Path) -> None:
    dense = {"idx": "3", "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    root = _write_model_folder(tmp_path / "dense", [*_ST_MODULES, dense], {"pooling_mode": "mean"})
    with pytest.raises(EmbeddingError, match=r"module 'Dense' is not supported .*BACKEND=torch for this"):
        read_layout(root)


def test_read_layout_rejects_weighted_mean_pooling(tmp_path: Path) -> None:
    root = _write_model_folder(tmp_path / "wm", _ST_MODULES, {"pooling_mode": "weightedmean"})
    with pytest.raises(EmbeddingError, match=r"pooling 'weightedmean' is not supported"):
        read_layout(root)


def test_cache_folder_changes_when_the_weights_change(tmp_path: Path) -> None:
    root = _write_model_folder(tmp_path / "m", None, {"pooling_mode": "mean"})
    weights = root / "model.safetensors"
    weights.write_bytes(b"0" * 10)
    before = cache_folder(tmp_path / "cache", "org/My Model", read_layout(root))
    weights.write_bytes(b"0" * 11)
    after = cache_folder(tmp_path / "cache", "org/My Model", read_layout(root))
    assert before.parent == tmp_path / "cache" / "onnx"
    assert before.name.startswith("My_Model-") and after.name.startswith("My_Model-")
    assert before != after


def test_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise EmbeddingError("export failed")

    with pytest.raises(EmbeddingError, match="export failed"):
        onnx_embedding._write_atomically(target, fail)
    assert list(tmp_path.iterdir()) == []


# --- slow: the real model --------------------------------------------------------------------------------


@pytest.mark.slow
def test_onnx_fp32_and_int8_match_torch_on_letter_sentences(
    onnx_fp32_embedder: OnnxEmbedder, onnx_int8_embedder: OnnxEmbedder, onnx_letter_sentences: list[str]
) -> None:
    from chatbot.embedding import SentenceTransformerEmbedder

    assert len(onnx_letter_sentences) == 10
    reference = SentenceTransformerEmbedder("m3e-small").encode(onnx_letter_sentences)
    fp32 = onnx_fp32_embedder.encode(onnx_letter_sentences)
    int8 = onnx_int8_embedder.encode(onnx_letter_sentences)
    assert fp32.shape == int8.shape == (10, 512) and fp32.dtype == int8.dtype == np.float32
    assert _row_cosines(fp32, reference).min() >= 0.999
    assert _row_cosines(int8, reference).min() >= 0.99
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_onnx_embedder_has_the_torch_backend_name(onnx_int8_embedder: OnnxEmbedder) -> None:
    # indexes record name and dim: the same values let an index built with torch load with ONNX
    assert (onnx_int8_embedder.name, onnx_int8_embedder.dim) == ("m3e-small", 512)
    assert onnx_int8_embedder.onnx_path.name == INT8_FILE


@pytest.mark.slow
def test_encode_keeps_input_order_across_length_sorted_batches(
    onnx_fp32_embedder: OnnxEmbedder, onnx_letter_sentences: list[str]
) -> None:
    # 40 texts of very different lengths: two batches, each sorted by length, must come back in order
    texts = [s[: 5 + 13 * i % 140] for i, s in enumerate(onnx_letter_sentences * 4)]
    together = onnx_fp32_embedder.encode(texts)
    alone = np.vstack([onnx_fp32_embedder.encode([t]) for t in texts])
    assert _row_cosines(together, alone).min() >= 0.9999


@pytest.mark.slow
def test_encode_empty_list_gives_zero_rows(onnx_fp32_embedder: OnnxEmbedder) -> None:
    empty = onnx_fp32_embedder.encode([])
    assert empty.shape == (0, 512) and empty.dtype == np.float32


@pytest.mark.slow
def test_second_load_reuses_the_cached_export(
    onnx_cache_dir: Path, onnx_int8_embedder: OnnxEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = onnx_int8_embedder.onnx_path.parent
    mtimes = {name: (folder / name).stat().st_mtime_ns for name in (FP32_FILE, INT8_FILE)}

    def no_export(*args: object) -> None:
        raise AssertionError("the cached ONNX files were exported again")

    monkeypatch.setattr(onnx_embedding, "_export_fp32", no_export)
    monkeypatch.setattr(onnx_embedding, "_quantize", no_export)
    again = OnnxEmbedder.from_settings(Settings(cache_dir=onnx_cache_dir, embedding_backend="onnx-int8"))
    assert again.onnx_path == onnx_int8_embedder.onnx_path
    assert {name: (folder / name).stat().st_mtime_ns for name in (FP32_FILE, INT8_FILE)} == mtimes
    assert sorted(p.name for p in folder.iterdir()) == [INT8_FILE, FP32_FILE]  # no temporary files left


_COLD_PROCESS = """
import json, sys
from pathlib import Path
from chatbot.config import Settings
from chatbot.embedding import load_embedder
embedder = load_embedder(Settings(cache_dir=Path(sys.argv[1]), embedding_backend="onnx-int8"))
vectors = embedder.encode(["今年要建几个概念验证中心"])
print(json.dumps({"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "shape": list(vectors.shape)}))
"""


@pytest.mark.slow
def test_cold_process_with_cached_int8_model_never_imports_torch(
    onnx_cache_dir: Path, onnx_int8_embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    # HOME points at tmp_path so onnxruntime's telemetry/device-id files stay out of the real home
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", _COLD_PROCESS, str(onnx_cache_dir)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"torch": False, "transformers": False, "shape": [1, 512]}
