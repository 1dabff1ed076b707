#!/usr/bin/env bash
# Each supported library's own test suite, unpatched and with wsfast.patch
# installed (per wsfast implementation); exits non-zero if any patched run
# differs from the unpatched one.  Options go to compliance/patch/suites.py
# (--impl python,cython  --only wsproto,...  --no-install).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" compliance/patch/suites.py "$@"
