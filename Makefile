# keiyaku: every command a person needs. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
KEIYAKU := $(BIN)/keiyaku
SYSTEM_PACKAGES := chromium gettext poppler-utils qpdf openssl libnss3-tools strace postgresql redis-server softhsm2 faketime libreoffice-calc-nogui
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-sqlite test-postgres lint format bench install system-deps messages clean audit-verify

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON))"; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## make run: migrate, seed the demo organisation, print its logins and the root certificate to
## trust, start web + worker on http://$(ADDR) (keiyaku run); quiet unless VERBOSE=1
ADDR ?= 127.0.0.1:8000
run: install
	$(KEIYAKU) run --addr $(ADDR)$(if $(VERBOSE), --verbose)

## the Debian packages the tests use (installed only when missing); node and npm run the test
## OpenID provider (tests/login/oidc_provider), taken from Debian only when not on the PATH
system-deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

lint: install
	$(BIN)/ruff format --check keiyaku tests bench docs
	$(BIN)/ruff check keiyaku tests bench docs
	$(BIN)/mypy keiyaku

format: install
	$(BIN)/ruff format keiyaku tests bench docs
	$(BIN)/ruff check --fix keiyaku tests bench docs

## make test: lint, then the whole suite (browser tests included) on SQLite, then on PostgreSQL
test: install system-deps lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

## the whole suite on the embedded SQLite only
test-sqlite: install
	KEIYAKU_TEST_DATABASE=sqlite $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -q

## the whole suite on a private PostgreSQL cluster (tests/servers/postgres.py: initdb in a
## temporary folder, a Unix socket only, stopped at the end); `make system-deps` installs it.
## Tests that pytest-django keeps from every database ran in test-sqlite and are left out here
## (tests/conftest.py); KEIYAKU_TEST_EVERY_TEST=1 keeps them. The production cluster tests
## (tests/production_cluster/) run here only.
test-postgres: install
	$(BIN)/python -m tests.servers.postgres -- $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -q

## refresh the English catalogue after changing user-facing text (needs Debian's gettext)
messages: install
	$(KEIYAKU) makemessages -l en --ignore=tests --ignore=bench --ignore=var --ignore=docs --ignore=.venv
	$(KEIYAKU) compilemessages -l en

## check the audit log's hash chain and its archive files (R39); exit 1 names the first broken entry
audit-verify: install
	$(KEIYAKU) audit verify --archives

.PHONY: manual
## make manual: the staff manual and the counterparty guide (keiyaku/help): the browser tests that
## take their screenshots, run again to refresh them (keiyaku/help/static/help/shots, commit
## them), then both printed to PDF in var/manual/ (docs/manual/make_manual.py)
manual: install system-deps
	$(BIN)/python docs/manual/make_manual.py

.PHONY: backup
## make backup DEST=/srv/keiyaku-backups: a new backup generation there, the oldest rotated (R42)
backup: install
	@[ -n "$(DEST)" ] || { echo "usage: make backup DEST=/path/to/backups"; exit 2; }
	$(KEIYAKU) backup "$(DEST)"

.PHONY: rotate-master-key
## make rotate-master-key: re-seal under KEIYAKU_MASTER_KEY what a previous master key sealed
rotate-master-key: install
	$(KEIYAKU) rotate-master-key

## make bench: signing and ingest beside their floors, then the web and the queue workers on the
## production set-up (PostgreSQL, Redis, S3, gunicorn; bench/production.py), contract search over
## a million contracts on SQLite and PostgreSQL, API reads under 50 clients beside the ORM, and their
## memory through large contracts; docs/operations.md (Sizing) explains the figures
bench: install system-deps
	$(BIN)/python bench/sign.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/staff_list.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/worker.py --idle-seconds 300
	$(BIN)/python bench/renewal.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/export.py

clean:
	rm -rf $(VENV) var *.egg-info
