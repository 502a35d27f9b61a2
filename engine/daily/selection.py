"""What an export holds: a library, a search's hits, a topic's papers or given ids, each
as a full record (the API's paper answer), ready for BibTeX, CSL-JSON or CSV."""

from __future__ import annotations

from engine.errors import QueryError
from engine.library.store import LibraryStore
from engine.query.answers import paper_answer
from engine.query.facade import PaperIndex

MAX_EXPORT = 5000  # papers per export: a topic of the 87k index fits; a runaway request does not


def check_one_source(library: str | None, query: str | None, topic: int | None, ids: list[str] | None) -> None:
    sources = (("library", library), ("q", query), ("topic", topic), ("ids", ids))
    given = [name for name, value in sources if value is not None and value != "" and value != []]  # topic 0 counts
    if len(given) != 1:
        raise QueryError(f"export needs exactly one of library, q (a search), topic or ids; got {given or 'none'}")


def records(
    ix: PaperIndex,
    store: LibraryStore | None = None,
    library: str | None = None,
    query: str | None = None,
    topic: int | None = None,
    level: str = "fine",
    ids: list[str] | None = None,
    k: int = 100,
) -> list[dict]:
    """The records of exactly one source. A library's papers that left the index keep
    their id and title (so the export still lists them)."""
    check_one_source(library, query, topic, ids)
    if library:
        if store is None:
            raise QueryError("exporting a library needs the library store")
        entries = [e for e in store.entries(library) if e.verdict == "like"]
        return [
            paper_answer(ix, e.paper_id) if e.paper_id in ix else {"id": e.paper_id, "title": e.title}
            for e in entries[:MAX_EXPORT]
        ]
    if query:
        found = [hit.paper.id for hit in ix.search(query, k=k)]
    elif topic is not None:
        found = ix.topic_members(topic, level)[:MAX_EXPORT]
    else:
        if len(ids) > MAX_EXPORT:
            raise QueryError(f"at most {MAX_EXPORT:,} ids per export, got {len(ids):,}")
        found = list(ids)
    return [paper_answer(ix, pid) for pid in found]
