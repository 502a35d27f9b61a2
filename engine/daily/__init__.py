"""The daily loop over an index and a reader's libraries: the feed of new papers, the
digest, Atom feeds and exports (BibTeX, CSL-JSON, CSV)."""
