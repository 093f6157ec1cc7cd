"""Writes the checkpoints of this folder; run in a checkout of commit 75931a4 (see README.md), not in this one."""

import sys
from pathlib import Path

import pytorch_lightning as pl

sys.path.insert(0, ".")

from lightning_zoo.classification import MLP, FeatureCNN  # noqa: E402
from lightning_zoo.gan import DCGAN  # noqa: E402
from tests.helpers.idx import write_mnist  # noqa: E402
from tests.helpers.train import gan_data, mlp_data, trainer  # noqa: E402

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
root = write_mnist(out / "data")
for name, model, data, options in [
    ("mlp", MLP(hidden_units=(4,)), mlp_data(root), {}),
    ("feature_cnn", FeatureCNN(channels=(2, 2), feature_dim=4), gan_data(root), {}),
    ("dcgan", DCGAN(), gan_data(root), {"limit_val_batches": 0}),
]:
    pl.seed_everything(0)
    t = trainer(out / name, max_steps=3 if name == "dcgan" else 1, enable_checkpointing=False, **options)
    t.fit(model, data)
    t.save_checkpoint(out / f"{name}.ckpt")
