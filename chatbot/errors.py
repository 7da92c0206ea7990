"""One error hierarchy: the library raises these, only the CLI and the app turn them into messages."""

from __future__ import annotations

from pathlib import Path


class ChatbotError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ChatbotError):
    """A setting (environment variable or option) has a value we cannot use."""


class DocumentError(ChatbotError):
    """A letter file cannot be read; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexMissingError(ChatbotError):
    """There is no index where one was expected."""


class IndexMismatchError(ChatbotError):
    """The index was built with another model, dimension or schema than the configured one."""


class IndexCorruptError(ChatbotError):
    """The index files are unreadable or inconsistent."""


class EmbeddingError(ChatbotError):
    """The embedding model cannot be found or loaded."""


class QueryError(ChatbotError):
    """A question or a retrieval argument is unusable (empty question, k out of range, unknown doc_id)."""
