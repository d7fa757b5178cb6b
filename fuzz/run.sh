#!/usr/bin/env bash
# Run one fuzz target for a bounded time and print what it did.
#
#   fuzz/run.sh model|features|forest|lgbm SECONDS
#
# The corpus grows in out/corpus/TARGET across runs (seeds: out/seeds/TARGET,
# made by "make seeds"); crash, leak, timeout and out-of-memory inputs land in
# out/artifacts/TARGET/, the log in out/logs/TARGET.log.  Exits non-zero on any
# crash, leak, sanitizer report, timeout (an input running past -timeout) or
# memory limit, and when libFuzzer itself fails.
set -uo pipefail
cd "$(dirname "$0")"

target=${1:?usage: run.sh model|features|forest|lgbm SECONDS}
seconds=${2:-60}
bin=build/fuzz_$target
corpus=out/corpus/$target
seeds=out/seeds/$target
artifacts=out/artifacts/$target
log=out/logs/$target.log

case $target in
	model) options=(-max_len=1048576 -dict=model.dict) ;;
	features) options=(-max_len=4096) ;;
	forest) options=(-max_len=262144) ;;
	lgbm) options=(-max_len=65536) ;;
	*) echo "run.sh: unknown target $target" >&2; exit 2 ;;
esac
[ -x "$bin" ] || { echo "run.sh: $bin is not built (make -C fuzz)" >&2; exit 2; }
mkdir -p "$corpus" "$seeds" "$artifacts" out/logs

# Readable stack traces when llvm-symbolizer is there (Debian: llvm-14).
for s in llvm-symbolizer-14 llvm-symbolizer; do
	if command -v "$s" >/dev/null; then
		export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}
		break
	fi
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

before=$(find "$artifacts" -type f | wc -l)
echo "== fuzz_$target: ${seconds}s (log: fuzz/$log)${FUZZ_KNOWN_BUGS:+; tolerating known bugs: $FUZZ_KNOWN_BUGS}"
"$bin" "${options[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1
status=$?

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
size=$(find "$corpus" -type f | wc -l)
crashes=$(($(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l) - before))
[ "$crashes" -ge 0 ] || crashes=0

echo "fuzz_$target: executions ${execs:-?} (${rate:-?}/s), corpus ${size} inputs, crashes ${crashes}"
if [ "$crashes" -ne 0 ] || [ "$status" -ne 0 ]; then
	echo "fuzz_$target: FAILED (libFuzzer exit status $status); from fuzz/$log:"
	grep -E 'ERROR|CHECK FAILED|SUMMARY|Test unit written|runtime error|==[0-9]+==' "$log" | head -20
	echo "reproduce: make -C fuzz repro TARGET=$target INPUT=<file above>"
	exit 1
fi
