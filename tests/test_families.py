"""The family bases: what a model inherits by declaring only what differs (arguments, callbacks, the GAN loop and
its latent contract), and what the CLI links into it from the data."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_lightning import Callback
from pytorch_lightning.utilities.model_summary import ModelSummary
from torch import nn

from lightning_zoo.callbacks import EpochTimer, InterpolationGrid, SampleGrid, due
from lightning_zoo.classification import MLP, FeatureCNNNetwork, MLPNetwork
from lightning_zoo.cli import ZooCLI, main
from lightning_zoo.core import _MODELS, constructor_arguments
from lightning_zoo.gan import DCGAN, DCGANDiscriminator, DCGANGenerator, GANBase
from lightning_zoo.gan.base import as_real_batch
from lightning_zoo.metrics import ClassifierFID
from lightning_zoo.registry import import_models
from tests.conftest import ROOT
from tests.helpers import toys
from tests.helpers.train import gan_data, mlp_data, trainer

DCGAN_CONFIG = str(ROOT / "configs/gan/dcgan_mnist.yaml")
MLP_CONFIG = str(ROOT / "configs/classification/mlp_mnist.yaml")
import_models()
ZOO_MODELS = sorted((name, cls) for name, cls in _MODELS.items() if cls.__module__.startswith("lightning_zoo."))


def test_a_family_base_is_not_a_model(data_root, capsys):
    with pytest.raises(ValueError, match="GANBase is the base of a family, not a model: choose one of .*DCGAN"):
        GANBase()
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root), "--model", "GANBase"])
    assert str(exit_.value.code).startswith("error: invalid configuration: GANBase is the base of a family")
    with pytest.raises(SystemExit) as exit_:  # the short name GAN is free for the book's vanilla GAN
        ZooCLI(args=["fit", "--model", "GAN", "--print_config"])
    assert exit_.value.code == 2 and "GAN" in capsys.readouterr().err


def test_help_and_print_config_show_every_inherited_argument_and_the_subclass_default_wins(capsys):
    with pytest.raises(SystemExit):
        ZooCLI(args=["fit", "--model.help", "DCGAN"])
    help_text = capsys.readouterr().out
    for argument in (
        "--model.input_shape",
        "--model.g_steps",
        "--model.lr_g",
        "--model.n_critic",
        "--model.real_label",
    ):
        assert argument in help_text
    assert "Generator steps per batch: the book's 2" in help_text  # the subclass's own docstring
    with pytest.raises(SystemExit):
        ZooCLI(args=["fit", "--config", DCGAN_CONFIG, "--print_config"])
    printed = capsys.readouterr().out
    for line in ("g_steps: 2", "d_steps: 1", "n_critic: 1", "lr_g: 0.0002", "real_label: 1.0", "predict_samples: 100"):
        assert line in printed, line


@pytest.mark.parametrize("name, model_class", ZOO_MODELS, ids=[name for name, _ in ZOO_MODELS])
def test_a_class_says_whether_it_has_weights_as_its_instances_do(name, model_class):
    """``has_weights`` decides, before the data are read, whether predict without --ckpt_path is refused."""
    assert model_class.has_weights == model_class().learns


@pytest.mark.parametrize("name, model_class", ZOO_MODELS, ids=[name for name, _ in ZOO_MODELS])
def test_hyperparameters_are_exactly_the_constructor_arguments_of_the_hierarchy(name, model_class):
    model = model_class()
    assert list(model.hparams) and set(model.hparams) == set(constructor_arguments(model_class))
    defaults = {}
    for klass in reversed(model_class.__mro__):  # a subclass's (or an earlier mixin's) default wins over its base's
        if "__init__" in klass.__dict__ and klass.__module__.startswith("lightning_zoo."):  # ZooModules and mixins
            defaults.update({p.name: p.default for p in inspect.signature(klass).parameters.values()})
    for key, value in model.hparams.items():
        assert value == defaults[key] or list(value) == list(defaults[key]), key


def test_the_cli_records_no_linked_size_a_model_does_not_take(data_root):
    cli = ZooCLI(args=["--config", DCGAN_CONFIG, "--data.data_dir", str(data_root)], run=False)
    assert set(cli.model.hparams) == set(constructor_arguments(DCGAN)) and "num_classes" not in cli.model.hparams
    assert tuple(cli.model.hparams.input_shape) == (1, 32, 32) and cli.model.hparams.g_steps == 2


def test_load_from_checkpoint_restores_inherited_arguments(data_root, tmp_path):
    model = DCGAN(n_critic=2, lr_d=1e-3, real_label=0.9)
    t = trainer(tmp_path, max_steps=4, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root))
    t.save_checkpoint(tmp_path / "dcgan.ckpt")
    loaded = DCGAN.load_from_checkpoint(tmp_path / "dcgan.ckpt")
    assert dict(loaded.hparams) == dict(model.hparams)
    assert (loaded.hparams.n_critic, loaded.hparams.lr_d, loaded.hparams.real_label) == (2, 1e-3, 0.9)
    assert loaded.configure_optimizers()[1].param_groups[0]["lr"] == 1e-3


def callbacks_of(cli: ZooCLI, kind: type) -> list:
    return [c for c in cli.trainer.callbacks if isinstance(c, kind)]


def test_family_callbacks_come_once_and_a_second_config_does_not_drop_them(data_root, tmp_path):
    common = ["--data.data_dir", str(data_root), "--trainer.logger", "false"]
    gan = ZooCLI(args=["fit", "--config", DCGAN_CONFIG, *common, "--trainer.fast_dev_run", "true"])
    assert len(callbacks_of(gan, SampleGrid)) == 1
    extra = tmp_path / "extra.yaml"  # a second config that brings callbacks of its own
    extra.write_text("trainer:\n  callbacks:\n    - class_path: lightning_zoo.callbacks.EpochTimer\n")
    gan = ZooCLI(args=["--config", DCGAN_CONFIG, "--config", str(extra), *common], run=False)
    gan.trainer.callbacks  # noqa: B018
    assert callbacks_of(gan, EpochTimer) and callbacks_of(gan, SampleGrid)
    own = ["--trainer.callbacks+=SampleGrid", "--trainer.callbacks.every_n_epochs", "5"]
    gan = ZooCLI(args=["fit", "--config", DCGAN_CONFIG, *common, *own, "--trainer.fast_dev_run", "true"])
    assert [c.every_n_epochs for c in callbacks_of(gan, SampleGrid)] == [5]  # the config's, not a second one
    mlp = ZooCLI(args=["fit", "--config", MLP_CONFIG, *common, "--trainer.fast_dev_run", "true"])
    assert not callbacks_of(mlp, SampleGrid)
    rows = ["--trainer.callbacks+=InterpolationGrid"]  # a SampleGrid subclass: it adds rows, the grid stays
    gan = ZooCLI(args=["fit", "--config", DCGAN_CONFIG, *common, *rows, "--trainer.fast_dev_run", "true"])
    assert sorted(type(c).__name__ for c in callbacks_of(gan, SampleGrid)) == ["InterpolationGrid", "SampleGrid"]


@pytest.mark.parametrize(
    "bound", [{"max_epochs": 3}, {"max_steps": 3 * 4, "max_epochs": -1}, {"stop_after": 3}],
    ids=["max_epochs", "max_steps", "early stop"],
)  # fmt: skip
def test_an_every_n_epochs_callback_also_acts_after_the_last_epoch_however_the_run_ends(data_root, tmp_path, bound):
    """Every 2 epochs and after the last: epochs 2 and 3 of a 3-epoch run, whether max_epochs, max_steps (4 batches
    an epoch) or a stop after validation (where EarlyStopping decides) ends it."""
    stop_after = bound.pop("stop_after", None)
    acted = []

    class EveryTwo(Callback):
        def on_validation_end(self, trainer, pl_module):
            if stop_after and not trainer.sanity_checking:
                trainer.should_stop = trainer.current_epoch + 1 == stop_after

        def on_train_epoch_end(self, trainer, pl_module):
            if due(trainer, 2):
                acted.append(trainer.current_epoch + 1)

    t = trainer(tmp_path, **{"max_epochs": 10, **bound}, limit_train_batches=4, limit_val_batches=1,
                enable_checkpointing=False, callbacks=[EveryTwo()])  # fmt: skip
    t.fit(MLP(), mlp_data(data_root, batch_size=8))
    assert acted == [2, 3]


@pytest.mark.parametrize("from_first, expected", [(False, [3, 6, 7]), (True, [1, 4, 7])])
def test_every_n_epochs_counts_from_the_first_epoch_as_keras_when_asked(from_first, expected):
    """A Keras callback's ``epoch % 3 == 0`` (0-based) acts after epochs 1, 4, 7; ours after 3, 6, and the last."""
    from types import SimpleNamespace

    acted = [
        epoch + 1
        for epoch in range(7)
        if due(SimpleNamespace(current_epoch=epoch, max_epochs=7, should_stop=False, max_steps=-1, global_step=0,
                               sanity_checking=False), 3, from_first)
    ]  # fmt: skip
    assert acted == expected


