"""Artifact → answers: :class:`~engine.query.facade.PaperIndex` (the public Python
API), ranking (nearest, related, hits), filters, recommendations, the live index that
follows new versions, the JSON shapes shared by the CLI and the HTTP API (answers), and
the pictures of the topic map (maps).

May import: the core modules, embedding (to embed a query) and the artifact.
"""
