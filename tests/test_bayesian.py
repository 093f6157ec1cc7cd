"""The Bayesian softmax regression of Hands-On E9 beyond the contract: the KL term's closed form, the sampling of the
weights (one sample a step in training, the means in evaluation, a held set at test), the ELBO as trained, Edward's
learning-rate staircase, and the test routine's 30 accuracies."""

from __future__ import annotations

import csv
import math
import subprocess
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from lightning_zoo.bayesian import BayesianSoftmaxRegression, VariationalLinear, normal_kl, posterior_samples
from lightning_zoo.bayesian.base import predictive_summary
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import ZooError
from tests.conftest import CLI, PYTHON, subprocess_env
from tests.helpers.train import MetricHistory, mlp_data, trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "bayesian" / "bayesian_softmax_mnist.yaml"


@pytest.mark.parametrize("prior_scale", [1.0, 0.5])
def test_the_kl_term_is_the_closed_form_of_a_normal_against_a_normal(prior_scale):
    torch.manual_seed(0)
    loc, scale = torch.randn(50), torch.rand(50) + 0.1
    expected = kl_divergence(Normal(loc, scale), Normal(0.0, prior_scale)).sum()
    assert torch.allclose(normal_kl(loc, scale, prior_scale), expected, rtol=1e-5)
    # ... and what sampling estimates: E_q[log q(w) - log p(w)]
    w = Normal(loc, scale).sample((200_000,))
    estimate = (Normal(loc, scale).log_prob(w) - Normal(0.0, prior_scale).log_prob(w)).sum(1).mean()
    assert abs(float(estimate - expected)) < 0.05 * float(expected)


def test_a_layer_samples_its_weights_in_training_and_uses_their_means_in_evaluation():
    torch.manual_seed(0)
    layer = VariationalLinear(6, 3)
    x = torch.rand(4, 6)
    assert not torch.equal(layer(x), layer(x))  # a fresh sample each call
    layer.eval()
    assert torch.equal(layer(x), x @ layer.weight_loc.T + layer.bias_loc)
    assert layer.kl() == normal_kl(layer.weight_loc, torch.nn.functional.softplus(layer.weight_rho), 1.0) + normal_kl(
        layer.bias_loc, torch.nn.functional.softplus(layer.bias_rho), 1.0
    )


def test_held_posterior_samples_give_one_output_per_sample_and_stay_fixed():
    layer = VariationalLinear(6, 3).eval()
    x = torch.rand(4, 6)
    with posterior_samples(layer, 5, torch.Generator().manual_seed(1)):
        out = layer(x)
        assert out.shape == (5, 4, 3)
        assert torch.equal(layer(x[:2]), out[:, :2])  # the same samples for another batch
        weight, bias = layer.samples
        assert torch.allclose(out[2], x @ weight[2].T + bias[2], atol=1e-6)
    with posterior_samples(layer, 5, torch.Generator().manual_seed(1)):
        assert torch.equal(layer(x), out)  # seeded
    assert layer.samples is None and layer(x).shape == (4, 3)


def test_the_spread_of_the_samples_follows_the_posterior_scale():
    layer = VariationalLinear(6, 3)
    with torch.no_grad():
        layer.weight_rho.fill_(-30.0)  # softplus(-30) ~ 1e-13: every sample is the mean
        layer.bias_rho.fill_(-30.0)
    x = torch.rand(4, 6)
    with posterior_samples(layer, 7):
        summary = predictive_summary(layer(x).softmax(-1))
    assert bool((summary["agreement"] == 1).all())
    with torch.no_grad():
        layer.weight_rho.fill_(5.0)
    with posterior_samples(layer, 200, torch.Generator().manual_seed(0)):
        wide = predictive_summary(layer(x * 10).softmax(-1))
    assert float(wide["agreement"].mean()) < 0.8 and float(wide["entropy"].mean()) > 0.5


def test_training_minimises_the_mean_nll_plus_the_kl_over_the_dataset_size(data_root, tmp_path):
    model = BayesianSoftmaxRegression(input_shape=(784,), dataset_size=600)
    history = MetricHistory("train/loss_step")
    kl_before = float(model.kl().detach())
    torch.manual_seed(0)
    x, y = torch.rand(8, 784), torch.randint(10, (8,))
    torch.manual_seed(1)
    loss = model.training_step((x, y), 0)  # outside a trainer: it logs nothing
    torch.manual_seed(1)
    nll = torch.nn.functional.cross_entropy(model(x), y)
    assert torch.allclose(loss, nll + kl_before / 600)
    data = mlp_data(data_root, batch_size=32)
    trainer(tmp_path, max_epochs=3, callbacks=[history], limit_val_batches=0).fit(model, data)
    losses = history.history["train/loss_step"]
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])
    assert model.training_size == 600  # as given


