# The README's two commands. Both set everything up on a fresh Debian machine first.
#   make run   the portal on the embedded default at http://127.0.0.1:8000
#   make test  the whole suite against real PostgreSQL and Redis

PY := .venv/bin/python
# The suite's services; override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/portal
TEST_REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: run test setup bench messages

setup: .venv/.installed messages

# The pages' translations (docs/development.md, "Languages"), compiled for gettext.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))
messages: $(CATALOGUES)
locale/%.mo: locale/%.po
	msgfmt --check-format -o $@ $<

.venv/.installed: pyproject.toml scripts/setup scripts/system-packages.txt package.json package-lock.json
	scripts/setup

run: setup
	$(PY) manage.py migrate --noinput
	@echo "Ledger verifier key: $$($(PY) manage.py ledger_vkey)"
	@echo "Trust policy for judicial-verify (also: manage.py trust_policy):"
	@$(PY) manage.py trust_policy
	@scripts/dev-chain
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# The suite runs production settings (DATABASE_URL set) over plain HTTP, so it is not
# redirected to HTTPS; tests/portal/test_security_headers.py checks the redirect itself.
test: setup
	scripts/services
	DATABASE_URL=$(TEST_DATABASE_URL) \
	CELERY_BROKER_URL=$(TEST_REDIS_URL)/0 \
	CACHE_URL=$(TEST_REDIS_URL)/1 \
	SECRET_KEY=test-only-secret \
	PORTAL_DATA_DIR=$(CURDIR)/.test-data \
	LEDGER_GENERATE_KEY=1 CERTIFICATE_DEV_CA=1 \
	STATIC_MANIFEST=0 WHITENOISE_USE_FINDERS=1 SECURE_SSL_REDIRECT=0 \
	$(PY) -m pytest $(PYTEST_ARGS)

# bench: the scenarios of bench/ (docs/benchmarks.md). bench/ledger.py gets BENCH_ARGS, the
# others its --quick plus their own: COURT_BENCH_ARGS, COURT_WITNESS_BENCH_ARGS (the court
# API's open loop again, with 3 witnesses), VERIFY_BENCH_ARGS, CERTIFICATE_BENCH_ARGS,
# WITNESS_BENCH_ARGS, ANCHORS_BENCH_ARGS, BROWSER_HASHING_BENCH_ARGS. Each drops and
# recreates its own database, $(TEST_DATABASE_URL)_bench_<scenario> (and the witnesses',
# _bench_court_w1 to _w3).
BENCH_ENV = BENCH_DATABASE_URL=$(TEST_DATABASE_URL)_bench BENCH_REDIS_URL=$(TEST_REDIS_URL)/14 \
	SECRET_KEY=bench PORTAL_DATA_DIR=$(CURDIR)/bench/.data
bench: setup
	scripts/services
	$(BENCH_ENV) $(PY) bench/ledger.py $(BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/court_api.py $(filter --quick,$(BENCH_ARGS)) $(COURT_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/court_api.py --runs open --witnesses 3 $(filter --quick,$(BENCH_ARGS)) \
		$(COURT_WITNESS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/verify.py $(filter --quick,$(BENCH_ARGS)) $(VERIFY_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/certificate.py $(filter --quick,$(BENCH_ARGS)) $(CERTIFICATE_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/sql_paths.py $(filter --quick,$(BENCH_ARGS))
	$(BENCH_ENV) $(PY) bench/witness.py $(filter --quick,$(BENCH_ARGS)) $(WITNESS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/anchors.py $(filter --quick,$(BENCH_ARGS)) $(ANCHORS_BENCH_ARGS)
	$(BENCH_ENV) $(PY) bench/browser_hashing.py $(filter --quick,$(BENCH_ARGS)) \
		$(BROWSER_HASHING_BENCH_ARGS)
