"""The web page, the API docs and their static files. Third-party assets come from
installed packages (plotly.js from plotly, Swagger UI from fastapi-offline): no CDN,
so both work offline and no other origin's script runs on ours."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from engine.serve.guards import PAGE_CSP

WEB = resources.files("engine.serve") / "web"
SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    # The page's own policy (it allows eval for the WebGL map; see guards.PAGE_CSP).
    return FileResponse(str(WEB / "index.html"), media_type="text/html", headers={"Content-Security-Policy": PAGE_CSP})


@router.get("/docs")
def docs() -> FileResponse:
    """Swagger UI over /openapi.json; web/js/docs.js starts it (no inline script)."""
    return FileResponse(str(WEB / "docs.html"), media_type="text/html")


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    import plotly

    return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript")


@router.get("/static/js/label-placement.js")
def label_placement_js() -> FileResponse:
    """The map's label placement, one file shared with the offline map (engine.query.maps)."""
    return FileResponse(
        str(resources.files("engine.query") / "templates" / "label-placement.js"), media_type="text/javascript"
    )


@router.get("/static/vendor/{name}")
def swagger_asset(name: str) -> FileResponse:
    from starlette.exceptions import HTTPException

    if name not in SWAGGER_FILES:  # a fixed list: no path from the request reaches the disk
        raise HTTPException(404, "Not Found")
    return FileResponse(str(resources.files("fastapi_offline") / "static" / name), media_type=SWAGGER_FILES[name])
