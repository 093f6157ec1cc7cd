"""What a GAN's discriminator outputs in its first training steps: for every batch, the mean and spread of its
output on the real batch and on the generated batch in the discriminator's step (before that step's update), on the
generated batch in the generator's step, and the two losses. Recorded by a forward hook, so the run is the config's
own, unchanged. Writes benchmarks/results/discriminator_outputs_<name>.json and a plot of the outputs per batch.

    python benchmarks/discriminator_outputs.py --config configs/gan/lsgan64_pokemon.yaml --batches 130 \\
        --data.folder DIR/pokemon/images
    python benchmarks/discriminator_outputs.py --config configs/gan/lsgan_mnist.yaml --batches 130

The losses of the zoo's GANs call the discriminator on the real batch first and on the generated one second (the
conditional and Wasserstein GANs too); the script relies on that order.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytorch_lightning import Callback  # noqa: E402

from benchmarks.common import RESULTS, add_data_dir, machine, quiet_fit, write_result  # noqa: E402


def output_stats(output: Any) -> tuple[float, float]:
    """Mean and standard deviation of a discriminator's output (its first tensor where it returns several)."""
    scores = (output[0] if isinstance(output, (tuple, list)) else output).detach().float()
    return round(scores.mean().item(), 4), round(scores.std().item(), 4)


class DiscriminatorOutputs(Callback):
    """Records, for each of the first ``batches`` training batches, the discriminator's output statistics in the
    discriminator's step (on the real, then the generated batch) and in the generator's step, and both losses; then
    stops the run."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.rows: list[dict] = []
        self._phase: str | None = None
        self._calls: dict[str, list[tuple[float, float]]] = {"d": [], "g": []}
        self._losses: dict[str, float] = {}

    def on_fit_start(self, trainer, pl_module) -> None:
        pl_module.discriminator.register_forward_hook(self._record)
        for phase, step in (("d", "discriminator_step"), ("g", "generator_step")):
            setattr(pl_module, step, self._in_phase(phase, getattr(pl_module, step)))

    def _in_phase(self, phase: str, step):
        def wrapped(*args, **kwargs):
            self._phase = phase
            try:
                loss = step(*args, **kwargs)
            finally:
                self._phase = None
            self._losses[phase] = round(float(loss), 4)
            return loss

        return wrapped

    def _record(self, module, inputs, output) -> None:
        if self._phase is not None:
            self._calls[self._phase].append(output_stats(output))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        d_calls, g_calls = self._calls["d"], self._calls["g"]
        row: dict[str, Any] = {"batch": len(self.rows) + 1, "d_loss": self._losses.get("d")}
        if len(d_calls) >= 2:  # the first discriminator step of the batch: real, then generated
            (row["real_mean"], row["real_std"]), (row["fake_mean"], row["fake_std"]) = d_calls[0], d_calls[1]
        if g_calls:
            row["g_loss"] = self._losses.get("g")
            row["fake_mean_in_g_step"], row["fake_std_in_g_step"] = g_calls[0]
        self.rows.append(row)
        self._calls, self._losses = {"d": [], "g": []}, {}
        if len(self.rows) >= self.batches:
            trainer.should_stop = True


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    for key, label, colour in (("real", "D(real batch)", "tab:blue"), ("fake", "D(generated batch)", "tab:red")):
        points = [r for r in rows if f"{key}_mean" in r]
        x = [r["batch"] for r in points]
        mean = [r[f"{key}_mean"] for r in points]
        spread = [r[f"{key}_std"] for r in points]
        axis.plot(x, mean, color=colour, label=f"{label}, mean")
        low = [m - s for m, s in zip(mean, spread, strict=True)]
        high = [m + s for m, s in zip(mean, spread, strict=True)]
        axis.fill_between(x, low, high, color=colour, alpha=0.2)
    axis.set(xlabel="batch", ylabel="discriminator output (band: +-1 std over the batch)", title=title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def summary(rows: list[dict], first: int, last: int) -> dict:
    """Medians over batches ``first``..``last``: of the outputs, of the gap between the real and generated batch's
    mean output (what the discriminator's targets ask for: 1 for LSGAN's 0-1 coding) and, where the generator stepped
    on the batch, of how far one discriminator update moved its mean output on that generated batch (the generator
    step sees the same images, from the same latent and generator, through the updated discriminator)."""
    window = [r for r in rows if first <= r["batch"] <= last and "real_mean" in r]
    if not window:
        return {}
    median = lambda values: round(statistics.median(values), 3)  # noqa: E731
    shifts = [abs(r["fake_mean_in_g_step"] - r["fake_mean"]) for r in window if "fake_mean_in_g_step" in r]
    return {
        "batches": [first, last],
        "real_mean": median(r["real_mean"] for r in window),
        "fake_mean": median(r["fake_mean"] for r in window),
        "real_std": median(r["real_std"] for r in window),
        "real_minus_fake": median(r["real_mean"] - r["fake_mean"] for r in window),
        "d_loss": median(r["d_loss"] for r in window),
        "g_loss": median(r["g_loss"] for r in window if "g_loss" in r) if shifts else None,
        "d_update_shift_on_fake": median(shifts) if shifts else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--batches", type=int, default=130, help="training batches to record")
    parser.add_argument("--name", help="results file name (default: discriminator_outputs_<config>)")
    args, cli_args = parser.parse_known_args()
    if args.batches < 1:
        parser.error("--batches must be at least 1")
    name = args.name or f"discriminator_outputs_{args.config.stem}"
    recorder = DiscriminatorOutputs(args.batches)
    # Epochs enough for the batches however short an epoch is; the recorder stops the run.
    quiet_fit(args.config, args.data_dir, args.batches, [recorder], cli_args)
    rows = recorder.rows
    plot(rows, RESULTS / f"{name}.png", f"{args.config.stem}: the discriminator's outputs, first {len(rows)} batches")
    tenth = max(1, len(rows) // 10)
    write_result(
        name,
        {
            "what": "the discriminator's output on the real and the generated batch in each discriminator step "
            "(before its update), mean and std over the batch; losses of the step",
            "config": str(args.config),
            "options": cli_args,
            "first_tenth": summary(rows, 1, tenth),
            "last_tenth": summary(rows, len(rows) - tenth + 1, len(rows)),
            "plot": f"{name}.png",
            "batches": rows,
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
