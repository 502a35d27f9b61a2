"""The web page and its static files (plotly.js from the installed package: no CDN)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB = resources.files("engine.serve") / "web"

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(str(WEB / "index.html"), media_type="text/html")


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    # plotly.js ships inside the plotly package: no CDN, works offline.
    import plotly

    return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript")
