# The two commands a newcomer needs:
#   make demo   install what is missing, start the private PostGIS, load the demo city, serve it
#   make test   the same set-up, then formatting, lints and every test
#
# Build artefacts go to $CARGO_TARGET_DIR (default: ~/.cache/stadtkarte/target, outside the clone,
# so a fresh clone reuses earlier builds).

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/stadtkarte/target
export CARGO_BUILD_JOBS ?= 2
PG_PORT ?= 5439
export PG_PORT
DB_URL := postgresql://stadtkarte@127.0.0.1:$(PG_PORT)/stadtkarte
# The server runs as a role of least privilege; migrations and tools as the owner (DB_URL).
WEB_URL := postgresql://stadtkarte_web@127.0.0.1:$(PG_PORT)/stadtkarte
SCALE ?= 1
BIN := $(CARGO_TARGET_DIR)/release/stadtkarte
# The demo's aerial-image pyramids live in the clone's private folder.
export STADTKARTE_IMAGERY__DIR ?= $(CURDIR)/.local/imagery

.PHONY: demo test setup lint db-stop

setup:
	@scripts/env.sh
	@command -v cargo >/dev/null || { echo "cargo is missing: install Rust (rustup) first" >&2; exit 1; }

demo: setup
	cargo build --release --locked --bin stadtkarte
	STADTKARTE_DATABASE__URL=$(DB_URL) $(BIN) demo --scale $(SCALE)
	@echo
	@echo "Stadtkarte läuft / is running:"
	@echo "  Startseite   http://127.0.0.1:8080/"
	@echo "  Luftbilder   http://127.0.0.1:8080/imagery (WMTS: http://127.0.0.1:8080/wmts/1.0.0/WMTSCapabilities.xml)"
	@echo "  Health       http://127.0.0.1:8080/health"
	@echo "  Ready        http://127.0.0.1:8080/ready"
	@echo "  Metrics      http://127.0.0.1:8080/metrics"
	@echo "  Verwaltung   http://127.0.0.1:8080/admin (Konten und Passwort: siehe oben / accounts and password: see above)"
	@echo "  Datenbank    $(DB_URL)"
	@echo "Beenden mit Strg-C / stop with Ctrl-C"
	# Two malloc arenas: photo processing on blocking threads otherwise leaves ~60 MB of freed
	# memory in per-thread arenas (bench/maengel.py: 334 → 270 MB peak at 8 uploads).
	MALLOC_ARENA_MAX=2 STADTKARTE_DATABASE__URL=$(WEB_URL) STADTKARTE_DATABASE__MIGRATION_URL=$(DB_URL) exec $(BIN) serve

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test: setup lint
	cargo build --workspace --bins --locked
	scripts/run-tests.sh

db-stop:
	@scripts/env.sh stop