def test_the_likelihood_stands_for_the_training_set_unless_a_size_is_given(data_root, tmp_path):
    """By default the KL is divided by the training samples of this fit (the fixture's 256 less 56 validating): a
    validation split taken from the training pool shrinks it."""
    model = BayesianSoftmaxRegression(input_shape=(784,))
    trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(model, mlp_data(data_root, batch_size=32, val_size=56))
    assert model.training_size == 200
    model.trainer = None  # a step outside the fit: it logs nothing
    x, y = torch.rand(8, 784), torch.randint(10, (8,))
    torch.manual_seed(1)
    loss = model.training_step((x, y), 0)
    torch.manual_seed(1)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(model(x), y) + model.kl() / 200)
    with pytest.raises(ZooError, match="a training step outside a fit needs dataset_size"):
        BayesianSoftmaxRegression(input_shape=(784,)).training_step((x, y), 0)


def test_the_learning_rate_falls_as_edwards_staircase(data_root, tmp_path):
    model = BayesianSoftmaxRegression(lr_decay_steps=3)
    t = trainer(tmp_path, max_steps=7, limit_val_batches=0)
    t.fit(model, mlp_data(data_root, batch_size=16))
    assert math.isclose(t.optimizers[0].param_groups[0]["lr"], 0.1 * 0.9**2)  # after 7 steps: two decays


def test_testing_reports_each_posterior_samples_accuracy(data_root, tmp_path):
    common = ["--config", str(CONFIG), "--data.data_dir", str(data_root), "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "2"])
    cli = ZooCLI(args=["test", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    metrics = cli.trainer.callback_metrics
    # In the tested run's folder, named after its checkpoint (whatever the logger's folder)
    with open(tmp_path / "test" / "posterior_accuracies-last.csv") as f:
        accuracies = [float(r["test_acc_pct"]) / 100 for r in csv.DictReader(f)]
    assert len(accuracies) == 30 and len(set(accuracies)) > 1  # 30 different networks
    assert math.isclose(float(metrics["test/acc_mean"]), sum(accuracies) / 30, abs_tol=1e-4)
    assert math.isclose(float(metrics["test/acc_min"]), min(accuracies), abs_tol=1e-4)
    assert math.isclose(float(metrics["test/acc_max"]), max(accuracies), abs_tol=1e-4)
    assert max(accuracies) > 0.5  # two passes over the fixture digits learn something
    assert 0 < float(metrics["test/agreement"]) <= 1
    # One posterior sample tests too, beside the first test's results (not over them)
    ZooCLI(args=["test", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"),
                 "--model.posterior_samples", "1"])  # fmt: skip
    with open(tmp_path / "test" / "posterior_accuracies-last-2.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
    assert len((tmp_path / "test" / "posterior_accuracies-last.csv").read_text().splitlines()) == 31
    ZooCLI(args=["predict", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    with open(tmp_path / "predictions" / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 64 and all(r["predicted_class"] == r["predicted"] for r in rows)  # MNIST's names: "0"-"9"
    header = [
        "index",
        "target",
        "predicted",
        "predicted_class",
        "agreement",
        "entropy",
        *(f"prob_{c}" for c in range(10)),
    ]
    assert list(rows[0]) == header and [int(r["index"]) for r in rows] == list(range(64))  # the test set, in order


@pytest.mark.ddp
def test_two_processes_test_the_same_30_networks_on_the_whole_test_set(data_root, tmp_path):
    common = ["--config", str(CONFIG), "--data.data_dir", str(data_root), "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "fit")])
    checkpoint = ["--ckpt_path", str(tmp_path / "fit" / "checkpoints" / "last.ckpt")]
    ZooCLI(args=["test", *common, *checkpoint, "--trainer.default_root_dir", str(tmp_path / "one")])
    results = tmp_path / "fit" / "test" / "posterior_accuracies-last.csv"
    one = results.read_text()
    results.unlink()  # the two-process run must write it again
    command = [PYTHON, CLI, "test", *common, *checkpoint, "--trainer.default_root_dir", str(tmp_path / "two"),
               "--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.accelerator", "cpu"]  # fmt: skip
    done = subprocess.run(command, env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    two = results.read_text()
    assert one == two and len(one.splitlines()) == 31


def test_held_samples_flow_through_a_stack_of_layers_one_network_per_sample():
    torch.manual_seed(0)
    net = torch.nn.Sequential(VariationalLinear(5, 4), torch.nn.ReLU(), VariationalLinear(4, 3)).eval()
    x = torch.rand(6, 5)
    with posterior_samples(net, 3, torch.Generator().manual_seed(0)):
        out = net(x)
        (w1, b1), (w2, b2) = net[0].samples, net[2].samples
    assert out.shape == (3, 6, 3)
    for s in range(3):  # sample s is the network with the s-th weights of every layer
        expected = torch.relu(x @ w1[s].T + b1[s]) @ w2[s].T + b2[s]
        assert torch.allclose(out[s], expected, atol=1e-6)
