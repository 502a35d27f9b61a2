"""Answers over HTTP: the FastAPI app (api), its endpoints (routes/, one router per
subject), shared request bounds and dependencies (deps), ASGI guards, the server process
(server) and the page's static files (web/).

May import: the core modules, embedding, the artifact and query.
"""
