# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench lint clean browser java

install: $(STAMP)

$(STAMP): requirements.txt requirements-engines.txt requirements-spark.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so the CPU build on this machine is taken instead of a CUDA one
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-engines.txt
	$(BIN)/pip install --quiet -r requirements-spark.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

test: $(STAMP) browser java
	$(BIN)/python -m pytest -q

# Java 17 for Spark in local mode (`botify analyze --engine spark` and its tests; Debian's package).
java:
	@if ! command -v java >/dev/null; then \
		echo "installing openjdk-17-jre-headless (apt-get)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			openjdk-17-jre-headless; \
	fi

# Headless Chromium and its driver for the dashboard's browser test (Debian's packages).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing chromium and chromium-driver (apt-get)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			chromium chromium-driver \
		|| echo "could not install chromium: the browser test will be skipped"; \
	fi

demo: $(STAMP)
	$(BIN)/botify experiment experiments/demo.toml $(if $(QUICK),--quick,)

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check botify sim tests bench

clean:
	rm -rf $(VENV) results
