# audiokit — `make run` and `make test` work on a fresh machine with Python 3.10+.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
AUDIOKIT := $(VENV)/bin/audiokit
STAMP := $(VENV)/.installed
OUT := out
JOBS ?=

.PHONY: install run test lint typecheck bench sample-data clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(STAMP)  ## create .venv with audiokit, every extra and the dev tools (no-op when up to date)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[transcribe,dask,dev]'
	touch $(STAMP)

run: install  ## run the main job on sample_data/ into out/ (again: only the new work)
	mkdir -p $(OUT)
	$(AUDIOKIT) inspect sample_data -o $(OUT)/inspect.parquet --update --prune
	$(AUDIOKIT) inspect sample_data --csv > $(OUT)/inspect.csv
	$(AUDIOKIT) report sample_data -o $(OUT)/report.html --label-from-parent -q --update
	-$(AUDIOKIT) check sample_data --preset training -q > $(OUT)/check.txt  # sample_data has the pitfalls on purpose: exit 1
	$(AUDIOKIT) plot sample_data --kind overview -o $(OUT)/plots/ -q --update
	$(AUDIOKIT) plot sample_data --kind waveform -o $(OUT)/plots/ -q --update
	$(AUDIOKIT) spectrogram sample_data --scale mel -o $(OUT)/spectrograms/ --data $(OUT)/spectrograms/ -q --update
	$(AUDIOKIT) features sample_data -o $(OUT)/features.parquet --label-from-parent -q --update --prune
	$(AUDIOKIT) features sample_data/music/melody.ogg --segment 2 --overlap 1 --features mfcc,rms,tempo -o - > $(OUT)/melody_segments.csv
	$(AUDIOKIT) preprocess sample_data -o $(OUT)/preprocessed --mono --sr 16000 --normalize loudness --target -23 --update --report $(OUT)/preprocess.parquet
	$(AUDIOKIT) preprocess sample_data/speech -o $(OUT)/segments --mono --sr 16000 --trim --segment 2 --fade-ms 10 --format wav --overwrite --json > $(OUT)/preprocess_segments.jsonl
	$(AUDIOKIT) transcribe sample_data/speech -q -o $(OUT)/transcripts -f srt --update
	$(AUDIOKIT) transcribe sample_data/speech -q -o $(OUT)/transcripts.parquet --update
	@echo "outputs in $(OUT)/"; ls -R $(OUT) | head -50

test: install  ## run the test suite
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install  ## mypy
	$(VENV)/bin/mypy

bench: install  ## benchmarks: audiokit against baselines measured in the same run
	$(PY) bench/run.py $(BENCH)

sample-data: install  ## rebuild sample_data/ (needs espeak-ng for the speech files)
	$(PY) scripts/make_sample_data.py --out sample_data

clean:  ## remove the virtualenv, caches and outputs
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .bench *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
