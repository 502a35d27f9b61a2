"""``/api/health``: whether the index answers, which version, and how its last full
check went (no token needed)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from engine.serve.deps import Index

router = APIRouter(tags=["index"])


@router.get("/api/health")
def health(request: Request, ix: Index) -> dict:
    """Whether the index answers, and which version."""
    state = request.app.state
    counts = (ix.manifest.get("topics") or {}) if ix.has_topics() else {}
    return {
        "status": "ok",
        "name": state.live.path.name,
        "version": ix.manifest["version"],
        "papers": len(ix),
        "fine_topics": counts.get("fine_topics", 0),
        "coarse_topics": counts.get("coarse_topics", 0),
        "index_type": (ix.manifest.get("index") or {}).get("type"),
        "backend": ix.manifest["model"].get("backend"),
        "topics": ix.has_topics(),
        "token_required": state.token is not None,
        "uptime_s": round(time.time() - state.started, 1),
        # what ran before the server said it was listening, in ms per step (engine.serve.warmup)
        "warm_up_ms": getattr(state, "warm_up_ms", {}),
        # serve --verify-every: the last full check ({at, version, sound, problems}; null
        # when off), and the versions not used (damaged, or failed to open). Why is in
        # the server's log: the reasons name files, and health needs no token.
        "verified": state.live.verified,
        "rejected": sorted(state.live.rejected),
    }
