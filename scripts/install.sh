#!/usr/bin/env bash
# Make .venv/ with the tagger installed (python3 >= 3.11).
# Arguments name pip extras (gui, train, test); --editable installs the working tree in place.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
editable=()
extras=()
for arg in "$@"; do
    if [ "$arg" = --editable ]; then editable=(-e); else extras+=("$arg"); fi
done
# pip builds in the tree: a build/ left by an older checkout would ship the files it had then.
rm -rf build
spec=.
[ ${#extras[@]} -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
.venv/bin/python -m pip install -q "${editable[@]}" "$spec"
