"""Sources → papers: every input reader (arXiv digest listings, corpus and metadata
JSON lines, Atom feeds, OAI-PMH pages) and the polite arXiv clients (API, OAI-PMH).
Readers yield papers and line-numbered problems; nothing here knows about vectors or
indexes.

May import: the core modules only (errors, papers, text, fsutil, progress).
"""
