"""Pictures of the topic map: the data every view of it needs (:class:`MapData`, also
served by the HTTP API), one self-contained HTML page (plotly.js inlined, no CDN) and a
static PNG (matplotlib).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

# Colour by fine topic up to this many topics, else by coarse topic.
MAX_FINE_COLOURS = 24
# Label fine topics on the map up to this many, else label the coarse ones.
MAX_FINE_LABELS = 40
# At most this many labels on a map (the largest topics); more overlap into a smear.
# Hover still names every paper's topic.
MAX_LABELS = 25
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#6b8e23", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#ff7f0e", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
]  # fmt: skip
OUTLIER_COLOUR = "#c7c7c7"


@dataclass
class MapData:
    """Everything a map picture needs, JSON-ready (also served by the HTTP API)."""

    ids: list[str]
    titles: list[str]
    xy: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    fine_topics: list[dict]  # {"id", "label", "size", "x", "y"}
    coarse_topics: list[dict]

    @property
    def colour_level(self) -> str:
        return "fine" if len(self.fine_topics) <= MAX_FINE_COLOURS else "coarse"

    @property
    def label_level(self) -> str:
        return "fine" if len(self.fine_topics) <= MAX_FINE_LABELS else "coarse"

    @property
    def labelled_topics(self) -> list[dict]:
        topics = self.fine_topics if self.label_level == "fine" else self.coarse_topics
        return sorted(topics, key=lambda t: -t["size"])[:MAX_LABELS]

    def to_dict(self) -> dict:
        return {
            "papers": [
                {
                    "id": i,
                    "title": t,
                    "x": round(float(x), 3),
                    "y": round(float(y), 3),
                    "fine": int(f),
                    "coarse": int(c),
                }
                for i, t, (x, y), f, c in zip(self.ids, self.titles, self.xy, self.fine, self.coarse, strict=True)
            ],
            "topics": {"fine": self.fine_topics, "coarse": self.coarse_topics},
            "colour_level": self.colour_level,
            "label_level": self.label_level,
            "labelled": [t["id"] for t in self.labelled_topics],
        }


def _colours(data: MapData) -> tuple[np.ndarray, dict[int, str], list[dict]]:
    level = data.colour_level
    groups = data.fine if level == "fine" else data.coarse
    topics = data.fine_topics if level == "fine" else data.coarse_topics
    colour = {t["id"]: PALETTE[i % len(PALETTE)] for i, t in enumerate(sorted(topics, key=lambda t: -t["size"]))}
    return groups, colour, topics


def write_png(data: MapData, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patheffects as effects
    import matplotlib.pyplot as plt

    groups, colour, _ = _colours(data)
    n = len(data.ids)
    size = float(np.clip(3000 / max(n, 1), 0.3, 40))
    fig, ax = plt.subplots(figsize=(14, 10), dpi=120)
    outliers = groups < 0
    ax.scatter(*data.xy[outliers].T, s=size, c=OUTLIER_COLOUR, linewidths=0, alpha=0.6)
    point_colours = [colour.get(int(g), OUTLIER_COLOUR) for g in groups[~outliers]]
    ax.scatter(*data.xy[~outliers].T, s=size, c=point_colours, linewidths=0, alpha=0.7 if n > 2000 else 0.9)
    for topic in data.labelled_topics:
        ax.text(
            topic["x"], topic["y"], topic["label"], ha="center", va="center",
            fontsize=9 if data.label_level == "fine" else 11, weight="bold",
            path_effects=[effects.withStroke(linewidth=3, foreground="white")],
        )  # fmt: skip
    ax.set_title(title, fontsize=14)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_html(data: MapData, path: Path, title: str) -> None:
    """One self-contained page: plotly.js inlined, works offline."""
    from plotly.offline import get_plotlyjs

    groups, colour, topics = _colours(data)
    names = {t["id"]: t["label"] for t in topics}
    page_data = data.to_dict()
    page_data["colours"] = {str(k): v for k, v in colour.items()}
    page_data["names"] = {str(k): v for k, v in names.items()}
    page_data["group"] = [int(g) for g in groups]
    page_data["outlier_colour"] = OUTLIER_COLOUR
    templates = resources.files("engine.query") / "templates"
    template = (templates / "map.html").read_text(encoding="utf-8")
    scripts = {"PLOTLY_JS": get_plotlyjs(), "MAP_JS": (templates / "map.js").read_text(encoding="utf-8")}
    values = {
        "TITLE": _escape_html(title),
        "CSP": content_security_policy(scripts.values()),
        **scripts,
        "DATA": json_for_html(page_data),
    }
    # One pass, so nothing inserted (a title, plotly.js) is itself rescanned.
    html = re.sub(r"__(TITLE|CSP|PLOTLY_JS|MAP_JS|DATA)__", lambda m: values[m.group(1)], template)
    path.write_text(html, encoding="utf-8")


def json_for_html(data: object) -> str:
    """JSON that is inert inside an HTML ``<script>`` element: ``<``, ``>`` and ``&`` as
    ``\\u`` escapes, so no ``</script>``, ``<!--`` or ``<script`` in a title can end
    the element or change how the HTML parser reads it; U+2028/U+2029 too, for old
    JavaScript parsers. ``JSON.parse`` reads it back unchanged."""
    text = json.dumps(data, ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def content_security_policy(inline_scripts) -> str:
    """A page that runs only its own inline scripts (by hash), loads nothing from
    anywhere, and cannot be re-based or post forms: safe to open from disk or a mail.
    'unsafe-eval' stays: plotly's WebGL scatter compiles its draw calls with ``new
    Function`` (regl), and without it the map shows "WebGL is not supported" (checked
    in Chromium); injected markup still cannot run, since inline scripts need a hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'" for s in inline_scripts
    )
    return (
        f"default-src 'none'; script-src {hashes} 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; "
        "base-uri 'none'; form-action 'none'"
    )


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
