#!/usr/bin/env bash
# Install everything the tests need (system packages, .venv with the test extra) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/install.sh --editable test
status=0
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@" || status=$?
# pytest exits 5 when it collected no tests: that is a broken suite, not a pass.
[ "$status" -eq 5 ] && echo "no tests were collected" >&2 && exit 1
exit "$status"
