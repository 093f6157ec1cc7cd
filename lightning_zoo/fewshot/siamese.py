"""The convolutional Siamese network of "Hands-On Deep Learning Architectures with Python" (ch. 8, meta-learning) for
few-shot face recognition on the ORL faces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lightning_zoo.cards import HANDS_ON, Card, Result
from lightning_zoo.fewshot.base import BOOK_WAYS, PairModelBase
from lightning_zoo.keras import KerasOptimizer, keras_init_, keras_optimizer
from lightning_zoo.layers import checked_image_shape


class SiameseTower(nn.Sequential):
    """The network both images go through: Conv(16, 6x6, 'valid') - ReLU - MaxPool 2 - Dropout 0.25 - Flatten -
    Dense 50 - ReLU - Dropout 0.1; Keras' initialisation. Usable without Lightning."""

    def __init__(
        self,
        input_shape: Sequence[int],
        filters: int = 16,
        kernel_size: int = 6,
        features: int = 50,
        dropout: tuple[float, float] = (0.25, 0.1),
    ) -> None:
        convolution = nn.Sequential(
            nn.Conv2d(input_shape[0], filters, kernel_size), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(dropout[0]),
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            width = convolution(torch.zeros(1, *input_shape)).shape[1]
        super().__init__(*convolution, nn.Linear(width, features), nn.ReLU(), nn.Dropout(dropout[1]))
        keras_init_(self)


class SiameseNetwork(PairModelBase):
    """Hands-On E10: a shared :class:`SiameseTower`, the element-wise distance ``|f1 - f2|`` and Dense(1) to the logit
    of "same person"; binary cross-entropy, Adam 1e-3 (Keras' epsilon), batch 64, 10 epochs on 8,000 pairs.

    Args:
        input_shape: (channels, height, width) of the faces, linked from the DataModule (ORL: 1 x 112 x 92).
        filters: Filters of the convolution.
        kernel_size: Its square kernel.
        features: Width of the tower's output.
        dropout: After the pooling and after the dense layer.
        optimizer: A Keras optimizer with Keras' defaults.
        lr: Learning rate; default Keras' for the optimizer (Adam: 1e-3, the book's).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 112, 92),
        filters: int = 16,
        kernel_size: int = 6,
        features: int = 50,
        dropout: tuple[float, float] = (0.25, 0.1),
        optimizer: KerasOptimizer = "adam",
        lr: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        checked_image_shape(
            type(self).__name__, input_shape, min_side=2 * kernel_size,
            fix=f" (its {kernel_size}x{kernel_size} convolution and pooling)",
        )  # fmt: skip
        self.tower = SiameseTower(input_shape, filters, kernel_size, features, dropout)
        self.head = nn.Linear(features, 1)
        keras_init_(self.head)
        self.example_input_array = (torch.zeros(2, *input_shape), torch.zeros(2, *input_shape))

    def embed(self, images: Tensor) -> Tensor:
        return self.tower(images)

    def pair_logit(self, first: Tensor, second: Tensor) -> Tensor:
        return self.head((first - second).abs()).squeeze(-1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return keras_optimizer(self.hparams.optimizer, self.parameters(), self.hparams.lr)


def one_shot_results(
    prefix: str, evaluated: str, book: dict[int, tuple[float, float]], ways: Sequence[int], book_draw: bool
) -> tuple:
    """The card's results: the model's accuracy at each N of ``ways`` and the pixel nearest neighbour's at the first
    and the last. With ``book_draw`` they are the trials as the book draws them (its numbers' protocol), and the
    model's with distinct distractor subjects follow at the first and the last N."""
    draw = "_book_draw" if book_draw else ""
    rows = [(n, "", f"model{draw}_pct", 0) for n in ways]
    rows += [(n, " (pixel 1-NN)", f"pixel_nn{draw}_pct", 1) for n in (ways[0], ways[-1])]
    if book_draw:
        rows += [(n, ", distinct distractors", "model_pct", None) for n in (ways[0], ways[-1])]
    return tuple(
        Result(
            f"{n}-way one-shot accuracy{who}",
            book[n][column] * 100 if n in book and column is not None else None,
            evaluated if column is not None else "as above, each distractor another subject than the query's",
            ours=f"{prefix}.json:n_way.{n}.{key}",
            unit="%",
            tolerance=3.0 if n in book and column is not None else None,
            note=f"mean of {{seeds_run}} seeds, range {{seed_range[{n}_{key}]}}; 1,000 trials each, after "
            "{epochs} epochs",
        )
        for n, who, key, column in rows
    )


# Hands-On E10's table (l.1404): Siamese accuracy and the pixel 1-NN baseline at each N.
BOOK_TABLE = {4: (0.963, 0.876), 9: (0.931, 0.752), 16: (0.845, 0.663), 25: (0.767, 0.55), 36: (0.679, 0.497),
              40: (0.659, 0.478)}  # fmt: skip
FIXES = (
    "faces are read upright as 1 x 112 x 92; the book's reshape of the (112, 92) array to (92, 112) scrambles rows",
    "every distinct positive pair is used once before any repeats (the book draws a subject with replacement per "
    "pair); validation pairs are half positive (the book's validation_split takes its last 10 %: only negatives)",
    "N-way tests are also run with distinct distractor subjects (the book draws subjects with replacement, so a "
    "distractor can be the query's own subject); the true match sits at a random place (the book puts it first)",
    "the sigmoid lives in the loss: Keras 2's binary cross-entropy on the logit, its clip of the probability to "
    "[1e-7, 1 - 1e-7] included (lightning_zoo.keras.keras_binary_crossentropy)",
)

CARDS = (
    Card(
        name="siamese_orl",
        family="pair",
        source=f"{HANDS_ON}, ch. 8, metric-based meta-learning (spec E10)",
        config="configs/fewshot/siamese_orl.yaml",
        dataset="ORL / AT&T faces (40 subjects x 10)",
        parameters={"": 1_823_893},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (1, 112, 92)},
        results=one_shot_results(
            "siamese_orl",
            "1,000 trials on the 40 subjects it trained on, subjects drawn with replacement (the book's protocol)",
            BOOK_TABLE,
            BOOK_WAYS,
            book_draw=True,
        ),
        deviations=FIXES,
    ),
    Card(
        name="siamese_orl_unseen_subjects",
        family="pair",
        source="the zoo's honest protocol for Hands-On E10",
        config="configs/fewshot/siamese_orl_unseen_subjects.yaml",
        dataset="ORL faces: train on s1-s30, test on s31-s40",
        parameters={"": 1_823_893},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (1, 112, 92)},
        results=one_shot_results(
            "siamese_orl_unseen_subjects",
            "1,000 trials on 10 subjects no training pair showed, distinct distractors",
            {},
            (4, 9, 10),
            book_draw=False,
        ),
        deviations=FIXES,
    ),
)