def test_n_critic_gives_every_critic_step_a_fresh_real_batch_counted_in_batches(data_root, tmp_path):
    model = DCGAN(n_critic=3, g_steps=1)
    seen = {"D": [], "G": []}
    for kind, step in (("D", model.discriminator_step), ("G", model.generator_step)):

        def recorded(optimizer, batch, latent, kind=kind, step=step):
            seen[kind].append(float(batch.images.sum()))
            return step(optimizer, batch, latent)

        setattr(model, f"{'discriminator' if kind == 'D' else 'generator'}_step", recorded)
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=6, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root, batch_size=8))
    assert len(seen["D"]) == 6 and len(set(seen["D"])) == 6  # six critic steps, six different real batches
    assert seen["G"] == [seen["D"][2], seen["D"][5]]  # the generator after every third batch
    assert t.global_step == 8  # optimizer steps: 6 + 2


def test_one_sided_label_smoothing_is_the_real_target(data_root):
    torch.manual_seed(0)
    model = DCGAN(real_label=0.9)
    dm = gan_data(data_root)
    dm.setup("fit")
    batch = as_real_batch(next(iter(dm.train_dataloader())))
    latent = model.sample_latent(len(batch.images))
    real, fake = model.discriminator(batch.images), model.discriminator(model.generate(latent))
    expected = F.binary_cross_entropy_with_logits(
        real, torch.full_like(real, 0.9)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    torch.testing.assert_close(model.d_loss(batch, latent), expected)
    generator_target = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))  # never smoothed for G
    torch.testing.assert_close(model.g_loss(batch, latent), generator_target)
    with pytest.raises(ValueError, match="real_label"):
        DCGAN(real_label=1.5)


