"""The ``paperscope`` command: a thin layer over the pipeline and the facade.

Each group of commands lives in its own module and registers on the one app of
:mod:`engine.cli.common` when imported here; this module adds the index commands
(verify, info) and serve. Exit codes are documented in :mod:`engine.cli.common`."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.artifact import DEFAULT_INDEX
from engine.cli import build, daily, library, models, query, sync, topics  # noqa: F401  (they register their commands)
from engine.cli.common import (
    IndexOpt,
    JsonOpt,
    app,
    print_json,
    user_errors,
)


@app.command()
def verify(
    index: IndexOpt = DEFAULT_INDEX,
    all_versions: Annotated[bool, typer.Option("--all", help="Also check the older versions kept on disk.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every file of an index against its manifest (exit 0 when sound, 1 when not)."""
    from engine.artifact.verify import verify_index

    with user_errors():
        reports = verify_index(index, all_versions)
    if as_json:
        print_json(
            {
                "sound": not any(r.problems for r in reports),
                "versions": [
                    {"path": str(r.path), "live": r.live, "papers": r.papers, "files": r.files, "problems": r.problems}
                    for r in reports
                ],
            }
        )
    else:
        for r in reports:
            state = "sound" if not r.problems else f"{len(r.problems)} problem(s)"
            typer.echo(f"{r.path}{' (live)' if r.live else ''}: {r.files} files, {r.papers:,} papers, {state}")
            for problem in r.problems:
                typer.echo(f"  {problem}", err=True)
    if any(r.problems for r in reports):
        raise typer.Exit(1)


@app.command()
def info(index: IndexOpt = DEFAULT_INDEX, as_json: JsonOpt = False) -> None:
    """What an index holds and how it was built."""
    import engine

    with user_errors(), engine.open(index) as ix:
        data = ix.info()
    if as_json:
        print_json(data)
        return
    model, build_info, topic_info = data["model"], data["build"], data.get("topics")
    size = sum(f["bytes"] for f in data["files"].values())
    lines = [
        f"index      {index} (version {data['version']}, built {data['created']})",
        f"papers     {data['counts']['papers']:,}",
        f"model      {model['name']} ({model['dimension']}-d, {model['backend']}, fingerprint {model['fingerprint']})",
        f"vectors    {data['index']['type']} ({data['index']['faiss']}, {data['index']['metric']})",
        f"size       {size / 1e6:.1f} MB in {len(data['files'])} files",
        f"last build {build_info['new_papers']:,} new papers, {build_info['embedded']:,} embedded, "
        f"{build_info['skipped_records']:,} records skipped",
        "libraries  " + ", ".join(f"{k} {v}" for k, v in data["libraries"].items()),
    ]
    if topic_info:
        lines.insert(
            4,
            f"topics     {topic_info['fine_topics']} fine, {topic_info['coarse_topics']} coarse, "
            f"{topic_info['outlier_share']:.1%} outliers (seed {topic_info['params']['seed']})",
        )
    typer.echo("\n".join(lines))


@app.command()
def serve(
    index: IndexOpt = DEFAULT_INDEX,
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind; other than loopback needs a token. Requests must name the server in their "
            "Host header: localhost, 127.0.0.1, [::1], this address, or an --allow-host name. A wildcard "
            "(0.0.0.0, ::) names no host: add the names clients use with --allow-host."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    token: Annotated[
        str | None, typer.Option(envvar="PAPERSCOPE_TOKEN", help="Clients must send Authorization: Bearer TOKEN.")
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Also answer requests for this host name or address (repeatable), e.g. the machine's name.",
        ),
    ] = None,
    verify_every: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Re-run verify's full check on the live version this often (90s, 30m, 1h; off by default); "
            "a version found damaged is dropped for the newest older one that verifies.",
        ),
    ] = None,
    map_points: Annotated[
        int | None,
        typer.Option(
            min=100,
            max=2_000_000,
            help="Points the page's map draws at the overview (default 30,000; fewer for slow devices); "
            "zoomed in, it draws up to twice as many of the view's.",
        ),
    ] = None,
    exit_with_parent: Annotated[bool, typer.Option(hidden=True)] = False,  # server_process(): see there
) -> None:
    """Serve the HTTP API and the web page (search, papers, recommendations, topic map).

    SIGTERM or SIGINT stops it (exit 0). From a wrapper script, start it with exec, or signal the script's process group: a shell does not pass a signal on to its child."""
    from engine.serve.server import parse_duration
    from engine.serve.server import serve as run_server

    with user_errors():
        every = parse_duration(verify_every) if verify_every else None
        run_server(index, host, port, token, allow_host or (), every, exit_with_parent, map_points)


if __name__ == "__main__":
    app()
