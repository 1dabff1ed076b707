#!/usr/bin/env bash
# Install the Autobahn|Testsuite (wstest) into compliance/.venv27 (docs/compliance.md).
#
# Idempotent: a venv whose stamp matches requirements27.txt and whose wstest
# runs is left alone.  Needs Python 2.7 (pyenv's 2.7.18, or WSFAST_PY27=/path)
# and a Python 3 to run the last virtualenv line that makes 2.7 venvs (below).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv27"
tools="$here/.venv-tools"
reqs="$here/requirements27.txt"
stamp="$venv/.wsfast-stamp"

find_py27() {
    if [[ -n "${WSFAST_PY27:-}" ]]; then echo "$WSFAST_PY27"; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        local root; root="$(pyenv root)"
        if [[ -x "$root/versions/2.7.18/bin/python" ]]; then echo "$root/versions/2.7.18/bin/python"; return; fi
    fi
    if [[ -x "$HOME/.pyenv/versions/2.7.18/bin/python" ]]; then echo "$HOME/.pyenv/versions/2.7.18/bin/python"; return; fi
    if command -v python2.7 >/dev/null 2>&1; then command -v python2.7; return; fi
    echo "compliance/install.sh: no Python 2.7 found (install pyenv's 2.7.18 or set WSFAST_PY27)" >&2
    exit 2
}

want="$(sha256sum "$reqs" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$venv/bin/wstest" --help >/dev/null 2>&1; then
    echo "compliance: wstest already installed in $venv"
    exit 0
fi

py27="$(find_py27)"
py3="${PYTHON3:-python3}"

if [[ ! -x "$tools/bin/virtualenv" ]]; then
    "$py3" -m venv "$tools"
    "$tools/bin/python" -m pip install -q 'virtualenv<20.22'
fi

rm -rf "$venv"
"$tools/bin/virtualenv" -q -p "$py27" "$venv"
# pip's 2.7 deprecation banner is noise here.
export PYTHONWARNINGS=ignore
"$venv/bin/python" -m pip install -q --no-deps --no-python-version-warning -r "$reqs"
"$venv/bin/wstest" --help >/dev/null
echo "$want" > "$stamp"
echo "compliance: wstest installed in $venv ($("$venv/bin/python" -c 'import autobahntestsuite; print(autobahntestsuite.__version__)'))"