def test_the_hook_after_each_discriminator_step_can_clip_the_critic(data_root, tmp_path):
    model = toys.ClippedDCGAN(clip=0.01, d_steps=2)
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=3, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root, batch_size=8))
    assert model.clipped == 6
    assert all(p.abs().max() <= 0.01 for p in model.discriminator.parameters())


def test_a_conditional_gan_fits_the_latent_contract(data_root, feature_checkpoint, tmp_path):
    """Sample grids, interpolation, classifier-FID and predict go through generate(sample_latent(...)); training
    pairs the real batch's labels; nothing of the loop is rewritten."""
    model = toys.ToyConditionalGAN()
    assert set(model.fixed_latent()) == {"z", "labels"} and "fixed_labels" in model.state_dict()
    fid = ClassifierFID(str(feature_checkpoint), num_samples=64, batch_size=32)
    callbacks = [SampleGrid(), InterpolationGrid(rows=2, steps=5), fid]
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0, callbacks=callbacks)
    dm = gan_data(data_root, batch_size=8)
    t.fit(model, dm)
    assert len(model.paired_labels) == 2 and all(labels.shape == (8,) for labels in model.paired_labels)
    assert math.isfinite(float(t.callback_metrics["val/classifier_fid"]))
    grids = {p.parent.name: p for p in (tmp_path / "images").rglob("*.png")}
    assert set(grids) == {"samples", "interpolation"}
    interpolated = model.interpolate(*({k: v[i : i + 1] for k, v in model.fixed_latent().items()} for i in (0, 1)), 5)
    assert interpolated["z"].shape == (5, 100) and interpolated["labels"].tolist() == [int(model.fixed_labels[0])] * 5
    torch.testing.assert_close(interpolated["z"][-1], model.fixed_z[1])
    outputs = t.predict(model)
    paths = model.write_predictions(outputs, tmp_path / "predictions")
    assert torch.load(paths[0]).shape == (100, 1, 32, 32)


def test_networks_are_plain_modules_usable_without_lightning():
    networks = {
        DCGANGenerator(100, 1): (torch.rand(2, 100), (2, 1, 32, 32)),
        DCGANDiscriminator(1): (torch.rand(2, 1, 32, 32), (2,)),
        MLPNetwork(784, (16,), 10, dropout=0.1): (torch.rand(2, 784), (2, 10)),
        FeatureCNNNetwork((1, 32, 32), 10): (torch.rand(2, 1, 32, 32), (2, 10)),
    }
    for network, (x, shape) in networks.items():
        assert isinstance(network, nn.Module) and not hasattr(network, "trainer")
        assert network(x).shape == shape


