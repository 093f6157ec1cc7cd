"""DDP for GANs without the unused-parameter scan.

Lightning wraps the whole LightningModule in one ``DistributedDataParallel``. A GAN step trains one network, so the
other's parameters get no gradient, and DDP then needs ``find_unused_parameters=True``, which walks the autograd
graph after every forward (Lightning issues 20328 and 20866). :class:`GANDDPStrategy` wraps each network of the
model in its own ``DistributedDataParallel`` instead; the GAN loop (``GANBase``) runs each step's forward of the
network it trains through that network's wrapper, and the other network plainly: every wrapped parameter gets its
gradient in every backward of its wrapper, so no scan is needed.
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.strategies import DDPStrategy, StrategyRegistry
from torch.nn.parallel import DistributedDataParallel

from lightning_zoo.core import ZooError


class GANDDPStrategy(DDPStrategy):
    """Lightning's ``DDPStrategy`` (launch, process groups, samplers, checkpoints, everything else) with one change:
    the networks a model names in ``ddp_networks`` (a GAN's ``generator`` and ``discriminator``) are wrapped each
    in its own ``DistributedDataParallel``, kept in the model's ``ddp_wrappers`` (not a submodule: checkpoints keep
    their keys); the LightningModule itself is not wrapped.

    Selected by ``--trainer.strategy ddp_gan`` (or ``configs/trainer/ddp_gan.yaml``).
    """

    strategy_name = "ddp_gan"

    # DDPStrategy applies these to the one wrapper it builds; here they would be accepted and silently ignored.
    UNSUPPORTED = ("ddp_comm_state", "ddp_comm_hook", "ddp_comm_wrapper", "model_averaging_period")

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("find_unused_parameters"):
            raise ZooError(
                "ddp_gan wraps each network separately so that nothing is unused: drop find_unused_parameters"
            )
        unsupported = [name for name in self.UNSUPPORTED if kwargs.get(name) is not None]
        if unsupported:
            raise ZooError(f"ddp_gan does not apply {', '.join(unsupported)}: use ddp_find_unused_parameters_true")
        super().__init__(**kwargs)

    def configure_ddp(self) -> None:
        module = self.lightning_module
        names = getattr(module, "ddp_networks", ())
        if not names:
            raise ZooError(f"{type(module).__name__} names no ddp_networks: use the plain ddp strategy")
        if self._layer_sync is not None and self.root_device.type == "cpu":
            raise ZooError(
                "sync_batchnorm needs GPUs (SyncBatchNorm computes only there): add --trainer.sync_batchnorm false "
                "for CPU processes"
            )
        wrappers = {name: self._setup_model(getattr(module, name)) for name in names}
        object.__setattr__(module, "ddp_wrappers", wrappers)  # a plain attribute: no submodule, no new state keys
        self.model = module

    def teardown(self) -> None:
        module = self.lightning_module
        if module is not None and "ddp_wrappers" in module.__dict__:
            object.__delattr__(module, "ddp_wrappers")
        super().teardown()

    @classmethod
    def register_strategies(cls, strategy_registry: Any) -> None:
        strategy_registry.register(
            cls.strategy_name, cls, description="DDP with each network of a GAN in its own DistributedDataParallel"
        )


def wrapped(module: Any, name: str) -> Any:
    """The DDP wrapper of ``module``'s network ``name`` under :class:`GANDDPStrategy`, or None."""
    wrapper = module.__dict__.get("ddp_wrappers", {}).get(name)
    return wrapper if isinstance(wrapper, DistributedDataParallel) else None


if GANDDPStrategy.strategy_name not in StrategyRegistry:
    GANDDPStrategy.register_strategies(StrategyRegistry)
