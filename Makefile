.PHONY: demo test setup lint
demo:  ## install, import the demo library, embed it, open a campaign, serve on :8000
	scripts/demo.sh
test:  ## install, start PostgreSQL + Redis on loopback, run unit, browser and integration tests
	scripts/test.sh
setup:
	scripts/setup.sh
lint:
	.venv/bin/ruff check .
