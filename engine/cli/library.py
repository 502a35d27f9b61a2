"""``paperscope library``: libraries of liked and unliked papers, the same ones the web
page's like buttons write (both go to ``<index>/library.sqlite``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import IndexOpt, JsonOpt, LevelOpt, LibraryOpt, app, print_json, stdout, user_errors

library_app = typer.Typer(
    help="Libraries of liked and unliked papers (shared with the web page).", no_args_is_help=True
)
app.add_typer(library_app, name="library")

NameArg = Annotated[str, typer.Argument(help="Library name.")]
IdsArg = Annotated[list[str], typer.Argument(help="arXiv ids.")]
DEFAULT_LIBRARY = "likes"  # the page's own library, unless the reader picks another


def _store(index: Path):
    from engine.library.store import LibraryStore

    return LibraryStore.for_index(index)


@library_app.command("add")
def add_papers(
    ids: IdsArg,
    library: LibraryOpt = DEFAULT_LIBRARY,
    unlike: Annotated[
        bool, typer.Option("--unlike", help="Mark them as not wanted (recommendations avoid them).")
    ] = False,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Like papers (or unlike them) in a library, creating it when new."""
    import engine

    with user_errors(), engine.open(index) as ix:
        titles = [ix.paper(pid).title for pid in ids]  # an id the index lacks is an error here
        marked = _store(index).mark(library, zip(ids, titles, strict=True), "unlike" if unlike else "like")
    typer.echo(f"{library}: {len(marked)} paper{'s' if len(marked) != 1 else ''} marked {marked[0].verdict}")


@library_app.command("remove")
def remove_papers(
    ids: IdsArg,
    library: LibraryOpt = DEFAULT_LIBRARY,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Take papers out of a library."""
    with user_errors():
        removed = _store(index).remove(library, ids)
    typer.echo(f"{library}: {removed} removed")


@library_app.command("list")
def list_libraries(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """The libraries, with their likes and unlikes."""
    with user_errors():
        found = _store(index).libraries()
    if as_json:
        print_json({"libraries": [s.__dict__ for s in found]})
        return
    if not found:
        typer.echo("no libraries yet (paperscope library add ID, or like a paper in the web page)")
    for s in found:
        typer.echo(f"{s.name}\t{s.likes} liked\t{s.unlikes} unliked\tsince {s.created[:10]}")


@library_app.command("show")
def show_library(name: NameArg = DEFAULT_LIBRARY, index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """A library's papers, newest first; papers no longer in the index say so."""
    import engine
    from engine.library.records import listing

    with user_errors():
        entries = _store(index).entries(name)
        with engine.open(index) as ix:
            present = {e.paper_id: e.paper_id in ix for e in entries}
    if as_json:
        print_json(listing(name, entries, present.__getitem__))
        return
    from rich.table import Table

    table = Table(title=f"{name}: {len(entries)} papers")
    for column in ("id", "verdict", "title", "added"):
        table.add_column(column)
    for e in entries:
        title = e.title if present[e.paper_id] else f"{e.title} [not in the index now]"
        table.add_row(e.paper_id, e.verdict, title, e.added[:10])
    stdout().print(table)


@library_app.command("export")
def export_libraries(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.json")],
    library: Annotated[list[str] | None, typer.Option("--library", "-l", help="Only these (default: all).")] = None,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Write libraries to a JSON file (paperscope library import reads it back)."""
    from engine.fsutil import write_atomic

    with user_errors():
        data = _store(index).export(library)
    write_atomic(out, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    typer.echo(f"wrote {out}: {len(data['libraries'])} libraries")


@library_app.command("import")
def import_libraries(
    path: Annotated[Path, typer.Argument(help="A JSON file written by paperscope library export.")],
    replace: Annotated[bool, typer.Option("--replace", help="Empty each imported library first.")] = False,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Read libraries from a JSON export; all or nothing."""
    from engine.errors import LibraryError

    with user_errors():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LibraryError(f"{path}: cannot read a library export: {exc}") from None
        written = _store(index).import_(data, source=str(path), replace=replace)
    typer.echo(f"imported {sum(written.values())} entries into {len(written)} libraries from {path}")


@library_app.command("delete")
def delete_library(name: NameArg, index: IndexOpt = DEFAULT_INDEX) -> None:
    """Delete a library with its entries, read marks and follows."""
    with user_errors():
        _store(index).delete(name)
    typer.echo(f"deleted library {name}")


@library_app.command("read")
def mark_read(
    ids: IdsArg,
    library: LibraryOpt = DEFAULT_LIBRARY,
    unread: Annotated[bool, typer.Option("--unread", help="Mark them unread again.")] = False,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Mark papers read, so the library's feed leaves them out (or unread again)."""
    with user_errors():
        changed = _store(index).mark_read(library, ids, read=not unread)
    typer.echo(f"{library}: {changed} marked {'unread' if unread else 'read'}")


def _follow(library: str, category: str | None, topic: int | None, level: str, index: Path, on: bool) -> None:
    import engine
    from engine.errors import LibraryError

    with user_errors():
        if (category is None) == (topic is None):
            raise LibraryError("give either --category or --topic")
        label = ""
        if topic is not None:
            with engine.open(index) as ix:
                label = ix.topic(topic, level).label  # an unknown topic is an error here
        kind, value = ("category", category) if category is not None else ("topic", f"{level}:{topic}")
        follows = _store(index).follow(library, kind, value, label, on=on)
    shown = ", ".join(f"{f.value}" + (f" ({f.label})" if f.label else "") for f in follows) or "nothing (all papers)"
    typer.echo(f"{library} follows: {shown}")


CategoryFollowOpt = Annotated[str | None, typer.Option("--category", "-c", help="A category (cs.CV) or prefix (cs.).")]
TopicFollowOpt = Annotated[int | None, typer.Option("--topic", help="A topic id (see paperscope topics).")]


@library_app.command("follow")
def follow(
    library: LibraryOpt = DEFAULT_LIBRARY,
    category: CategoryFollowOpt = None,
    topic: TopicFollowOpt = None,
    level: LevelOpt = "fine",
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Limit the library's feed to followed categories and topics (any of them)."""
    _follow(library, category, topic, level, index, on=True)


@library_app.command("unfollow")
def unfollow(
    library: LibraryOpt = DEFAULT_LIBRARY,
    category: CategoryFollowOpt = None,
    topic: TopicFollowOpt = None,
    level: LevelOpt = "fine",
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Stop following a category or topic."""
    _follow(library, category, topic, level, index, on=False)
