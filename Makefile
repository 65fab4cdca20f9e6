# The two commands of the README. Everything else is `pguard` (see `pguard --help`).
.PHONY: run test bench

run:  ## install and run the service (embedded PostgreSQL with the demo, unless DATABASE_URL is set)
	scripts/run

test:  ## install and run every check: lint, types, layering, migrations, tests on two servers
	scripts/test

bench:  ## install and run every benchmark at its defaults (prints figures; fails only if a check fails)
	scripts/bootstrap --dev
	.venv/bin/python bench/ledger.py
	.venv/bin/python bench/api_load.py
	.venv/bin/python bench/rating_speed.py
	.venv/bin/python bench/card_transfer.py
	.venv/bin/python bench/resolution_pack.py
