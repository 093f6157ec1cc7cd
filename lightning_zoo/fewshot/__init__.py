from lightning_zoo.fewshot.base import PairModelBase, n_way_one_shot
from lightning_zoo.fewshot.siamese import SiameseNetwork, SiameseTower

__all__ = ["PairModelBase", "SiameseNetwork", "SiameseTower", "n_way_one_shot"]
