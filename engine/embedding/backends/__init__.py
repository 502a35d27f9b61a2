"""Embedding backends: each turns texts into unit-norm float32 vectors behind the
``Embedder`` interface (see ``engine.embed``). Heavy libraries load only inside them."""
