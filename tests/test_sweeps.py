"""W&B sweep files, tested offline as far as they can be without the W&B server: each parses, each command the agent
would run for sampled values parses with the zoo's own CLI and sets what it sweeps, and the metric each optimises
is one its runs log."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

from benchmarks.table_1_3_3 import TABLE_1_3_3
from lightning_zoo.cli import ZooCLI
from tests.conftest import ROOT

SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def sampled_values(spec: dict[str, Any]) -> list[Any]:
    """A few values the sweep could give a parameter: all of a list, or the ends and middle of a distribution."""
    if "values" in spec:
        return list(spec["values"])
    if "value" in spec:
        return [spec["value"]]
    low, high = spec["min"], spec["max"]
    middle = math.sqrt(low * high) if "log" in spec.get("distribution", "") else (low + high) / 2
    return [low, middle, high]


def agent_command(sweep: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The command line W&B's agent runs for ``params`` (its own macro expansion, as in wandb_agent.Agent)."""
    variables = create_sweep_command_args({"args": {k: {"value": v} for k, v in params.items()}})
    variables.update(interpreter=["python"], program=[sweep["program"]], env=["/usr/bin/env"])
    command = []
    for chunk in create_sweep_command(list(sweep["command"])):
        chunk = str(chunk)
        command += variables.get(chunk[2:-1], []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return command


def cli_args(command: list[str]) -> list[str]:
    """The zoo's CLI arguments of an agent command, without the subcommand (the tests build, not run)."""
    assert command[:3] == ["/usr/bin/env", "python", "cli.py"] and command[3] == "fit", command
    return [arg.replace("configs/", str(ROOT / "configs") + "/", 1) if arg.startswith("configs/") else arg
            for arg in command[4:]]  # fmt: skip


def test_there_are_the_two_sweeps():
    assert [p.name for p in SWEEPS] == ["gan_mnist_bayes.yaml", "mlp_table_1_3_3.yaml"]


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_a_sweep_file_runs_the_zoos_cli_and_names_a_goal(path):
    sweep = load(path)
    assert sweep["program"] == "cli.py" and "${args}" in sweep["command"] and "fit" in sweep["command"]
    assert sweep["method"] in ("grid", "random", "bayes") and sweep["metric"]["goal"] in ("minimize", "maximize")
    assert sweep["parameters"]


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_every_command_the_agent_would_run_parses_and_sets_what_it_sweeps(path, data_root):
    sweep = load(path)
    for name, spec in sweep["parameters"].items():
        for value in sampled_values(spec):
            args = cli_args(agent_command(sweep, {name: value}))
            model = ZooCLI(args=[*args, "--data.data_dir", str(data_root)], run=False).model
            if name == "config":  # a row of Table 1.3.3, as an override
                override = yaml.safe_load(value)["model"]["init_args"]
                assert all(model.hparams[k] == v or list(model.hparams[k]) == v for k, v in override.items())
            else:
                assert name.startswith("model.") and model.hparams[name.removeprefix("model.")] == value


def test_hyperband_can_stop_a_run_before_it_ends(data_root):
    """W&B's hyperband counts the reports of the metric, not epochs: its first bracket must come before the last."""
    sweep = load(ROOT / "configs/sweeps/gan_mnist_bayes.yaml")
    assert sweep["early_terminate"]["type"] == "hyperband"
    params = {name: sampled_values(spec)[0] for name, spec in sweep["parameters"].items()}
    cli = ZooCLI(args=[*cli_args(agent_command(sweep, params)), "--data.data_dir", str(data_root)], run=False)
    [every] = [c.every_n_epochs for c in cli.trainer.callbacks if type(c).__name__ == "ClassifierFID"]
    reports = cli.trainer.max_epochs // every
    assert sweep["early_terminate"]["min_iter"] < reports


def test_the_table_sweep_holds_the_books_18_rows():
    values = load(ROOT / "configs/sweeps/mlp_table_1_3_3.yaml")["parameters"]["config"]["values"]
    assert len(values) == len(TABLE_1_3_3) == 18
    for (hidden, dropout, l2, optimizer, relu, _, _), value in zip(TABLE_1_3_3.values(), values, strict=True):
        wanted = {"hidden_units": list(hidden), "dropout": dropout, "l2": l2, "optimizer": optimizer, "relu": relu}
        defaults = {"hidden_units": [256, 256], "dropout": 0.45, "l2": 0.0, "optimizer": "adam", "relu": True}
        assert {**defaults, **yaml.safe_load(value)["model"]["init_args"]} == wanted


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_the_metric_a_sweep_optimises_is_one_its_runs_log(path, data_root):
    sweep = load(path)
    params = {name: sampled_values(spec)[0] for name, spec in sweep["parameters"].items()}
    args = cli_args(agent_command(sweep, params))
    short = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
             "--trainer.logger", "false", "--data.data_dir", str(data_root)]  # fmt: skip
    if "lightning_zoo.metrics.ClassifierFID" in " ".join(args):
        short += ["--trainer.callbacks.num_samples", "32", "--trainer.callbacks.kid_subset_size", "16"]
    cli = ZooCLI(args=["fit", *args, *short])
    assert sweep["metric"]["name"] in cli.trainer.callback_metrics


def test_the_readme_holds_the_offline_table_as_generated():
    from benchmarks.table_1_3_3 import REPORT, markdown

    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- table 1.3.3: generated by `python benchmarks/table_1_3_3.py --markdown` -->")
    end = readme.index("<!-- end of table 1.3.3 -->")
    report = json.loads(REPORT.read_text()) if REPORT.is_file() else {"rows": {}}
    assert readme[start:end].split("\n", 1)[1] == markdown(report)
