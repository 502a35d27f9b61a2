"""The reader's own state, kept beside an index and never inside one: libraries of liked
and unliked papers (:mod:`engine.library.store`)."""
