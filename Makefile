# fraud_score: PGXS build.  See README.md for the two commands a newcomer runs.

EXTENSION = fraud_score
MODULE_big = fraud_score
OBJS = \
	src/fraud_score.o \
	src/modeldoc.o \
	src/model.o \
	src/xgb.o \
	src/catalog.o \
	src/features.o \
	src/score.o \
	src/trigger.o \
	src/metrics.o \
	src/stats.o \
	src/train.o \
	src/forest.o

DATA = fraud_score--0.1.sql fraud_score--0.1--0.2.sql fraud_score--0.2--0.3.sql

REGRESS = install load score decide trigger on_error features inputs bad_inputs train engine privileges dump_restore upgrade
ISOLATION = invalidation

PG_CONFIG ?= pg_config

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lxgboost -lgomp

# No JIT bitcode: it would need clang on every build machine for no gain here.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The README's two commands.
.PHONY: demo test model evaluate bench
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
