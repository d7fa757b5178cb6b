# fraud_score: PGXS build.  See README.md for the two commands a newcomer runs.

EXTENSION = fraud_score
MODULE_big = fraud_score
OBJS = \
	src/fraud_score.o \
	src/gucs.o \
	src/xgbload.o \
	src/guard.o \
	src/modeldoc.o \
	src/forest.o \
	src/explain.o \
	src/lgbmforest.o \
	src/lgbm.o \
	src/model.o \
	src/categories.o \
	src/features.o \
	src/featurefn.o \
	src/compile.o \
	src/jsonbutil.o \
	src/catalog.o \
	src/scoring.o \
	src/reasons.o \
	src/score.o \
	src/trigger.o \
	src/stats.o \
	src/shadow.o \
	src/metrics.o \
	src/calibration.o \
	src/history.o \
	src/drift.o \
	src/backtest.o \
	src/train.o \
	src/vdef.o \
	src/buckets.o \
	src/vset.o \
	src/vcache.o \
	src/vread.o \
	src/vfeatures.o \
	src/vbackfill.o \
	src/vverify.o \
	src/velocity_sql.o

DATA = fraud_score--0.1.sql fraud_score--0.1--0.2.sql fraud_score--0.2--0.3.sql fraud_score--0.3--0.4.sql fraud_score--0.4--0.5.sql fraud_score--0.5--0.6.sql fraud_score--0.6--0.7.sql fraud_score--0.7--0.8.sql

REGRESS = install load score decide trigger on_error stats shadow live recalibrate drift backtest parallel read_only push features feature_calls velocity velocity_errors inputs bad_inputs encoding model_formats categorical models_wild lightgbm lightgbm_wild explain train engine privileges dump_restore upgrade
ISOLATION = invalidation velocity_sessions velocity_cache stats_sessions shadow_sessions recalibrate_sessions drift_backtest_sessions

PG_CONFIG ?= pg_config

# Warnings are errors only when asked for: FRAUD_SCORE_WERROR=1 in the
# environment or on the make command line (.ci/run sets it for every build;
# fuzz/, tools/, bench/ and test/tools/ read it too).  Packagers build with
# newer compilers, whose new warnings must not break their builds.
FRAUD_SCORE_WERROR ?=
WERROR_FLAG = $(if $(filter 1,$(FRAUD_SCORE_WERROR)),-Werror)
PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra $(WERROR_FLAG) -Wno-unused-parameter -Wno-missing-field-initializers

# Only the SQL-callable functions are exported (FRAUD_SQL_FUNCTION in
# src/fraud_score.h).  PostgreSQL 16 and later do this for every module;
# for 15, PGDLLEXPORT is given its meaning here.
PG_CFLAGS += -fvisibility=hidden
PG_MAJOR := $(shell $(PG_CONFIG) --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
ifeq ($(shell test "$(PG_MAJOR)" -lt 16 && echo before16),before16)
PG_CPPFLAGS += -D'PGDLLEXPORT=__attribute__((visibility("default")))'
endif

# No JIT bitcode: it would need clang on every build machine for no gain here.
override with_llvm = no
# Rebuild what includes a changed header.
override autodepend = yes

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# src/xgb.c alone, linked with XGBoost, as a second library that backends
# load only when they need XGBoost (see src/xgb.h).
XGB_LIBRARY = fraud_score_xgboost$(DLSUFFIX)
all: $(XGB_LIBRARY)
$(XGB_LIBRARY): src/xgb.o
	$(CC) $(CFLAGS) -shared -o $@ $< $(LDFLAGS) $(LDFLAGS_SL) -lxgboost -lgomp
install: install-xgb-library
.PHONY: install-xgb-library
install-xgb-library: $(XGB_LIBRARY) installdirs
	$(INSTALL_SHLIB) $(XGB_LIBRARY) '$(DESTDIR)$(pkglibdir)/'
uninstall: uninstall-xgb-library
.PHONY: uninstall-xgb-library
uninstall-xgb-library:
	rm -f '$(DESTDIR)$(pkglibdir)/$(XGB_LIBRARY)'
EXTRA_CLEAN = src/xgb.o $(XGB_LIBRARY)

# The README's two commands.
.PHONY: demo test model evaluate bench fuzz
demo: all
	demo/run

test:
	scripts/test

# Reference models and their evaluation (need ../shared/data; see models/README.md).
model:
	models/build.sh

bench:
	bench/bench.sh --results

evaluate:
	models/evaluate.sh

# libFuzzer targets for the model loader, the jsonb feature mapping and stored
# forests, each run for FUZZ_SECONDS (clang-14, libclang-rt-14-dev; see
# fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

# The regression and isolation suites against a copy built with ASan + UBSan,
# on private clusters of a PostgreSQL built with --enable-cassert (built once
# and cached by scripts/build-postgres-cassert); never touches src/ or the
# installed extension (scripts/check-sanitizers, see DEVELOPERS.md).  E.g. CHECK_ASAN_ARGS="--config preload".
.PHONY: check-asan
check-asan:
	scripts/check-sanitizers $(CHECK_ASAN_ARGS)
