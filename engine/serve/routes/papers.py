"""One paper in full, and the papers related to it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from engine.query import answers
from engine.serve.deps import Index, K, QueryFilters, authorized, check_id

router = APIRouter(tags=["papers"], dependencies=[Depends(authorized)])


# ``:path`` because old-style arXiv ids hold a slash (hep-th/9901001); the related
# route comes first so ".../related" is not read as part of an id.
@router.get("/api/papers/{paper_id:path}/related")
def related(paper_id: str, ix: Index, k: K = 10, filters: QueryFilters = None) -> dict:
    """Papers related to a paper of the index, best first, each with why (`because`: its
    cosine, the words it shares and, with sentence vectors, the best-matching sentences)."""
    check_id(paper_id)
    hits = ix.related(paper_id, k=k, filters=filters)
    return answers.related_answer(ix.paper(paper_id), hits)


@router.get("/api/papers/{paper_id:path}")
def paper(paper_id: str, ix: Index) -> dict:
    """A paper in full, with its topic."""
    check_id(paper_id)
    return answers.paper_answer(ix, paper_id)
