#!/usr/bin/env bash
# Make .venv/ with the tagger installed (python3 >= 3.11). Extra arguments name pip extras: gui, train, test.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras=$(IFS=,; echo "$*")
.venv/bin/python -m pip install -q ".${extras:+[$extras]}"
