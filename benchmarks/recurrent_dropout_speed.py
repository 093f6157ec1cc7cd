"""What the recurrent loop costs here: a training step of the IMDB BiLSTM (configs/sequence/bilstm_imdb.yaml's model,
32 reviews x 200 words) on PyTorch's fused LSTM kernel, against the same step with recurrent_dropout 0.2 (the unfused
loop), and with the book's Keras 2.2 LSTM (hard_sigmoid gates and a dropout mask per gate: the loop, in evaluation
too); and an evaluation batch of each. Median of 10 steps after a warm-up; run it alone on the machine. Writes
benchmarks/results/recurrent_loop_speed.json.

    python benchmarks/recurrent_dropout_speed.py
    python benchmarks/recurrent_dropout_speed.py --steps 3 --threads 1 --name recurrent_loop_speed_1_thread
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, write_result  # noqa: E402
from lightning_zoo.sequence import RecurrentTextClassifier  # noqa: E402

KERAS_2_2 = {"recurrent_activation": "hard_sigmoid", "mask_per_gate": True}


def seconds_per_step(training: bool = True, steps: int = 10, **options) -> float:
    torch.manual_seed(0)
    x, y = torch.randint(1, 5000, (32, 200)), torch.randint(0, 2, (32,))
    model = RecurrentTextClassifier(
        num_classes=2, vocab_size=5000, embedding_dim=128, hidden_size=128, bidirectional=True, dropout=0.2, **options
    ).train(training)
    optimizer = model.configure_optimizers()
    times = []
    for _ in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        if training:
            loss, _ = model.loss_and_predictions(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each variant, after one warm-up")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--name", default="recurrent_loop_speed", help="results file name (default: %(default)s)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps
    fused = seconds_per_step(recurrent_dropout=0.0, steps=steps)
    loop = seconds_per_step(recurrent_dropout=0.2, steps=steps)
    keras_2_2 = seconds_per_step(recurrent_dropout=0.2, steps=steps, **KERAS_2_2)
    fused_eval, keras_2_2_eval = seconds_per_step(False, steps), seconds_per_step(False, steps, **KERAS_2_2)
    write_result(
        args.name,
        {
            "what": "seconds per batch (32 reviews x 200 words; training: forward + backward + RMSprop step), median "
            f"of {steps} after a warm-up, alone on the machine",
            "fused_kernel_s": round(fused, 4),
            "unfused_loop_with_recurrent_dropout_0.2_s": round(loop, 4),
            "ratio": round(loop / fused, 2),
            "keras_2_2_lstm_loop_s": round(keras_2_2, 4),
            "keras_2_2_ratio": round(keras_2_2 / fused, 2),
            "evaluation_fused_kernel_s": round(fused_eval, 4),
            "evaluation_keras_2_2_lstm_loop_s": round(keras_2_2_eval, 4),
            "evaluation_keras_2_2_ratio": round(keras_2_2_eval / fused_eval, 2),
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
