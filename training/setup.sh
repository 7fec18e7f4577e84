#!/usr/bin/env bash
# Creates the project's Python environment for training: .venv/ at the repository root with the
# pinned packages of training/requirements.txt. Idempotent and quick when nothing changed: a stamp
# in .venv/ records the sha256 of the requirements it was installed from, so pip runs only when
# the environment is new or the requirements changed.
#   PYTHON=python3.11 bash training/setup.sh    (default interpreter: python3, 3.10 or newer)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/training/requirements.txt"
stamp="$venv/.riskloop-requirements.sha256"
python="${PYTHON:-python3}"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "training/setup.sh: $python is missing or older than Python 3.10 (set PYTHON=...)" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "training/setup.sh: creating $venv" >&2
  "$python" -m venv "$venv"
fi
echo "training/setup.sh: installing training/requirements.txt" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
# A quick import proves the wheels work on this machine before the stamp says so.
"$venv/bin/python" -c 'import lightgbm, onnx, onnxmltools, onnxruntime, sklearn, numpy'
echo "$wanted" > "$stamp"
