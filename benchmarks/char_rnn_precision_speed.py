"""Which precision lets a War and Peace schedule fit a device call: a training step (forward, Keras loss, backward,
RMSprop) of a language config's CharRNN at its batch and sequence length, in float32 and in bf16 autocast (cuDNN's
recurrent kernels in bf16), median of ``--steps`` after warm-ups; each turned into seconds an epoch (the corpus'
batches) and the epochs that fit ``--budget`` seconds. Prints the precision to run with (``--pick``, see
:func:`pick_precision`). Writes benchmarks/results/<name>.json. On one H100 (2026-12-06) E2's step took 20.9 ms in
float32 and 20.0 in bf16: the recurrent loop is bound by its 160 steps' latency, not by arithmetic.

    python benchmarks/char_rnn_precision_speed.py --config configs/language/char_lstm_warpeace.yaml --steps 3
    python benchmarks/char_rnn_precision_speed.py --config configs/language/char_lstm_warpeace.yaml \\
        --device cuda --budget 450 --reach 151 --name char_lstm_precision_speed_gpu --pick
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, scheduled_epochs, write_result  # noqa: E402
from lightning_zoo.language import CharRNN  # noqa: E402

WAR_AND_PEACE = {"vocab": 57, "characters": 3_196_215}  # the book's reading of the corpus (BOM and \r kept)


def seconds_per_step(model: CharRNN, batch: int, length: int, device: str, bf16: bool, steps: int) -> float:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.hparams.vocab_size, (batch, length + 1), generator=generator).to(device)
    optimizer = model.configure_optimizers()
    autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times = []
    for _ in range(steps + 2):  # two warm-ups: cuDNN picks its kernels at the first
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            loss, _ = model.loss_and_predictions(model(tokens[:, :-1]), tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def pick_precision(float32_epochs: int, bf16_epochs: int, scheduled: int | None, reach: int | None) -> str:
    """float32, the book's precision, unless bf16 alone brings a book figure within the budget: the whole schedule,
    or ``reach`` epochs (E2's 151, the first epoch the book prints a loss for)."""
    for milestone in (m for m in (scheduled, reach) if m is not None):
        if float32_epochs >= milestone:
            return "32-true"
        if bf16_epochs >= milestone:
            return "bf16-mixed"
    return "32-true"  # neither reaches a figure: a bf16 curve would only be a little longer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="a CharRNN config on War and Peace")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each precision")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds of training the call allows")
    parser.add_argument("--reach", type=int, help="epochs worth bf16 to reach before the schedule's end (E2: 151)")
    parser.add_argument("--overhead", type=float, default=1.1, help="the trainer's loop over the bare steps")
    parser.add_argument("--name", default="char_rnn_precision_speed")
    parser.add_argument("--pick", action="store_true", help="print only the precision to run with, last")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    data = config["data"]["init_args"]
    model = CharRNN(vocab_size=WAR_AND_PEACE["vocab"], **config["model"]["init_args"]).to(args.device).train()
    batch, length = data["batch_size"], data["sequence_length"]
    windows = (WAR_AND_PEACE["characters"] - 1) // length  # non-overlapping, as the DataModule cuts them
    batches = -(-windows // batch)  # the last, smaller batch kept
    epochs = scheduled_epochs(args.config)
    result = {"config": args.config, "batch": batch, "sequence_length": length, "batches_per_epoch": batches}
    for precision, bf16 in (("32-true", False), ("bf16-mixed", True)):
        step = seconds_per_step(model, batch, length, args.device, bf16, args.steps)
        epoch = step * batches * args.overhead
        result[precision] = {"seconds_per_step": round(step, 5), "seconds_per_epoch_estimate": round(epoch, 2),
                             "epochs_in_budget": int(args.budget // epoch)}  # fmt: skip
    pick = pick_precision(*(result[p]["epochs_in_budget"] for p in ("32-true", "bf16-mixed")), epochs, args.reach)
    result.update(budget_seconds=args.budget, scheduled_epochs=epochs, reach=args.reach, pick=pick, machine=machine())
    write_result(args.name, result)
    if args.pick:
        print(pick)


if __name__ == "__main__":
    main()
