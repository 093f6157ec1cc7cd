# Two commands do all the set-up on a fresh machine:
#   make train   creates .venv, installs the project, trains the default model (the book's MLP on MNIST)
#   make test    creates .venv, installs the project with its dev extra (tests, ruff), runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched once the install succeeded: venv makes bin/activate before pip runs, so a failed (offline, interrupted)
# install would look done to make the next time.
INSTALLED := $(VENV)/.installed

.PHONY: train test lint benchmarks clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

train: $(INSTALLED)
	$(BIN)/python cli.py fit --config configs/classification/mlp_mnist.yaml

test: $(INSTALLED)
	WANDB_MODE=disabled $(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

benchmarks: $(INSTALLED)
	WANDB_MODE=disabled $(BIN)/python benchmarks/mlp_mnist.py --seeds 0 1 2
	WANDB_MODE=disabled $(BIN)/python benchmarks/classifier_speed.py --rounds 8
	WANDB_MODE=disabled $(BIN)/python benchmarks/dcgan_mnist.py --epochs 50

clean:  # the environment only: logs/ holds every run's checkpoints (delete it yourself when you mean to)
	rm -rf $(VENV)
