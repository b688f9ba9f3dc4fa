#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds edgemq and its tests with a sanitizer (clang, RelWithDebInfo) and runs the suites:
#   scripts/sanitize.sh asan   ASan + UBSan in build-asan: the unit, conformance and integration
#                              suites (not the package, package_arm64 and dashboard tests)
#   scripts/sanitize.sh tsan   TSan in build-tsan: the conformance and integration suites, whose
#                              broker runs in-process on its I/O threads (one per core) with the
#                              clients, the admin server, serial devices and bridges on threads
#                              of their own (all of them: under TSan they take 30 s on 2 cores)
# Any sanitizer report fails the test it happens in (halt_on_error, and UB does not recover).
# Extra arguments go to ctest (e.g. -R 'takes over'). JOBS=N parallel jobs (default 2).
# Installs nothing itself except through scripts/install-deps.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-}
shift || true
jobs=${JOBS:-2}

case "$kind" in
asan)
    build="build-asan"
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    # clang 14 cannot compile coroutines with -fsanitize=function ("Cannot represent a
    # difference across sections"); it only checks calls through mistyped function pointers.
    flags+=" -fno-sanitize=function"
    link="-fsanitize=address,undefined"
    targets=(edgemq edgemq_unit_tests edgemq_conformance_tests edgemq_integration_tests)
    asan="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1"
    export ASAN_OPTIONS="$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    ;;
tsan)
    build="build-tsan"
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    link="-fsanitize=thread"
    targets=(edgemq edgemq_conformance_tests edgemq_integration_tests)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    ;;
*)
    sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

scripts/install-deps.sh --test
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$link" \
    -DEDGEMQ_BUILD_TESTS=ON -DEDGEMQ_BUILD_BENCH=OFF >/dev/null
nice -n 10 ninja -C "$build" -j"$jobs" "${targets[@]}"

ctest_args=(--test-dir "$build" --output-on-failure --timeout 600 -j"$jobs")
if [ "$kind" = asan ]; then
    ctest "${ctest_args[@]}" -L 'unit|conformance|integration' -LE 'package|dashboard' "$@"
else
    ctest "${ctest_args[@]}" -L 'conformance|integration' -LE 'package|dashboard' "$@"
fi
