"""The bundled demo corpus: the arXiv cs.CV listing of Thu, 19 Nov 2020 (63 papers)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_QUERIES = (
    "neural architecture search",
    "medical image segmentation",
    "adversarial attacks on image classifiers",
)
# "Adversarial collision attacks on image hashing functions": its neighbours show `related`.
DEMO_RELATED = "2011.09473"


def demo_corpus() -> Path:
    """Path of the demo digest shipped inside the package (works after ``pip install``)."""
    return Path(str(resources.files("engine") / "data" / "arxiv-cs.CV-2020-11-19.md"))
