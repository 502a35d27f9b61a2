"""Every error paperscope reports to a user; one base class so the CLI and the HTTP
API can turn them into a one-line message (and exit code 2, or a 4xx answer).

This module imports nothing heavy: the CLI catches these before loading anything.
"""

from __future__ import annotations


class PaperscopeError(Exception):
    """Base of all errors with a message meant for the user."""


class InputError(PaperscopeError):
    """An input path cannot be read at all (missing, unreadable)."""


class RecordError(PaperscopeError, ValueError):
    """One input record is invalid; the message names the field and why."""


class ModelError(PaperscopeError):
    """The model folder is missing or not a sentence-transformers model."""


class BuildError(PaperscopeError):
    """A build cannot go on (no valid papers, a different model, ...)."""


class IndexNotFound(PaperscopeError):
    """No built index at the given path."""


class IndexBusy(PaperscopeError):
    """Another process is writing this index."""


class IndexCorrupt(PaperscopeError):
    """An index file is missing, unreadable or does not match the manifest."""


class QueryError(PaperscopeError, ValueError):
    """A query that cannot be answered as asked (empty text, k out of range)."""


class UnknownPaper(QueryError):
    """The paper id is not in the index."""


class UnknownTopic(QueryError):
    """The topic id is not in the index (or the index has no topics)."""
