"""ONNX Runtime backend of the embedding model: the same vectors as the torch backend, without torch.

At query time only onnxruntime, `tokenizers` and numpy are imported (a cold process is ready in a fraction
of a second instead of the seconds torch takes). The ONNX files are produced once from the model's torch
weights into a cache folder keyed by the model files' sizes and modification times:

    <cache_dir>/onnx/<model>-<hash>/model.onnx        fp32 export of the transformer
    <cache_dir>/onnx/<model>-<hash>/model-int8.onnx   dynamic int8 quantization of it
    <cache_dir>/onnx/<model>-<hash>/tokenizer.json    only when the model folder has none

Every file is written to a temporary name and moved into place with os.replace, so processes that
export at the same time never see a half-written file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings
from .embedding import normalize_rows, resolve_model_path
from .errors import EmbeddingError

log = logging.getLogger(__name__)

EXPORT_VERSION = 3  # part of the cache key: bump when the export recipe changes so old files are not reused
BATCH_SIZE = 32
SUPPORTED_POOLING = ("mean", "cls", "max")
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
OUTPUT_NAME = "token_embeddings"
# Module types of a sentence-transformers folder that this backend reproduces exactly; anything else
# (Dense, a Router, ...) changes the vectors, so such models must use the torch backend.
_KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")
_LEGACY_POOLING = {
    f"pooling_mode_{key}": mode
    for key, mode in [("cls_token", "cls"), ("max_tokens", "max"), ("mean_tokens", "mean"),
                      ("mean_sqrt_len_tokens", "mean_sqrt_len_tokens"), ("lasttoken", "lasttoken"),
                      ("weightedmean_tokens", "weightedmean")]
}
_WEIGHT_SUFFIXES = (".json", ".bin", ".safetensors", ".txt", ".model")
# Fewer than this between int8 and fp32 on a fixed probe means the quantized kernels are broken on this
# CPU (the avx512_vnni configs without reduce_range give about 0.73); healthy int8 gives above 0.99.
MIN_INT8_COSINE = 0.95


@dataclass(frozen=True)
class ModelLayout:
    """Where the parts of a sentence-transformers model folder are, read from its JSON files only."""

    root: Path
    transformer_dir: Path
    pooling: str
    max_seq_length: int
    do_lower_case: bool
    pad_token_id: int


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EmbeddingError(f"{path}: cannot read the model's JSON config: {e}") from e
    if not isinstance(data, dict):
        raise EmbeddingError(f"{path}: expected a JSON object")
    return data


def model_folder(model: str) -> Path:
    """The local folder of `model`: the packaged name, a folder, or a hub name already in the HF cache."""
    path = Path(resolve_model_path(model))
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception as e:  # huggingface_hub raises several kinds for "not in the cache"
        raise EmbeddingError(
            f"embedding model {model!r} is neither a folder nor in the local Hugging Face cache: "
            "set CHATBOT_EMBEDDING_MODEL to a sentence-transformers model folder"
        ) from e


def _module_paths(root: Path) -> tuple[Path, Path | None]:
    """(transformer folder, pooling folder or None) from modules.json; a plain HF folder has neither."""
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        return root, None
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EmbeddingError(f"{modules_file}: cannot read: {e}") from e
    transformer, pooling = root, None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _KNOWN_MODULES:
            raise EmbeddingError(
                f"{modules_file}: module {kind!r} is not supported by the ONNX backend: "
                "set CHATBOT_EMBEDDING_BACKEND=torch for this model"
            )
        if kind == "Transformer":
            transformer = root / module.get("path", "")
        elif kind == "Pooling":
            pooling = root / module.get("path", "")
    return transformer, pooling


def _pooling_mode(pooling_dir: Path | None) -> str:
    """The pooling of the model; sentence-transformers adds mean pooling to a folder that names none."""
    if pooling_dir is None or not (pooling_dir / "config.json").is_file():
        return "mean"
    config_file = pooling_dir / "config.json"
    config = _read_json(config_file)
    mode: Any = config.get("pooling_mode")
    if mode is None:  # the format before sentence-transformers 6: one boolean per mode
        mode = [name for key, name in _LEGACY_POOLING.items() if config.get(key)] or ["mean"]
    if isinstance(mode, list):
        mode = mode[0] if len(mode) == 1 else "+".join(mode)
    if mode not in SUPPORTED_POOLING:
        raise EmbeddingError(
            f"{config_file}: pooling {mode!r} is not supported by the ONNX backend "
            f"({', '.join(SUPPORTED_POOLING)}): set CHATBOT_EMBEDDING_BACKEND=torch for this model"
        )
    return str(mode)


def read_layout(root: Path) -> ModelLayout:
    """Pooling, maximum sequence length and casing of the model folder `root`."""
    transformer_dir, pooling_dir = _module_paths(root)
    if not (transformer_dir / "config.json").is_file():
        raise EmbeddingError(f"{transformer_dir}: no config.json, not a transformers model folder")
    config = _read_json(transformer_dir / "config.json")
    st_file = transformer_dir / "sentence_bert_config.json"
    st_config = _read_json(st_file) if st_file.is_file() else {}
    max_length = st_config.get("max_seq_length")
    if not max_length:  # sentence-transformers' own fallback: the smaller of tokenizer and position limits
        tok_file = transformer_dir / "tokenizer_config.json"
        tok_max = _read_json(tok_file).get("model_max_length") if tok_file.is_file() else None
        limits = [v for v in (tok_max, config.get("max_position_embeddings")) if isinstance(v, int)]
        max_length = min([v for v in limits if v < 100_000] or [512])
    return ModelLayout(
        root=root,
        transformer_dir=transformer_dir,
        pooling=_pooling_mode(pooling_dir),
        max_seq_length=int(max_length),
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        pad_token_id=int(config.get("pad_token_id") or 0),
    )


def cache_folder(cache_dir: Path, model: str, layout: ModelLayout) -> Path:
    """<cache_dir>/onnx/<safe model name>-<hash of the model files' names, sizes and mtimes>."""
    digest = hashlib.sha256(f"export {EXPORT_VERSION}\n".encode())
    folders = {layout.root, layout.transformer_dir}
    for folder in sorted(folders):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in _WEIGHT_SUFFIXES:
                stat = path.stat()
                digest.update(f"{path.relative_to(layout.root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    digest.update(f"{layout}\n".encode())  # pooling, sequence length, casing: whatever the JSON says
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).name or model).strip("._") or "model"
    return Path(cache_dir) / "onnx" / f"{safe_name}-{digest.hexdigest()[:16]}"


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill a temporary file beside `target`, then move it into place in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is shared by the users of the project
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(layout: ModelLayout, target: Path) -> None:
    """torch.onnx.export of the transformer encoder; output 0 is the token embeddings."""
    import torch
    from transformers import AutoModel

    # eager attention traces to plain ONNX ops; the fused kernels do not all export
    model = AutoModel.from_pretrained(
        str(layout.transformer_dir), local_files_only=True, attn_implementation="eager"
    ).eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    ids = torch.tensor([[1, 5, 6, 7, 2], [1, 5, 6, 2, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.long)  # a padded row traces masking
    args = (ids, mask, torch.zeros_like(ids))[: len(names)]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, OUTPUT_NAME]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python control flow on shapes
        # computed before the export: the tracer leaves the model in a state that no longer matches
        expected = Encoder()(*args).numpy()
        torch.onnx.export(
            Encoder(), args, str(target), input_names=names, output_names=[OUTPUT_NAME],
            dynamic_axes=axes, opset_version=17, do_constant_folding=True, dynamo=False,
        )
    got = _session(target).run(None, {n: a.numpy() for n, a in zip(names, args, strict=True)})[0]
    error = float(np.abs((got - expected) * mask.numpy()[..., None]).max())
    if error > 1e-3:
        raise EmbeddingError(
            f"ONNX export of {layout.root} differs from torch by {error:.2g}: "
            "set CHATBOT_EMBEDDING_BACKEND=torch"
        )


class _DropRecordsFrom(logging.Filter):
    def __init__(self, path_part: str) -> None:
        super().__init__()
        self.path_part = path_part

    def filter(self, record: logging.LogRecord) -> bool:
        return self.path_part not in record.pathname.replace(os.sep, "/")


def _quantize(fp32: Path, target: Path) -> None:
    """Dynamic int8 weights of the MatMuls, 7-bit range, one scale per output channel.

    Measured on m3e-small (AMD EPYC, avx2 without VNNI), cosine to fp32 on letter sentences:
    per-tensor 0.96, per-channel 0.995 at the same speed, so per_channel is on. Without reduce_range
    the u8*s8 kernels saturate on CPUs without VNNI (top-1 changed on 7 of 24 questions here; the
    avx512_vnni configs give cosine 0.73). The word-embedding table (Gather) stays fp32: it is a lookup,
    not compute, and quantizing it only adds error.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _DropRecordsFrom("onnxruntime/quantization")
    logging.getLogger().addFilter(quiet)  # it logs one INFO line per tensor on the root logger
    try:
        quantize_dynamic(
            fp32, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8,
            per_channel=True, reduce_range=True,
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    cosine = _probe_cosine(fp32, target)
    if cosine < MIN_INT8_COSINE:
        raise EmbeddingError(
            f"int8 model of {fp32.parent.name} agrees with fp32 only to cosine {cosine:.3f} on this CPU: "
            "set CHATBOT_EMBEDDING_BACKEND=onnx"
        )


def _probe_cosine(fp32: Path, int8: Path) -> float:
    """Smallest cosine between the two models' mean-pooled outputs on fixed pseudo-random token ids."""
    rng = np.random.default_rng(0)
    ids = rng.integers(100, 3000, size=(4, 48), dtype=np.int64)
    feeds: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    feeds["token_type_ids"] = np.zeros_like(ids)
    vectors = []
    for path in (fp32, int8):
        session = _session(path)
        names = {i.name for i in session.get_inputs()}
        out = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        vectors.append(normalize_rows(out.mean(axis=1)))
    return float((vectors[0] * vectors[1]).sum(axis=1).min())


def ensure_onnx(layout: ModelLayout, folder: Path, *, int8: bool) -> Path:
    """The cached ONNX file of the model, exported (and quantized) first if it is not there yet."""
    fp32, quantized = folder / FP32_FILE, folder / INT8_FILE
    wanted = quantized if int8 else fp32
    if wanted.is_file():
        return wanted
    started = time.perf_counter()
    log.info("one-time ONNX export of %s into %s; later starts reuse it", layout.root, folder)
    try:
        if not fp32.is_file():
            _write_atomically(fp32, lambda tmp: _export_fp32(layout, tmp))
        if not quantized.is_file():
            _write_atomically(quantized, lambda tmp: _quantize(fp32, tmp))
    except ImportError as e:
        raise EmbeddingError(f"the ONNX export needs torch and transformers ({e}): run `make install`") from e
    log.info("ONNX export of %s took %.1f s", layout.root.name, time.perf_counter() - started)
    return wanted


def ensure_tokenizer(layout: ModelLayout, folder: Path) -> Path:
    """The model's fast tokenizer.json; written once into the cache when the model folder has none."""
    own = layout.transformer_dir / TOKENIZER_FILE
    if own.is_file():
        return own
    cached = folder / TOKENIZER_FILE
    if cached.is_file():
        return cached
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(layout.transformer_dir), local_files_only=True)
    if not getattr(tokenizer, "is_fast", False):
        raise EmbeddingError(f"{layout.transformer_dir}: no fast tokenizer available: use backend torch")

    def write(tmp: Path) -> None:
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            tokenizer.save_pretrained(scratch)
            os.replace(Path(scratch) / TOKENIZER_FILE, tmp)

    _write_atomically(cached, write)
    return cached


