"""Chinese tokenizer for BM25: NFKC, lower case, jieba search-mode words, no punctuation or stopwords.

The same function must tokenize the index and the questions; TOKENIZER_VERSION is recorded in the index,
and an index built with another version refuses to load (its BM25 vocabulary would not match).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from .lexicon import data_lines

if TYPE_CHECKING:
    import jieba

log = logging.getLogger(__name__)

Mode = Literal["jieba", "bigram", "both"]
# Measured on ../shared/eval/questions.jsonl over the real letter (BM25 alone): jieba retrieves better than
# character bigrams and than both together; see tests/test_tokens.py and the report of issue 2.
DEFAULT_MODE: Mode = "jieba"

# A token that is only punctuation, symbols or spaces carries no meaning for BM25.
_NOISE = re.compile(r"^[\W_]+$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?%?$")
_HAN = re.compile(r"[\u3400-\u9fff]")
# Measure words and units that jieba splits from the number before them ("766", "家"): we also emit the
# joined "766家" so that a question quoting the figure matches it exactly.
UNITS = frozenset(
    ["家", "项", "个", "支", "人", "人次", "名", "次", "年", "月", "日", "号", "亿", "亿元", "万", "万元",
     "元", "千亿", "瓦", "万瓦", "所", "批", "条", "件", "台", "套", "户", "倍", "天", "期", "届"]
)

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _data_lines(name: str) -> list[str]:
    return list(data_lines(name))


def _version() -> str:
    # The word lists are part of the tokenizer: editing them changes the version, so the index is rebuilt.
    lists = "\n".join(_data_lines("stopwords.txt") + _data_lines("userdict.txt"))
    return f"jieba-search-1-{DEFAULT_MODE}-{hashlib.sha256(lists.encode()).hexdigest()[:8]}"


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The words dropped from index and query tokens (chatbot/data/stopwords.txt)."""
    return frozenset(unicodedata.normalize("NFKC", w).lower() for w in _data_lines("stopwords.txt"))


def _jieba() -> jieba.Tokenizer:
    """One jieba tokenizer per process with the domain dictionary, built on first use (thread-safe)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO
                tok = jieba.Tokenizer()
                tok.initialize()
                for line in _data_lines("userdict.txt"):
                    word, *rest = line.split()
                    freq = int(rest[0]) if rest else None
                    tok.add_word(word, freq=freq, tag=rest[1] if len(rest) > 1 else None)
                _tokenizer = tok
    return _tokenizer


def tokenizer_copy() -> jieba.Tokenizer:
    """A new jieba tokenizer holding this module's dictionary (domain words included), free to add to.

    Copying the loaded dictionary takes ~30 ms; loading jieba's dictionary a second time took ~1 s of
    every cold start.
    """
    import jieba

    source = _jieba()
    copy = jieba.Tokenizer()
    copy.FREQ, copy.total = dict(source.FREQ), source.total
    copy.user_word_tag_tab = dict(source.user_word_tag_tab)
    copy.initialized = True
    return copy


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _jieba_tokens(text: str) -> list[str]:
    raw = [t.strip() for t in _jieba().lcut_for_search(text)]
    raw = [t for t in raw if t]
    out: list[str] = []
    for i, token in enumerate(raw):
        out.append(token)
        if _NUMBER.match(token) and i + 1 < len(raw) and raw[i + 1] in UNITS:
            out.append(token + raw[i + 1])
    return out


def _bigram_tokens(text: str) -> list[str]:
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+|\d+(?:\.\d+)?%?|[a-z]+", text):
        if not _HAN.match(run) or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _tokens(text: str, mode: Mode) -> list[str]:
    text = normalize(text)
    if mode == "jieba":
        raw = _jieba_tokens(text)
    elif mode == "bigram":
        raw = _bigram_tokens(text)
    else:
        raw = _jieba_tokens(text) + _bigram_tokens(text)
    stop = stopwords()
    return [t for t in raw if t not in stop and not _NOISE.match(t)]


TOKENIZER_VERSION = _version()


def tokenize(text: str, *, mode: Mode = DEFAULT_MODE) -> list[str]:
    """Tokens of a chunk's search text for the BM25 index (repeats kept: they are term frequencies)."""
    return _tokens(text, mode)


def tokenize_query(text: str, *, mode: Mode = DEFAULT_MODE) -> list[str]:
    """Tokens of a question, in order, each once: BM25 sums each query term once."""
    return list(dict.fromkeys(_tokens(text, mode)))
