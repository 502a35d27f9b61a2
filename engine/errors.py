"""Every error paperscope reports to a user, with what it maps to: the CLI prints the
message as one line on stderr and exits with ``exit_code``; the HTTP API answers with
``http_status`` and the message as JSON.

| error | meaning | exit | HTTP |
|---|---|---|---|
| PaperscopeError | base of them all | 2 | 500 |
| InputError | an input path cannot be read at all | 2 | 500 |
| RecordError | one input record is invalid (the message names the field) | 2 | 500 |
| ModelError | the model folder or a derived model is missing or unusable | 2 | 500 |
| BuildError | a build cannot go on, or a build option is invalid | 2 | 500 |
| SyncError, ArxivUnavailable, ArxivRefused, OaiPmhError | an arXiv sync or OAI-PMH harvest cannot go on | 2 | 500 |
| IndexNotFound | no built index at the path | 2 | 503 |
| IndexBusy, SyncBusy | another process is writing the index (or syncing the query) | 2 | 503 |
| IndexCorrupt | an index file is missing, damaged or does not match the manifest | 2 | 503 |
| QueryError | a query that cannot be answered as asked | 2 | 400 |
| UnknownPaper, UnknownTopic | the paper or topic is not in the index | 2 | 404 |
| LibraryError | a library name, entry or import file is invalid (the message names the field) | 2 | 400 |
| UnknownLibrary | no library of that name | 2 | 404 |
| LibraryUnavailable | the library store cannot be opened or written (the message names the file) | 2 | 503 |

``paperscope verify`` exits 1 when it finds problems: that is its answer, not an error.
This module imports nothing: the CLI catches these before loading anything.
"""

from __future__ import annotations


class PaperscopeError(Exception):
    """Base of all errors with a message meant for the user."""

    exit_code = 2
    http_status = 500


class InputError(PaperscopeError):
    """An input path cannot be read at all (missing, unreadable)."""


class RecordError(PaperscopeError, ValueError):
    """One input record is invalid; the message names the field and why."""


class ModelError(PaperscopeError):
    """The model folder is missing or not a sentence-transformers model."""


class BuildError(PaperscopeError):
    """A build cannot go on (no valid papers, a different model, an invalid option)."""


class SyncError(PaperscopeError):
    """A sync cannot go on (bad arguments, unreadable state)."""


class ArxivUnavailable(SyncError):
    """The arXiv API kept failing in ways worth retrying; we gave up."""


class ArxivRefused(SyncError):
    """The arXiv API refused the request (a 4xx other than 429, or its error feed)."""


class OaiPmhError(ArxivRefused):
    """An OAI-PMH server answered with an ``<error>``; ``code`` is its code
    (badResumptionToken, badArgument, cannotDisseminateFormat, noSetHierarchy, ...)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class IndexNotFound(PaperscopeError):
    """No built index at the given path."""

    http_status = 503


class IndexBusy(PaperscopeError):
    """Another process is writing this index."""

    http_status = 503


class SyncBusy(IndexBusy):
    """Another sync of the same query into the same index is running."""


class IndexCorrupt(PaperscopeError):
    """An index file is missing, unreadable or does not match the manifest."""

    http_status = 503


class QueryError(PaperscopeError, ValueError):
    """A query that cannot be answered as asked (empty text, k out of range)."""

    http_status = 400


class UnknownPaper(QueryError):
    """The paper id is not in the index."""

    http_status = 404


class UnknownTopic(QueryError):
    """The topic id is not in the index (or the index has no topics)."""

    http_status = 404


class LibraryError(QueryError):
    """A library name, entry or import file is invalid; the message names the field."""


class UnknownLibrary(LibraryError):
    """No library of that name in the library store."""

    http_status = 404


class LibraryUnavailable(PaperscopeError):
    """The library store cannot be opened or written (a read-only folder, a full disk)."""

    http_status = 503


class ExportError(QueryError):
    """An export or digest was asked in a format paperscope does not write (names it)."""


class MailError(PaperscopeError):
    """Sending a digest failed: the mail settings are invalid (naming the file and field)
    or the SMTP server refused; the digest file itself is still written."""
