#!/usr/bin/env bash
# Run every differential fuzz target for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 30 s, every target)
#
# Needs the compiled modules built (in place or installed) and atheris
# (pip install atheris).  The corpus grows in $FUZZ_WORK (default
# /tmp/wsfast-fuzz/corpus/<target>), seeded from the tests by make_corpus.py;
# keep that directory between runs to fuzz on from where the last run stopped.
# A finding is written to $FUZZ_WORK/artifacts/<target>-crash-* and the script
# exits 1; replay one with  python fuzz/<target>.py --replay FILE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(fuzz_mask fuzz_utf8 fuzz_parse_header fuzz_decoder fuzz_inflate fuzz_api)
fi
WORK=${FUZZ_WORK:-/tmp/wsfast-fuzz}
PY=${PYTHON:-python}

mkdir -p "$WORK/artifacts"
"$PY" "$HERE/make_corpus.py" "$WORK/seeds" >/dev/null

failed=()
for target in "${TARGETS[@]}"; do
    mkdir -p "$WORK/corpus/$target"
    echo "== $target: ${SECONDS_PER_TARGET}s"
    # The first directory is where libFuzzer adds new inputs; the seeds stay as made.
    if ! "$PY" "$HERE/$target.py" \
        -max_total_time="$SECONDS_PER_TARGET" \
        -max_len=4096 \
        -timeout=20 \
        -rss_limit_mb=3072 \
        -print_final_stats=1 \
        -artifact_prefix="$WORK/artifacts/$target-" \
        "$WORK/corpus/$target" "$WORK/seeds/$target" >"$WORK/$target.log" 2>&1; then
        failed+=("$target")
        tail -n 40 "$WORK/$target.log"
    else
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$WORK/$target.log" | tr '\n' ' ' || true
        echo
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "FUZZ FINDINGS in: ${failed[*]} (inputs in $WORK/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no findings"
