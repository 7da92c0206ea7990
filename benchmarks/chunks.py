"""The chunk texts the index embeds for a corpus folder, read and cut by the product's own code."""

from __future__ import annotations

from pathlib import Path

from chatbot.chunking import chunk_document
from chatbot.documents import iter_corpus_files, load_document


def corpus_chunk_texts(corpus_dir: Path, max_chars: int) -> list[str]:
    """search_text of every chunk of every letter in `corpus_dir`, in file order."""
    return [chunk.search_text for path in iter_corpus_files(corpus_dir)
            for chunk in chunk_document(load_document(path), max_chars=max_chars)]
