#!/usr/bin/env bash
# Creates test/outside/.venv (git-ignored) with the pinned packages of test/outside/requirements.txt
# from PyPI: the Python producer the producer-contract integration test drives. Idempotent and quick
# when nothing changed (a stamp records the sha256 of the requirements it was installed from).
#   PYTHON=python3.11 bash test/outside/setup.sh    (default interpreter: python3, 3.10 or newer)
# Prints the venv's python path on stdout (logs go to stderr).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${RISKLOOP_OUTSIDE_VENV:-$here/.venv}"
requirements="$here/requirements.txt"
stamp="$venv/.riskloop-requirements.sha256"
python="${PYTHON:-python3}"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "$venv/bin/python"
  exit 0
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "test/outside/setup.sh: $python is missing or older than Python 3.10 (set PYTHON=...)" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "test/outside/setup.sh: creating $venv" >&2
  "$python" -m venv "$venv"
fi
echo "test/outside/setup.sh: installing test/outside/requirements.txt" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
# A quick import proves the wheels work on this machine before the stamp says so.
"$venv/bin/python" -c 'import confluent_kafka, fastavro; from confluent_kafka.schema_registry.avro import AvroSerializer' >&2
echo "$wanted" > "$stamp"
echo "$venv/bin/python"
