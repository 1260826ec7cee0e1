# billd — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
TEST_FLAGS ?= -count=1 -timeout 15m

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Serve billd on http://127.0.0.1:8080 (GraphiQL at /), on an SQLite file billd.db, with the dev admin key DEV_KEY.
	@echo "billd: API key for this dev server (send Authorization: Bearer <key>): $(DEV_KEY)"
	BILLD_BOOTSTRAP_ADMIN_KEY=$${BILLD_BOOTSTRAP_ADMIN_KEY:-$(DEV_KEY)} $(GO) run ./cmd/billd serve

# DEV_KEY becomes the first ADMIN key of a database that has none (make run). It is
# public: never bootstrap a production database with it.
DEV_KEY ?= billd_devadmin0000_local-development-admin-key-0000

DEMO_DB ?= demo.db
DEMO_ACCOUNTS ?= 2000

.PHONY: demo
demo: ## Serve billd on demo.db filled with demo data (DEMO_ACCOUNTS accounts); runs are throttled so they can be watched.
	$(GO) build -o bin/billd ./cmd/billd
	bin/billd demo -accounts $(DEMO_ACCOUNTS) -db $(DEMO_DB) -log-level warn
	@echo
	@echo "  Dashboard:  http://127.0.0.1:8080/dashboard/   (API key: $(DEV_KEY))"
	@echo "  GraphiQL:   http://127.0.0.1:8080/"
	@echo "  From another terminal, bill this month and watch it:"
	@echo "    BILLD_API_KEY=$(DEV_KEY) bin/billd bill -period-start $$(date +%Y-%m-01) -period-end $$(date -d "$$(date +%Y-%m-01) +1 month -1 day" +%Y-%m-%d)"
	@echo
	BILLD_BOOTSTRAP_ADMIN_KEY=$${BILLD_BOOTSTRAP_ADMIN_KEY:-$(DEV_KEY)} BILLD_BATCH_SIZE=$${BILLD_BATCH_SIZE:-25} \
		BILLD_BATCH_PAUSE=$${BILLD_BATCH_PAUSE:-100ms} bin/billd serve -db $(DEMO_DB)

.PHONY: build
build: ## Build the billd binary into ./bin/billd.
	$(GO) build -o bin/billd ./cmd/billd

# make test runs the suite on SQLite, and on PostgreSQL too: with BILLD_TEST_POSTGRES_URL
# when set, else on a throwaway cluster when PostgreSQL is installed (.ci/pg.sh).
.PHONY: test
test: ## Run all tests on SQLite, and on PostgreSQL (BILLD_TEST_POSTGRES_URL, or a throwaway cluster if PostgreSQL is installed).
	@if [ -z "$$BILLD_TEST_POSTGRES_URL" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		bash -c '. .ci/pg.sh && $(GO) test $(TEST_FLAGS) $(PKGS)'; \
	else \
		[ -n "$$BILLD_TEST_POSTGRES_URL" ] || echo "make test: PostgreSQL not installed and BILLD_TEST_POSTGRES_URL not set: SQLite only" >&2; \
		$(GO) test $(TEST_FLAGS) $(PKGS); \
	fi

.PHONY: vet
vet: ## Run go vet and check formatting.
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: generate
generate: ## Regenerate the Ent client and the GraphQL server from ent/schema and schema.graphql.
	$(GO) generate ./...

.PHONY: generate-check
generate-check: ## Fail if generated code is stale (regenerates, then compares with git).
	$(GO) generate ./...
	@if [ -n "$$(git status --porcelain -- ent graph gqlgen.yml schema.graphql)" ]; then \
		echo "generated code is stale: run 'make generate' and commit the result"; \
		git status --porcelain -- ent graph; git diff --stat -- ent graph; exit 1; fi

.PHONY: check
check: vet generate-check test ## Everything CI checks: vet, formatting, generated code up to date, tests.

.PHONY: migration
migration: ## Write a new versioned migration from ent/schema changes: make migration NAME=add_x
	@[ -n "$(NAME)" ] || { echo "usage: make migration NAME=short_name"; exit 2; }
	bash -c '. .ci/pg.sh && $(GO) run ./cmd/migrategen -name $(NAME)'

# make bench prints the table and writes docs/benchmarks.md. BENCH_FLAGS tunes it,
# e.g. BENCH_FLAGS="-accounts 1000000 -scale 50000,200000" for the 1M run by hand.
BENCH_FLAGS ?=
.PHONY: bench
bench: ## Measure bill-run throughput against the database's limit, API latency and fan-out (writes docs/benchmarks.md).
	$(GO) build -o bin/bench ./cmd/bench
	@if [ -z "$$BILLD_BENCH_POSTGRES_URL$$BILLD_TEST_POSTGRES_URL" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		bash -c '. .ci/pg.sh && bin/bench $(BENCH_FLAGS)'; \
	else \
		bin/bench $(BENCH_FLAGS); \
	fi

.PHONY: clean
clean: ## Remove built binaries and the default SQLite database.
	rm -rf bin billd.db billd.db-shm billd.db-wal demo.db demo.db-shm demo.db-wal