@pytest.mark.parametrize("name, model_class", ZOO_MODELS, ids=[name for name, _ in ZOO_MODELS])
def test_every_model_has_an_example_input_so_the_summary_shows_shapes_and_flops(name, model_class):
    model = model_class()
    if not any(True for _ in model.parameters()):  # a baseline has no layers to summarise: its example must run
        assert len(model(model.example_input_array)) == len(model.example_input_array)
        return
    summary = ModelSummary(model, max_depth=1)
    assert summary.total_flops > 0 and any(size != "?" for size in summary.in_sizes)


def test_data_sizes_link_into_any_model_that_takes_an_argument_of_that_name(data_root):
    toy = ["--model", "tests.helpers.toys.ToyRegressor", "--data", "tests.helpers.toys.AugmentedDataModule"]
    cli = ZooCLI(args=[*toy, "--data.vocab", "5"], run=False)
    assert cli.model.hparams.vocab_size == 5 and cli.model.net[1].out_features == 5
    # A DataModule without that size leaves the model's default; a model without that argument is not given it.
    cli = ZooCLI(args=["--model", "tests.helpers.toys.ToyRegressor", "--data", "MNISTDataModule"], run=False)
    assert cli.model.hparams.vocab_size == 3
    cli = ZooCLI(args=["--config", MLP_CONFIG, "--data", "tests.helpers.toys.AugmentedDataModule"], run=False)
    assert "vocab_size" not in cli.model.hparams


def test_epoch_metrics_are_a_collection_per_stage_with_exact_epoch_values(data_root, tmp_path):
    model = MLP()
    for stage in ("train", "val", "test"):
        collection = getattr(model, f"{stage}_metrics")
        assert collection.prefix == f"{stage}/" and collection["means"] is model.epoch_means[stage]
    dm = mlp_data(data_root, batch_size=24)  # 64 test images: batches of 24, 24 and 16
    [result] = trainer(tmp_path).test(model, dm, verbose=False)
    x, y = dm.splits["test"].tensors
    with torch.no_grad():
        logits = model.eval()(x)
    assert result["test/acc"] == pytest.approx(float((logits.argmax(1) == y).float().mean()), abs=1e-6)
    assert result["test/loss"] == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)


def test_the_gan_training_step_takes_images_alone_or_with_labels():
    images, labels = torch.zeros(2, 1, 4, 4), torch.tensor([1, 2])
    assert as_real_batch(images).labels is None and as_real_batch([images]).labels is None
    assert torch.equal(as_real_batch((images, labels)).labels, labels)


def test_compile_networks_compiles_the_networks_in_place_and_checkpoints_keep_their_keys(data_root, tmp_path):
    """torch.compile of each network, never of the LightningModule; the eager backend traces without codegen."""
    from lightning_zoo.callbacks import CompileNetworks

    model = DCGAN()
    t = trainer(tmp_path, max_steps=6, limit_val_batches=0, callbacks=[CompileNetworks(backend="eager")])
    t.fit(model, gan_data(data_root, batch_size=8))
    assert set(model.networks()) == {"generator", "discriminator"}
    assert all(network._compiled_call_impl is not None for network in model.networks().values())
    assert model._compiled_call_impl is None and t.global_step == 6
    t.save_checkpoint(tmp_path / "compiled.ckpt")
    assert set(torch.load(tmp_path / "compiled.ckpt", weights_only=True)["state_dict"]) == set(DCGAN().state_dict())
    assert set(MLP().networks()) == {"net"}


