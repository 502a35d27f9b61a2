"""The daily loop's commands: ``feed`` (what is new for a library), ``digest`` (the same
as an e-mail-ready file, optionally mailed) and ``export`` (BibTeX, CSL-JSON, CSV)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli.common import IndexOpt, JsonOpt, KOpt, LevelOpt, LibraryOpt, app, print_json, stdout, user_errors

FeedSinceOpt = Annotated[
    str,
    typer.Option(
        "--since",
        help="last (since the previous visit; a week on the first), Nd (the N days up to the newest paper), "
        "or a date (2026-06-15).",
    ),
]
MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="fused, rocchio, svm, or measured (the one that finds the library's held-out likes best); "
        "default: fused under 5 likes, svm from 5 (measured best in benchmarks/feed.py).",
    ),
]


def _feed(index: Path, library: str, since: str, k: int, include_read: bool, visit: bool, method: str | None):
    import engine
    from engine.daily.feed import build_feed
    from engine.library.store import LibraryStore

    with engine.open(index) as ix:
        return build_feed(ix, LibraryStore.for_index(index), library, since, k, include_read, visit, method)


@app.command()
def feed(
    library: LibraryOpt = "likes",
    since: FeedSinceOpt = "last",
    k: KOpt = 50,
    include_read: Annotated[bool, typer.Option("--all", help="Also papers already marked read.")] = False,
    mark_read: Annotated[bool, typer.Option("--mark-read", help="Mark the papers shown as read.")] = False,
    method: MethodOpt = None,
    index: IndexOpt = DEFAULT_INDEX,
    as_json: JsonOpt = False,
) -> None:
    """New papers for a library, best fit first, each with why (records this visit)."""
    from engine.library.store import LibraryStore

    with user_errors():
        answer = _feed(index, library, since, k, include_read, True, method)
        if mark_read and answer["items"]:
            LibraryStore.for_index(index).mark_read(library, [item["id"] for item in answer["items"]])
    if as_json:
        print_json(answer)
        return
    _print_feed(answer)


def _print_feed(answer: dict) -> None:
    from rich.markup import escape

    console = stdout()
    console.print(
        f"[bold]{escape(answer['library'])}[/]: {answer['unread']:,} unread of {answer['new']:,} new papers since "
        f"{answer['since']} (newest {answer['newest']}); ranked by {escape(answer['method_reason'])}"
    )
    for gone in answer["follows"]["gone"]:
        console.print(f"[yellow]followed topic {escape(gone)} is gone (refit); see paperscope topics[/]")
    for item in answer["items"]:
        topic = (item.get("topic") or {}).get("label") or ""
        console.print(
            f"\n[dim]{item['rank']:>3}[/] [cyan]{item['id']}[/] {item['date']}  [bold]{escape(item['title'])}[/]"
            + (f"  [magenta]{escape(topic)}[/]" if topic else "")
        )
        console.print(f"     [green]{escape(item['why'])}[/]")
        console.print(f"     [dim]{escape(item['snippet']['text'])}[/]")


@app.command()
def digest(
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.html (e-mail ready) or FILE.md.")],
    library: LibraryOpt = "likes",
    since: FeedSinceOpt = "1d",
    k: KOpt = 25,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Where paperscope serve runs, for 'related papers' links.")
    ] = None,
    mail: Annotated[
        Path | None, typer.Option("--mail", help="A TOML file of SMTP settings: send the digest (see engine/README).")
    ] = None,
    mark_read: Annotated[bool, typer.Option("--mark-read", help="Mark the papers in the digest as read.")] = False,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Write the feed as a self-contained digest (and mail it when --mail is given)."""
    from engine.daily import digest as digest_mod
    from engine.library.store import LibraryStore

    with user_errors():
        answer = _feed(index, library, since, k, False, False, None)
        digest_mod.write_digest(answer, out, base_url)
        typer.echo(f"wrote {out}: {len(answer['items'])} papers for {library} since {answer['since']}")
        if mail is not None:
            from engine.daily import mailer

            config = mailer.load_config(mail)
            html = digest_mod.render_html(answer, base_url)
            mailer.send(config, mailer.build_message(config, answer, html, digest_mod.render_text(answer)))
            typer.echo(f"mailed to {', '.join(config.recipients)}")
        if mark_read and answer["items"]:
            LibraryStore.for_index(index).mark_read(library, [item["id"] for item in answer["items"]])


@app.command()
def export(
    ids: Annotated[list[str] | None, typer.Argument(help="Paper ids (or use --library, --search, --topic).")] = None,
    library: Annotated[str | None, typer.Option("--library", "-l", help="A library's liked papers.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="The hits of a search.")] = None,
    topic: Annotated[int | None, typer.Option("--topic", help="A topic's papers.")] = None,
    level: LevelOpt = "fine",
    k: KOpt = 100,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="bibtex, csl-json or csv (default: from --out, else bibtex).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="FILE.bib|.json|.csv (default: standard output).")
    ] = None,
    index: IndexOpt = DEFAULT_INDEX,
) -> None:
    """Export papers as BibTeX (arXiv eprint fields), CSL-JSON (Zotero, pandoc) or CSV."""
    import engine
    from engine.daily import exports, selection
    from engine.fsutil import write_atomic
    from engine.library.store import LibraryStore

    with user_errors():
        chosen = exports.check_format(fmt) if fmt else (exports.format_for_path(out) if out else "bibtex")
        with engine.open(index) as ix:
            found = selection.records(ix, LibraryStore.for_index(index), library, search, topic, level, ids, k)
        text = exports.render(chosen, found)
    if out is None:
        sys.stdout.write(text)
        return
    write_atomic(out, text.encode("utf-8"))
    typer.echo(f"wrote {out}: {len(found)} papers as {chosen}", err=True)