def _session(path: Path) -> Any:
    import onnxruntime as ort

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are noise here
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise EmbeddingError(f"{path}: cannot load the ONNX model ({e}): delete it to re-export") from e


def pool(token_embeddings: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token vectors (batch, seq, dim) under the attention mask (batch, seq)."""
    if mode == "cls":
        return token_embeddings[:, 0]
    weights = mask[..., None].astype(np.float32)
    if mode == "max":  # padding must never win the maximum
        return np.where(weights > 0, token_embeddings, np.float32(-1e9)).max(axis=1)
    summed = (token_embeddings * weights).sum(axis=1)
    return summed / np.maximum(weights.sum(axis=1), 1e-9)


class OnnxEmbedder:
    """A sentence-transformers model run by ONNX Runtime (fp32 or int8): the Embedder protocol."""

    def __init__(self, name: str, onnx_path: Path, tokenizer_path: Path, layout: ModelLayout,
                 batch_size: int = BATCH_SIZE) -> None:
        from tokenizers import Tokenizer

        self.name = name  # the model's name, as the torch backend records it: indexes load with either
        self.onnx_path = onnx_path
        self.layout = layout
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()  # padding is done per length-sorted batch in _embed_batch
        self._tokenizer.enable_truncation(max_length=layout.max_seq_length)
        self._session = _session(onnx_path)
        self._inputs = [i.name for i in self._session.get_inputs()]
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise EmbeddingError(f"{onnx_path}: unexpected inputs {sorted(unknown)}: delete it to re-export")
        width = self._session.get_outputs()[0].shape[-1]
        if not isinstance(width, int):  # a symbolic last axis: the encoder's hidden size is the width
            width = int(_read_json(layout.transformer_dir / "config.json")["hidden_size"])
        self.dim = width

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxEmbedder:
        """The configured model, exported to the cache on first use; int8 for backend "onnx-int8"."""
        layout = read_layout(model_folder(settings.embedding_model))
        folder = cache_folder(settings.cache_dir, settings.embedding_model, layout)
        onnx_path = ensure_onnx(layout, folder, int8=settings.embedding_backend == "onnx-int8")
        return cls(settings.embedding_model, onnx_path, ensure_tokenizer(layout, folder), layout)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalized float32 rows in the order of `texts`; batches are formed by token length."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.layout.do_lower_case:
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(texts)
        # similar lengths in a batch waste little on padding (about twice as fast on mixed lengths)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        steps: Iterable[list[int]] = batches
        if progress:
            from tqdm import tqdm

            steps = tqdm(batches, desc="embedding", unit="batch")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for batch in steps:
            out[batch] = self._embed_batch([encodings[i] for i in batch])
        return out

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.layout.pad_token_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            mask[row, :length] = 1
            types[row, :length] = encoding.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        tokens = self._session.run(None, {name: arrays[name] for name in self._inputs})[0]
        return normalize_rows(pool(tokens, mask, self.layout.pooling))
