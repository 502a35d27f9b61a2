# Sourced by scripts/demo and scripts/test: create .venv if missing and install the
# project into it. Safe to run again: pip skips what is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setting up .venv with $("$PY" --version)" >&2
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.paperscope-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  # torch first and pinned: the CPU wheel of 2.13.0 lies on this machine's disk;
  # letting a dependency pull "torch" unpinned would fetch a multi-GB CUDA build.
  python -m pip install --quiet "torch==2.13.0"
  python -m pip install --quiet -e ".[dev${EXTRAS:+,$EXTRAS}]"
  touch "$stamp"
fi
# Nothing may reach a model hub at run time.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
