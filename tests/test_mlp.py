from __future__ import annotations

import csv
import inspect
import math

import pytest
import torch
from torch import nn

from benchmarks.table_1_3_3 import TABLE_1_3_3
from lightning_zoo.classification import MLP
from lightning_zoo.classification.base import Classifier
from lightning_zoo.cli import ZooCLI
from tests.conftest import ROOT
from tests.helpers.train import MetricHistory, mlp_data, trainer

CONFIG = str(ROOT / "configs/classification/mlp_mnist.yaml")


def table_1_3_3_overrides(row: int) -> list[str]:
    """The command-line overrides of ``configs/classification/mlp_mnist.yaml`` that give a row of Table 1.3.3."""
    hidden, dropout, l2, optimizer, relu, _, _ = TABLE_1_3_3[row]
    defaults = {name: p.default for name, p in inspect.signature(MLP).parameters.items()}
    wanted = {"hidden_units": hidden, "dropout": dropout, "relu": relu, "l2": l2, "optimizer": optimizer}

    def as_arg(value: object) -> str:
        if isinstance(value, tuple):
            return "[" + ",".join(map(str, value)) + "]"
        return str(value).lower() if isinstance(value, bool) else str(value)

    return [f"--model.{name}={as_arg(value)}" for name, value in wanted.items() if value != defaults[name]]


def test_listing_1_3_2_has_the_books_269322_parameters():
    model = MLP()
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    assert [sum(p.numel() for p in m.parameters()) for m in linears] == [200_960, 65_792, 2_570]
    assert sum(p.numel() for p in model.parameters()) == 269_322
    assert [type(m).__name__ for m in model.net] == [
        "Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear",
    ]  # fmt: skip
    assert all(m.p == 0.45 for m in model.net if isinstance(m, nn.Dropout))


class OnlyANetwork(Classifier):
    """A classifier written as the README says: it takes only the arguments it adds (none) and builds ``net``."""

    model_name = "OnlyANetworkOfTheTests"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def test_a_classifier_that_adds_only_its_network_trains_with_keras_compile_default(data_root, tmp_path):
    model = OnlyANetwork()
    trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(model, mlp_data(data_root, batch_size=16))
    [optimizer] = model.trainer.optimizers
    assert isinstance(optimizer, torch.optim.RMSprop) and optimizer.defaults["lr"] == 1e-3  # Keras' RMSprop
    assert OnlyANetwork(optimizer="sgd", lr=0.5).configure_optimizers().defaults["lr"] == 0.5


def test_keras_initialisation_glorot_uniform_kernels_and_zero_biases():
    torch.manual_seed(0)
    first = MLP().net[1]
    bound = math.sqrt(6 / (784 + 256))
    assert torch.all(first.bias == 0)
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.95 * bound


@pytest.mark.parametrize(
    "optimizer, expected",
    [
        ("adam", {"lr": 1e-3, "eps": 1e-7, "betas": (0.9, 0.999)}),
        ("sgd", {"lr": 1e-2, "momentum": 0}),
        ("rmsprop", {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
        ("adadelta", {"lr": 1.0, "rho": 0.95, "eps": 1e-8}),  # the Keras 2.0 of the transfer example (99ba515)
    ],
)
def test_optimizers_use_keras_defaults(optimizer, expected):
    group = MLP(optimizer=optimizer).configure_optimizers().param_groups[0]
    assert {k: group[k] for k in expected} == expected
    assert MLP(optimizer=optimizer, lr=0.5).configure_optimizers().param_groups[0]["lr"] == 0.5


def test_l2_is_keras_kernel_penalty_not_weight_decay():
    model = MLP(l2=0.01)
    kernels = [m.weight.detach() for m in model.net if isinstance(m, nn.Linear)]
    expected = 0.01 * sum(float(w.pow(2).sum()) for w in kernels)
    assert float(model.regularization_loss().detach()) == pytest.approx(expected, rel=1e-5)
    assert MLP().regularization_loss() == 0.0


@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_every_stage_reports_keras_loss_with_the_kernel_penalty(stage):
    torch.manual_seed(0)
    model = MLP(l2=0.01, dropout=0.0).eval()
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8)
    loss = model.shared_step((x, y), stage).detach()
    data_loss = torch.nn.functional.cross_entropy(model(x), y)
    assert float(loss) == pytest.approx(float(data_loss + model.regularization_loss()), rel=1e-6)
    assert float(model.epoch_means[stage].compute()["loss"]) == pytest.approx(float(loss), rel=1e-6)


@pytest.mark.parametrize("row", sorted(TABLE_1_3_3))
def test_every_row_of_table_1_3_3_is_a_command_line_override(row, data_root):
    hidden, dropout, l2, optimizer, relu, _, _ = TABLE_1_3_3[row]
    args = ["--config", CONFIG, "--data.data_dir", str(data_root), *table_1_3_3_overrides(row)]
    model = ZooCLI(args=args, run=False).model
    assert tuple(model.hparams.hidden_units) == hidden
    assert (model.hparams.dropout, model.hparams.l2, model.hparams.optimizer, model.hparams.relu) == (
        dropout, l2, optimizer, relu,
    )  # fmt: skip
    widths = [m.out_features for m in model.net if isinstance(m, nn.Linear)]
    assert widths == [*hidden, 10]
    assert any(isinstance(m, nn.ReLU) for m in model.net) == relu
    assert any(isinstance(m, nn.Dropout) for m in model.net) == (dropout > 0)


def test_learns_a_fixed_batch_within_a_few_dozen_steps(data_root, tmp_path):
    torch.manual_seed(0)
    history = MetricHistory("train/loss_step")
    # batch_size 256 = the whole fixture training set: every step sees the same batch
    trainer(tmp_path, max_epochs=30, callbacks=[history], enable_checkpointing=False, limit_val_batches=0).fit(
        MLP(input_shape=(784,)), mlp_data(data_root, batch_size=256)
    )
    losses = history.history["train/loss_step"]
    assert len(losses) == 30
    assert losses[-1] < 0.3 * losses[0], losses


def test_overfit_batches_works_with_the_in_memory_loader(data_root, tmp_path):
    history = MetricHistory("train/loss_step")
    trainer(tmp_path, max_epochs=3, overfit_batches=1, callbacks=[history], enable_checkpointing=False).fit(
        MLP(), mlp_data(data_root)
    )
    assert len(history.history["train/loss_step"]) == 3


def test_predict_writes_class_probabilities_for_the_test_set(data_root, tmp_path):
    model = MLP()
    dm = mlp_data(data_root)
    t = trainer(tmp_path, max_epochs=1)
    t.fit(model, dm)  # untrained weights would do, but predict should work on a fitted model
    outputs = t.predict(model, dm)
    [path] = model.write_predictions(outputs, tmp_path / "out")
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 64 and list(rows[0])[:3] == ["index", "target", "predicted"]
    probs = torch.tensor([[float(r[f"prob_{c}"]) for c in range(10)] for r in rows])
    torch.testing.assert_close(probs.sum(1), torch.ones(64), atol=1e-4, rtol=0)
    assert [int(r["predicted"]) for r in rows] == probs.argmax(1).tolist()
    targets = dm.splits["test"].tensors[1].tolist()
    assert [int(r["target"]) for r in rows] == targets
