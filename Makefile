# The two commands in the README: `make demo` and `make test`. Both set everything up first.
.PHONY: setup demo test

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/signpost demo

test: setup
	bash scripts/test.sh
