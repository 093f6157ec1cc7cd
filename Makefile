# Two commands do all the set-up on a fresh machine:
#   make train   creates .venv, installs the project, trains the default model (the book's MLP on MNIST)
#   make test    creates .venv, installs the project with its test extra, runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: train test lint benchmarks clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $@

train: $(BIN)/activate
	$(BIN)/python cli.py fit --config configs/classification/mlp_mnist.yaml

test: $(BIN)/activate
	WANDB_MODE=disabled $(BIN)/python -m pytest

lint: $(BIN)/activate
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

benchmarks: $(BIN)/activate
	WANDB_MODE=disabled $(BIN)/python benchmarks/mlp_mnist.py --seeds 0 1 2
	WANDB_MODE=disabled $(BIN)/python benchmarks/classifier_speed.py --rounds 8
	WANDB_MODE=disabled $(BIN)/python benchmarks/dcgan_mnist.py --epochs 50

clean:  # the environment only: logs/ holds every run's checkpoints (delete it yourself when you mean to)
	rm -rf $(VENV)
