# Sourced by bench/bench-inner.sh, serving-inner.sh and declared-inner.sh: psql for the
# scripts, a ratio to 3 places, and the benchmark rows' ten features as columns and as a document.
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
features="f0, f1, f2, f3, f4, f5, f6, f7, f8, f9"
doc="jsonb_build_object('f0', f0, 'f1', f1, 'f2', f2, 'f3', f3, 'f4', f4, 'f5', f5, 'f6', f6, 'f7', f7, 'f8', f8, 'f9', f9)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
