from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_zoo.core import ZooError
from lightning_zoo.gan import DCGAN
from tests.helpers.train import gan_data, state_of, trainer


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_layer_table_shapes_and_parameter_counts():
    model = DCGAN()
    assert count(model.discriminator) == 1_030_913 and count(model.generator) == 1_439_873
    latent = model.sample_latent(5)
    images = model.generate(latent)
    z = latent["z"]
    assert list(latent) == ["z"] and z.shape == (5, 100) and -1 <= z.min() and z.max() <= 1
    assert images.shape == (5, 1, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert model.discriminator(images).shape == (5,)
    convs = [m for m in model.discriminator if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (5, 5), (2, 2)),
        (128, (5, 5), (2, 2)),
        (256, (5, 5), (2, 2)),
    ]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 4 and all(b.eps == 1e-5 and b.momentum == 0.1 for b in bns)


def test_weights_are_normal_002_and_biases_zero():
    torch.manual_seed(0)
    weights = [m.weight for m in DCGAN().modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    flat = torch.cat([w.detach().flatten() for w in weights])
    assert abs(float(flat.std()) - 0.02) < 0.001 and abs(float(flat.mean())) < 0.001


def test_other_image_sizes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="--data.padding 2"):
        DCGAN(input_shape=(1, 28, 28))


def test_fixed_latent_is_a_buffer_that_travels_with_the_module():
    model = DCGAN()
    assert "fixed_z" in model.state_dict() and model.fixed_z.shape == (40, 100)
    assert torch.equal(model.fixed_z, DCGAN().fixed_z)  # independent of the global RNG
    was_training = model.generator.training
    samples = model.fixed_samples()
    assert samples.shape == (40, 1, 32, 32) and model.generator.training == was_training


def test_one_batch_is_one_discriminator_step_then_two_generator_steps(data_root, tmp_path):
    """The D step leaves every generator parameter unchanged, each G step every discriminator parameter."""
    model = DCGAN()
    events = []

    def recorded(kind, step):
        def wrapper(*args):
            g, d = state_of(model.generator), state_of(model.discriminator)
            loss = step(*args)
            g_changed = any(not torch.equal(p, g[k]) for k, p in model.generator.named_parameters())
            d_changed = any(not torch.equal(p, d[k]) for k, p in model.discriminator.named_parameters())
            events.append((kind, g_changed, d_changed))
            return loss

        return wrapper

    model.discriminator_step = recorded("D", model.discriminator_step)
    model.generator_step = recorded("G", model.generator_step)
    t = trainer(tmp_path, max_steps=3, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root))
    assert events == [("D", False, True), ("G", True, False), ("G", True, False)]
    assert t.global_step == 3  # Lightning counts every optimizer step
    opt_g, opt_d = t.optimizers
    assert {int(s["step"]) for s in opt_d.state.values()} == {1}
    assert {int(s["step"]) for s in opt_g.state.values()} == {2}


def test_step_ratio_is_a_parameter(data_root, tmp_path):
    model = DCGAN(d_steps=2, g_steps=1)
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root))
    opt_g, opt_d = t.optimizers
    assert t.global_step == 6
    assert {int(s["step"]) for s in opt_d.state.values()} == {4}
    assert {int(s["step"]) for s in opt_g.state.values()} == {2}


def test_plain_ddp_is_refused_with_the_strategy_to_use(tmp_path):
    model = DCGAN()
    t = trainer(tmp_path, strategy="ddp", devices=1)
    model.trainer = t
    with pytest.raises(ZooError, match="cannot sync: use --trainer.strategy ddp_gan"):
        model.setup("fit")
    for accepted in ("ddp_gan", "ddp_find_unused_parameters_true"):
        model.trainer = trainer(tmp_path, strategy=accepted, devices=1)
        model.setup("fit")


def test_predict_writes_a_png_grid_and_the_raw_tensor(tmp_path):
    model = DCGAN(predict_samples=30)
    t = trainer(tmp_path)
    outputs = t.predict(model)
    paths = model.write_predictions(outputs, tmp_path / "out")
    assert [p.name for p in paths] == ["samples.pt", "latent.pt", "samples.png"]
    samples = torch.load(paths[0])
    assert samples.shape == (30, 1, 32, 32) and samples.min() >= -1 and samples.max() <= 1
    assert paths[2].stat().st_size > 0 and not list((tmp_path / "out").glob(".*"))
