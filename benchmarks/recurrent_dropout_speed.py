"""What Keras' recurrent_dropout costs here: a training step of the IMDB BiLSTM (configs/sequence/bilstm_imdb.yaml's
model, 32 reviews x 200 words) on PyTorch's fused LSTM kernel, against the same step with recurrent_dropout 0.2,
which runs the unfused loop. Median of 10 steps after a warm-up; run it alone on the machine.

    python benchmarks/recurrent_dropout_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from lightning_zoo.sequence import RecurrentTextClassifier  # noqa: E402


def seconds_per_step(recurrent_dropout: float, steps: int = 10) -> float:
    torch.manual_seed(0)
    x, y = torch.randint(1, 5000, (32, 200)), torch.randint(0, 2, (32,))
    model = RecurrentTextClassifier(
        num_classes=2, vocab_size=5000, embedding_dim=128, hidden_size=128, bidirectional=True, dropout=0.2,
        recurrent_dropout=recurrent_dropout,
    )  # fmt: skip
    optimizer = model.configure_optimizers()
    times = []
    for _ in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        loss, _ = model.loss_and_predictions(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


if __name__ == "__main__":
    fused, loop = seconds_per_step(0.0), seconds_per_step(0.2)
    print({"fused_kernel_s": round(fused, 4), "recurrent_dropout_loop_s": round(loop, 4),
           "ratio": round(loop / fused, 2), **machine()})  # fmt: skip