def test_channels_last_changes_the_layout_of_the_weights_not_what_the_model_computes(data_root, tmp_path):
    """After a few steps with ChannelsLast the convolution weights are stored NHWC; a plain copy of the same weights
    computes the same outputs and gradients (to float32 rounding: other kernels, same arithmetic), and the checkpoint
    loads into a plain model. (Two whole runs are not compared: a GAN's Adam steps amplify rounding within steps.)"""
    from lightning_zoo.callbacks import ChannelsLast

    nhwc = DCGAN()
    t = trainer(tmp_path, max_steps=6, limit_val_batches=0, callbacks=[ChannelsLast()])
    t.fit(nhwc, gan_data(data_root, batch_size=8))
    conv = next(m for m in nhwc.generator.modules() if isinstance(m, nn.ConvTranspose2d)).weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    t.save_checkpoint(tmp_path / "nhwc.ckpt")
    plain = DCGAN.load_from_checkpoint(tmp_path / "nhwc.ckpt")
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in nhwc.state_dict().items())
    assert next(m for m in plain.generator.modules() if isinstance(m, nn.ConvTranspose2d)).weight.is_contiguous()

    z = torch.randn(8, nhwc.hparams.latent_dim)
    for model in (nhwc, plain):
        model.eval().zero_grad()
        model.discriminator(model.generator(z)).sum().backward()
    torch.testing.assert_close(nhwc.generator(z).detach(), plain.generator(z).detach(), rtol=1e-4, atol=1e-5)
    for (name, a), b in zip(nhwc.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_spherical_interpolation_keeps_the_norm_and_the_class_and_ends_at_both_latents():
    model = toys.ToyConditionalGAN()
    fixed = model.fixed_latent()
    start, end = ({k: v[i : i + 2] for k, v in fixed.items()} for i in (0, 2))
    end["z"] = end["z"] / end["z"].norm(dim=1, keepdim=True) * start["z"].norm(dim=1, keepdim=True)  # equal norms
    path = model.interpolate(start, end, 5, spherical=True)
    z = path["z"].view(2, 5, -1)
    torch.testing.assert_close(z[:, 0], start["z"])
    torch.testing.assert_close(z[:, -1], end["z"])
    torch.testing.assert_close(z.norm(dim=2), start["z"].norm(dim=1, keepdim=True).expand(2, 5))  # on the sphere
    linear = model.interpolate(start, end, 5)["z"].view(2, 5, -1)
    assert (linear[:, 2].norm(dim=1) < z[:, 2].norm(dim=1)).all()  # the straight line cuts inside
    assert path["labels"].tolist() == [int(start["labels"][0])] * 5 + [int(start["labels"][1])] * 5


def test_n_critic_counts_batches_across_epochs_and_resumes_exactly(data_root, tmp_path):
    """With two batches an epoch and n_critic 3, a count that restarted each epoch would never step the generator."""
    from pytorch_lightning import seed_everything

    from tests.helpers.contract import SaveAfterBatch

    def run(root, ckpt_path=None, callbacks=()):
        seed_everything(0)
        model = DCGAN(n_critic=3, g_steps=1)
        t = trainer(root, max_epochs=3, limit_train_batches=2, limit_val_batches=0, callbacks=list(callbacks))
        t.fit(model, gan_data(data_root, batch_size=8), ckpt_path=ckpt_path)
        return model, t

    model, t = run(tmp_path / "a", callbacks=[SaveAfterBatch(4, str(tmp_path / "mid.ckpt"))])
    assert t.global_step == 6 + 2  # six critic steps, generator steps after batches 3 and 6
    assert {int(s["step"]) for s in t.optimizers[0].state.values()} == {2}
    resumed, _ = run(tmp_path / "b", ckpt_path=tmp_path / "mid.ckpt")
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), resumed.parameters(), strict=True))


@pytest.mark.parametrize(
    "shape, options, message",
    [
        ((784,), {}, r"M takes \(channels, height, width\) images, the data gives \(784,\): drop --data.flatten"),
        ((1, 28, 28), {"channels": 3}, "M takes images of 3 channels, the data has 1"),
        ((1, 28, 28), {"side": 32, "fix": ": pad"}, "M's layer table makes 32x32 images, the data has 28x28: pad"),
        ((3, 20, 40), {"min_side": 32}, "M takes images of at least 32x32, the data has 20x40"),
    ],
    ids=["flattened", "channels", "side", "min_side"],
)
def test_an_image_shape_a_model_cannot_take_is_refused_naming_model_and_sizes(shape, options, message):
    from lightning_zoo.layers import checked_image_shape

    with pytest.raises(ValueError, match=f"^{message}$"):
        checked_image_shape("M", shape, **options)
    assert checked_image_shape("M", (3, 32, 32), side=32, min_side=32, channels=3) == (3, 32, 32)


def test_a_model_that_builds_its_network_under_another_name_is_refused_in_one_line(data_root, tmp_path):
    """A Classifier whose network is self.network, not the self.net its loop reads, ended in a traceback of
    "'...' object has no attribute 'net'" from inside the summary."""
    from lightning_zoo.classification.base import Classifier
    from lightning_zoo.core import ZooError

    class MisnamedNetwork(Classifier):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.network = nn.Sequential(nn.Flatten(), nn.Linear(784, self.hparams.num_classes))

    message = r"^MisnamedNetwork sets no self.net, where the classifier base reads its network: build it in __init__$"
    with pytest.raises(ZooError, match=message):
        trainer(tmp_path, max_steps=1).fit(MisnamedNetwork(), mlp_data(data_root))
