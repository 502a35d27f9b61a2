"""The ``paperscope`` command, thin over the pipeline and the query facade: the app
and shared options (common), one module per group of commands, and ``python -m
engine.cli``.

May import: anything in the engine; nothing in the engine imports it.
"""
