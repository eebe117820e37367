# Two commands on a fresh machine:  `make demo`  and  `make test`.
# torch is installed first, pinned by TORCH_SPEC, so no multi-GB CUDA wheels are pulled by accident.
# On a GPU workstation: make demo TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test gui-demo lint benchmarks weights clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	touch $@

$(VENV)/.installed-core: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-all: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e ".[all]"
	touch $@ $(VENV)/.installed-core

demo: $(VENV)/.installed-core
	$(BIN)/napari-deblur demo --out demo_output

gui-demo: $(VENV)/.installed-all
	$(BIN)/napari-deblur demo --out demo_output --gui

# Widget tests need a display: use Xvfb when there is none (CI, SSH sessions), and say how to get it if missing.
XVFB_APT := xvfb xauth libgl1-mesa-dri libegl1 libglx-mesa0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
	libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libdbus-1-3 libfontconfig1
test: $(VENV)/.installed-all
	$(BIN)/ruff check src tests benchmarks weights docs
	@if [ -n "$$DISPLAY" ]; then \
		$(BIN)/python -m pytest; \
	elif command -v xvfb-run >/dev/null 2>&1; then \
		xvfb-run -a $(BIN)/python -m pytest; \
	else \
		echo "No display and no Xvfb: the napari widget tests need one. On Debian/Ubuntu install it with"; \
		echo "  $$( [ "$$(id -u)" = 0 ] || echo 'sudo ')apt-get install $(XVFB_APT)"; \
		echo "or run only the tests without widgets: $(BIN)/python -m pytest --ignore=tests/widgets"; \
		exit 2; \
	fi

lint: $(VENV)/.installed-all
	$(BIN)/ruff check src tests benchmarks weights docs

benchmarks: $(VENV)/.installed-all
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/paths.py --write
	$(BIN)/python benchmarks/memory.py --write
	$(BIN)/python benchmarks/scenes_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/train_paths.py --write
	$(BIN)/python benchmarks/zoo_quality.py

# A shipped model from its recipe (weights/recipes/NAME.json): trains or resumes, then writes weights/NAME.safetensors.
weights: $(VENV)/.installed-all
	@test -n "$(NAME)" || { echo "usage: make weights NAME=nafnet-small  (recipes: $$(ls weights/recipes/*.json | xargs -n1 basename | sed 's/.json//' | tr '\n' ' '))"; exit 2; }
	$(BIN)/python weights/build.py $(NAME)

clean:
	rm -rf $(VENV) demo_output .pytest_cache
