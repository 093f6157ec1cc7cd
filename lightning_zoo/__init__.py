"""lightning-zoo: the classic architectures of well-known deep-learning books as PyTorch Lightning modules."""

from lightning_zoo.core import ZooError, ZooModule

__version__ = "0.1.0"
__all__ = ["ZooError", "ZooModule", "__version__"]
