"""``paperscope models prepare|list``: the derived models and ``auto``'s verdict.

``prepare`` does ahead of time what a first ``build`` would otherwise do before it
embeds anything: export, convert and quantize the model for each backend worth trying,
and measure which one ``auto`` takes on this machine (once; kept in the model cache).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from engine.cli.common import JsonOpt, ModelOpt, app, print_json, stdout, user_errors

models_app = typer.Typer(help="Derived models (ONNX, OpenVINO, static) and the backend auto chooses.")
app.add_typer(models_app, name="models")

BackendOpt = Annotated[
    list[str] | None,
    typer.Option("--backend", "-b", help="Prepare only these backends (default: every one auto tries, then choose)."),
]


@models_app.command("prepare")
def prepare(model: ModelOpt = None, backend: BackendOpt = None, as_json: JsonOpt = False) -> None:
    """Make the derived models and measure auto's choice now, so a first build embeds at once."""
    from engine.embedding.embedder import make_embedder, resolve_model
    from engine.embedding.guard import choose_backend

    with user_errors():
        ref = resolve_model(model)
        if backend:
            for name in backend:
                make_embedder(ref, name).embed(["warm up"])
            chosen = None
        else:
            chosen, _ = choose_backend(ref, make_embedder)
    if as_json:
        print_json({"model": ref.name, "prepared": backend or "auto", "auto": chosen})
    elif chosen:
        typer.echo(f"auto embeds with {chosen} on this machine (paperscope models list shows the trials)")


@models_app.command("list")
def list_models(model: ModelOpt = None, as_json: JsonOpt = False) -> None:
    """What is prepared in the model cache, and which backend auto uses here (with its trials)."""
    from engine.embedding.embedder import resolve_model
    from engine.embedding.guard import kept_verdict, trial_record
    from engine.embedding.model_artifacts import model_folder

    with user_errors():
        ref = resolve_model(model)
        folder = model_folder(ref.fingerprint)
        prepared = []
        for path in sorted(folder.glob("*/artifact.json")) if folder.is_dir() else []:
            details = json.loads(path.read_text())
            size = sum(f.stat().st_size for f in path.parent.rglob("*") if f.is_file())
            prepared.append({"name": path.parent.name, "mb": round(size / 1e6, 1), "seconds": details.get("seconds")})
        verdict = kept_verdict(ref)
    trials = [trial_record(t) for t in (verdict or {}).get("trials", [])]
    if as_json:
        print_json(
            {
                "model": ref.name,
                "folder": str(folder),
                "prepared": prepared,
                "auto": verdict and verdict["backend"],
                "trials": trials,
            }
        )
        return
    _print_models(ref.name, folder, prepared, verdict, trials)


def _print_models(name: str, folder, prepared: list[dict], verdict: dict | None, trials: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=f"{name}: prepared in {folder}", title_justify="left")
    for column in ("artifact", "MB", "made in s"):
        table.add_column(column)
    for item in prepared:
        table.add_row(item["name"], f"{item['mb']:.1f}", f"{item['seconds'] or 0:.0f}")
    stdout().print(table)
    if verdict is None:
        typer.echo("auto has not chosen yet on this machine: paperscope models prepare")
        return
    table = Table(title=f"auto uses {verdict['backend']} here", title_justify="left")
    for column in ("backend", "abstracts/s", "cos mean", "cos min", "10-NN overlap", "eligible"):
        table.add_column(column)
    for t in trials:
        a = t["agreement"] or {}
        cells = [f"{a[k]:.4f}" if k in a else "ref" for k in ("cos_mean", "cos_min", "nn10_overlap")]
        table.add_row(
            t["backend"], f"{t['per_second']:.1f}", *cells, "yes" if t["eligible"] else f"no {t['error'] or ''}"
        )
    stdout().print(table)
