"""The ddp_gan strategy: each network of a GAN in its own DistributedDataParallel, no unused-parameter scan."""

from __future__ import annotations

import json

import pytest
import torch

from lightning_zoo.registry import card
from lightning_zoo.strategies import GANDDPStrategy
from tests.helpers.contract import ddp_fit, weights

pytestmark = [pytest.mark.ddp, pytest.mark.slow]


@pytest.mark.parametrize("name", ["dcgan_mnist", "wgan_gp_mnist"])
def test_ddp_gan_trains_bitwise_as_find_unused_parameters_with_equal_gradients_on_every_rank(name, data_root, tmp_path):
    """Both strategies average the same gradients (a sum of two numbers does not depend on bucketing), so after
    six batches (WGAN-GP: six critic steps with its double backward, one generator step) the whole state, weights and
    BatchNorm statistics, agrees bitwise; and after every batch each rank holds the same gradients."""
    runs = {}
    for strategy in ("ddp_gan", "ddp_find_unused_parameters_true"):
        probe = ["--trainer.callbacks+=tests.helpers.probe.GradientProbe", "--trainer.callbacks.out_dir",
                 str(tmp_path / strategy / "probe")]  # fmt: skip
        ddp_fit(card(name), data_root, tmp_path / strategy, 1, strategy, "--trainer.limit_train_batches", "6", *probe)
        runs[strategy] = weights(tmp_path / strategy / "checkpoints" / "last.ckpt")
        ranks = [json.loads((tmp_path / strategy / "probe" / f"grads{r}.json").read_text()) for r in (0, 1)]
        assert len(ranks[0]) == 6 and ranks[0] == ranks[1]
    separate, scanned = runs["ddp_gan"], runs["ddp_find_unused_parameters_true"]
    assert separate.keys() == scanned.keys()
    assert [k for k in separate if not torch.equal(separate[k], scanned[k])] == []


def test_ddp_gan_refuses_what_it_would_ignore_and_a_model_without_networks(data_root, tmp_path):
    from lightning_zoo.classification import MLP
    from lightning_zoo.core import ZooError
    from tests.helpers.train import mlp_data, trainer

    with pytest.raises(ZooError, match="drop find_unused_parameters"):
        GANDDPStrategy(find_unused_parameters=True)
    with pytest.raises(ZooError, match="does not apply ddp_comm_hook, model_averaging_period"):
        GANDDPStrategy(ddp_comm_hook=print, model_averaging_period=4)
    t = trainer(tmp_path, strategy=GANDDPStrategy(), max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    with pytest.raises(ZooError, match="MLP names no ddp_networks: use the plain ddp strategy"):
        t.fit(MLP(), mlp_data(data_root))


def test_sync_batchnorm_on_cpu_processes_ends_with_one_line_naming_the_fix(data_root, tmp_path):
    """configs/trainer/ddp_gan.yaml turns sync_batchnorm on for GPUs; DistributedDataParallel refuses SyncBatchNorm
    on CPU modules deep in its constructor, so the strategy says what to do first (one process suffices)."""
    from lightning_zoo.core import ZooError
    from lightning_zoo.gan import DCGAN
    from tests.helpers.train import gan_data, trainer

    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=1, strategy="ddp_gan", devices=1, sync_batchnorm=True)
    try:
        with pytest.raises(ZooError, match="--trainer.sync_batchnorm false"):
            fit.fit(DCGAN(), gan_data(data_root))
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
