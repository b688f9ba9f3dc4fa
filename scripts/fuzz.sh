#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in build-fuzz, replays every seed
# and regression input, then fuzzes each target for a bounded time:
#   scripts/fuzz.sh [SECONDS-PER-TARGET [TARGET...]]     default 60 s, every target
# Each target fuzzes a scratch copy of fuzz/corpus/<target> and fuzz/regressions/<target> in
# build-fuzz/run/<target>/ (the repository's corpus is never written). Exits non-zero on any
# crash, leak, timeout (-timeout=10) or out-of-memory (-rss_limit_mb=2048), printing the
# reproducer; copy it into fuzz/regressions/<target>/ once the bug is fixed. JOBS=N targets run
# at a time (default 2). Installs nothing itself except through scripts/install-deps.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_decode fuzz_session fuzz_server_session fuzz_config fuzz_password_file fuzz_acl fuzz_serial)
fi
jobs=${JOBS:-2}
build="build-fuzz"

scripts/install-deps.sh --test
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DEDGEMQ_BUILD_FUZZERS=ON -DEDGEMQ_BUILD_TESTS=OFF -DEDGEMQ_BUILD_BENCH=OFF >/dev/null
nice -n 10 ninja -C "$build" -j"$jobs" fuzzers

# Every committed input once: a regression that comes back fails here, before any fuzzing.
ctest --test-dir "$build" -L fuzz --output-on-failure -j"$jobs"

run_dir=$root/$build/run
rm -rf "$run_dir"

# fuzz_one TARGET: fuzzes one target; its exit status says whether it found anything.
fuzz_one() {
    local t=$1 dir=$run_dir/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    for src in fuzz/corpus/$t fuzz/regressions/$t; do
        if [ -d "$src" ]; then
            find "$src" -maxdepth 1 -type f ! -name 'README*' -exec cp {} "$dir/corpus/" \;
        fi
    done
    if [ "$t" = fuzz_config ]; then
        cp config/edgemq.toml "$dir/corpus/edgemq.toml.current" # the file as it is now
    fi
    local dict=()
    if [ -f "fuzz/$t.dict" ]; then
        dict=(-dict="$root/fuzz/$t.dict")
    fi
    local rc=0
    (cd "$dir" && "$root/$build/fuzz/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" corpus >"$dir/log" 2>&1) || rc=$?
    local found
    found=$(find "$dir/artifacts" -type f | head -n 1)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        echo "FAIL $t (exit $rc): log $dir/log"
        grep -E 'ERROR|SUMMARY|fuzz_[a-z_]+: ' "$dir/log" | head -n 20 || true
        if [ -n "$found" ]; then
            echo "  reproducer: $found"
            echo "  replay:     $build/fuzz/$t $found"
        fi
        return 1
    fi
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    local files
    files=$(find "$dir/corpus" -type f | wc -l)
    echo "ok   $t: ${runs:-?} runs in ${seconds}s, corpus $files files"
}

failed=0
pids=()
wait_batch() {
    local i
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed=1
    done
    pids=()
}
for t in "${targets[@]}"; do
    fuzz_one "$t" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait_batch
    fi
done
wait_batch

if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: findings above; the inputs stay in $run_dir" >&2
    exit 1
fi
echo "fuzz.sh: no findings (${seconds}s per target)"
