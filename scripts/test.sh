#!/usr/bin/env bash
# scripts/test.sh: install what is missing, build, and run every test twice:
# in a plain build and in an AddressSanitizer + UBSan build; in each, the
# integration suites run a second time with server.mode "base".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
swx_install_packages || exit 1

status=0
dirs=()
build_failed=0   # a build that fails counts as one failed test below
run_suite() {
    local dir="$1"
    shift
    swx_build "$dir" "$@" || { status=1; build_failed=$((build_failed + 1)); return; }
    dirs+=("$dir")
    echo "== tests in $dir"
    meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
    # The same servers in base mode (SWX_TEST_MODE, swx_harness.py); unit
    # tests do not start a server. Its own log, counted below.
    echo "== integration tests in $dir, base mode"
    SWX_TEST_MODE=base meson test -C "$dir" --suite integration \
        --logbase base --print-errorlogs --num-processes 3 || status=1
}

run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -Db_sanitize=address,undefined

# The protocol parsers' fuzz targets (clang's libFuzzer), each for a bounded
# time; the rest of the suite already ran twice above.
if CC=clang swx_build build-fuzz -Dfuzz=true; then
    dirs+=("build-fuzz")
    echo "== fuzzing in build-fuzz"
    meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1
else
    status=1
    build_failed=$((build_failed + 1))
fi

python3 - "$build_failed" "${dirs[@]}" <<'PY'
import json, os, sys
passed = skipped = 0
failed = int(sys.argv.pop(1))
logs = []
for d in sys.argv[1:]:
    logs.append(d + "/meson-logs/testlog.json")
    if os.path.basename(d) != "build-fuzz":
        logs.append(d + "/meson-logs/base.json")
for log in logs:
    try:
        lines = open(log).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
[ $? -ne 0 ] && status=1
exit $status
