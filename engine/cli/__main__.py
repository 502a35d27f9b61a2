"""``python -m engine.cli``: the same command as ``paperscope``."""

from engine.cli.main import app

app()
