# Two commands do everything on a fresh machine:
#   make demo   install what is missing, then analyze a real sample video (timeline + HTML report + summary)
#   make test   install the test extras, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_VIDEO ?= /usr/share/doc/opencv-doc/examples/data/Megamind.avi
DEMO_OUT   ?= out/demo

.PHONY: demo test install install-test system lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

system:
	@scripts/install-system-packages.sh

install: $(BIN)/python system
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python system
	$(BIN)/pip install -q -e ".[dev]"

demo: install
	$(BIN)/vidlens info $(DEMO_VIDEO)
	$(BIN)/vidlens analyze $(DEMO_VIDEO) -o $(DEMO_OUT)
	$(BIN)/vidlens summarize $(DEMO_VIDEO) --ratio 0.3 -o $(DEMO_OUT)/summary.mp4 --preview $(DEMO_OUT)/preview.gif
	$(BIN)/vidlens index $(DEMO_VIDEO) $(dir $(DEMO_VIDEO))vtest.avi --fast --library $(DEMO_OUT)/library
	$(BIN)/vidlens search "people walking" --library $(DEMO_OUT)/library -n 3
	@echo "timeline: $(DEMO_OUT)/timeline.json"
	@echo "report:   $(DEMO_OUT)/report.html"

test: install-test
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: install-test
	$(BIN)/python bench/decode_speed.py
	$(BIN)/python bench/shots_accuracy.py

clean:
	rm -rf out .pytest_cache .ruff_cache
