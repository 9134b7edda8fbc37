# kcloud_shopify — PGXS build.
#
# The extension script is assembled from sql/install/*.sql (one file per
# area, applied in name order) into sql/kcloud_shopify--$(EXTVERSION).sql.
# Tests: run `bash test/run-all` (installs what is missing, runs every suite
# as the postgres user and prints "N passed, N failed").

EXTENSION  = kcloud_shopify
EXTVERSION = 0.1.0

MODULE_big = kcloud_shopify
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# pg_regress suites (sql/NAME.sql -> expected/NAME.out), listed explicitly.
REGRESS      = install generator capture queue ops ops_links orders refunds webhook sync_connect entities_preview
REGRESS_OPTS = --temp-config=test/kcloud_shopify.conf --temp-instance=./tmp_check


# isolation suites (test/isolation/specs/NAME.spec)
ISOLATION      = capture_pos_claim capture_claim_ack capture_in_flight ops_retry ingest_concurrent
ISOLATION_OPTS = --inputdir=test/isolation --temp-config=test/kcloud_shopify.conf \
                 --temp-instance=./tmp_check_iso

PG_CONFIG ?= pg_config
PG_CPPFLAGS += -Isrc $(shell pkg-config --cflags libcurl jansson)
SHLIB_LINK  += $(shell pkg-config --libs libcurl jansson)

EXTRA_CLEAN = $(DATA_built) results regression.diffs regression.out output_iso tmp_check tmp_check_iso

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

.PHONY: test demo
test:
	bash test/run-all
demo:
	bash test/demo/run

# Separate targets so test/run-all can count and report each suite.
.PHONY: installcheck-regress installcheck-isolation
installcheck-regress: submake $(REGRESS_PREP)
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
installcheck-isolation: submake
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
