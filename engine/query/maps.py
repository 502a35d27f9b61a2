"""Pictures of the topic map: the data every view of it needs (:class:`MapData`, also
served by the HTTP API), one self-contained HTML page (plotly.js inlined, no CDN) and a
static PNG (datamapplot).

Every picture labels the broad topics when the map is seen whole and, in the HTML, the
fine ones as the reader zooms in; colours and the legend follow the overview's level,
so the legend names what is drawn. Labels never overlap: the HTML places them with
``templates/label-placement.js`` (the web page uses the same file), the PNG with
datamapplot's own placement.
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
    def overview_level(self) -> str:
        """The level labelled (and coloured, and in the legend) when the map is seen
        whole: the broad topics, unless they are no fewer than the fine ones (as
        ``overviewLevel`` in label-placement.js decides for the pages)."""
        fine, coarse = len(self.fine_topics), len(self.coarse_topics)
        return "fine" if coarse == 0 or coarse >= fine else "coarse"

    @property
    def overview_topics(self) -> list[dict]:
        return self.coarse_topics if self.overview_level == "coarse" else self.fine_topics

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
            "overview_level": self.overview_level,
        }


def _colours(data: MapData) -> tuple[np.ndarray, dict[int, str], list[dict]]:
    """Each paper's colour group (its overview-level topic), the group colours (largest
    topic first) and the groups' topics."""
    level = data.overview_level
    groups = data.fine if level == "fine" else data.coarse
    topics = data.overview_topics
    colour = {t["id"]: PALETTE[i % len(PALETTE)] for i, t in enumerate(sorted(topics, key=lambda t: -t["size"]))}
    return groups, colour, topics


NOISE = "Unlabelled"  # datamapplot's name for points without a topic


def write_png(data: MapData, path: Path, title: str) -> None:
    """The static map, drawn by datamapplot: labels around the map with leader lines,
    sized by topic size, colours by neighbourhood, points sized by their number. Fonts
    are the system's (its default would fetch them from Google); its density glow is
    off (~95 s at 7k papers, its contours dominate). Importing datamapplot costs ~20 s
    here (numba compiles)."""
    import matplotlib

    matplotlib.use("Agg")
    import datamapplot
    import matplotlib.pyplot as plt

    groups, _, topics = _colours(data)
    names = {t["id"]: t["label"] for t in topics}
    labels = np.array([names.get(int(g), NOISE) if g >= 0 else NOISE for g in groups], dtype=object)
    n = len(data.ids)
    about = f"{n:,} papers · {len(topics)} {'broad ' if data.overview_level == 'coarse' else ''}topics"
    single = len(set(labels) - {NOISE}) < 2
    if single:
        # datamapplot arranges labels around the centre of several; one topic (a tiny
        # index) is named in the subtitle instead (its placement divides by zero)
        about = f"{n:,} papers · {', '.join(t['label'] for t in topics) or 'no topics'}"
        labels[:] = NOISE
    fig, _ = datamapplot.create_plot(
        np.asarray(data.xy, dtype=np.float32), labels, title=title, sub_title=about,
        noise_label=NOISE, noise_color=PALETTE[0] if single else OUTLIER_COLOUR, figsize=(14, 10), dpi=120,
        dynamic_label_size=True, min_font_size=8, max_font_size=22, add_glow=False,
        use_system_fonts=True, font_family="DejaVu Sans",
        title_keywords={"fontsize": 18, "fontweight": "bold"}, sub_title_keywords={"fontsize": 12},
    )  # fmt: skip
    fig.savefig(path, bbox_inches="tight")
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
    # The page's label placement, inlined: one classic script cannot import a module.
    placement = re.sub(r"^export ", "", (templates / "label-placement.js").read_text(encoding="utf-8"), flags=re.M)
    map_js = placement + "\n" + (templates / "map.js").read_text(encoding="utf-8")
    scripts = {"PLOTLY_JS": get_plotlyjs(), "MAP_JS": map_js}
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
