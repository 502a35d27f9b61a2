"""Sources → artifact: the runs that write an index. ``build`` (a fresh version),
``add`` (update: the live version extended), ``refit``, embedding with reuse and the
cache (vectorize), the arXiv syncs (API, OAI-PMH, and the staging they share), the IVF
parts built on Ray, and what a run reports (report).

May import: the core modules, ingest, embedding, artifact and topics. Nothing imports
the pipeline but the CLI: the query side never imports the build side.
"""
