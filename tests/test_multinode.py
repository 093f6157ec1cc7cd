"""Several machines, shown on one: two "nodes" of one process each on the loopback interface, launched by
torchrun as on a cluster (Lightning's TorchElasticEnvironment, never a launcher of the zoo's own); and the SLURM
example, whose flags the CLI must accept."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from lightning_zoo.cli import ZooCLI
from lightning_zoo.registry import card
from tests.conftest import CLI, PYTHON, ROOT, subprocess_env
from tests.helpers.contract import build, cli_args, ddp_fit, rank_reports, weights
from tests.helpers.train import assert_same_state

pytestmark = [pytest.mark.ddp, pytest.mark.slow]
TORCHRUN = str(Path(PYTHON).with_name("torchrun"))
# A GAN: its strategy (each network in its own DDP wrapper) is the zoo's own, where several nodes could go wrong;
# the other families' plain DDP is Lightning's, and each family's runs as 2 processes in tests/test_contract.py.
CARD = "gan_mnist"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(card_name: str, data_root: Path, root: Path, strategy: str, *extra: str) -> None:
    """``torchrun --nnodes 2 --node-rank {0,1}`` of the card's config, one process per node, both on 127.0.0.1."""
    port = free_port()
    topology = ["--trainer.num_nodes", "2", "--trainer.devices", "1", "--trainer.accelerator", "cpu"]
    args = cli_args(card(card_name), data_root, root, "--trainer.max_epochs", "2", *topology,
                    "--trainer.strategy", strategy, *extra)  # fmt: skip
    nodes = [
        subprocess.Popen(
            [
                TORCHRUN,
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(rank),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                str(port),
                CLI,
                "fit",
                *args,
            ],  # fmt: skip
            env=subprocess_env(),
            cwd=root.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-3000:]


def test_two_nodes_train_as_two_processes_of_one_node_and_resume(data_root, tmp_path):
    strategy = type(build(card(CARD), data_root).model).ddp_strategy
    probe = ["--trainer.callbacks+=tests.helpers.probe.RankProbe", "--trainer.callbacks.out_dir",
             str(tmp_path / "probe"), "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_top_k", "-1",
             "--trainer.callbacks.dirpath", str(tmp_path / "epochs")]  # fmt: skip
    two_nodes(CARD, data_root, tmp_path / "nodes", strategy, "--trainer.limit_train_batches", "4", *probe)
    ranks = rank_reports(tmp_path / "probe")
    for batch0, batch1 in zip(ranks[0]["samples"], ranks[1]["samples"], strict=True):
        assert not set(batch0) & set(batch1)  # each node's process its own shard
    assert ranks[0]["metrics"] == ranks[1]["metrics"] and ranks[0]["parameters"] == ranks[1]["parameters"]
    # The same run as 2 processes of one node (Lightning's own launcher) ends with bitwise the same weights.
    ddp_fit(card(CARD), data_root, tmp_path / "one_node", 2, strategy, "--trainer.limit_train_batches", "4")
    nodes_weights = weights(next((tmp_path / "epochs").glob("epoch=1-*.ckpt")))
    assert_same_state(nodes_weights, weights(tmp_path / "one_node/checkpoints/last.ckpt"))
    # Resumed across the same topology from the end of epoch 1: bitwise again.
    after_epoch_1 = next((tmp_path / "epochs").glob("epoch=0-*.ckpt"))
    two_nodes(CARD, data_root, tmp_path / "resumed", strategy, "--trainer.limit_train_batches", "4",
              "--ckpt_path", str(after_epoch_1))  # fmt: skip
    assert_same_state(nodes_weights, weights(tmp_path / "resumed/checkpoints/last.ckpt"))


def test_the_slurm_example_asks_for_what_its_cli_flags_say(capsys):
    script = (ROOT / "configs/slurm/dcgan_2_nodes.sbatch").read_text()
    sbatch = dict(re.findall(r"^#SBATCH --([\w-]+)=?(\S*)", script, flags=re.M))
    assert sbatch["signal"].startswith("SIGUSR1@") and "requeue" in sbatch
    command = shlex.split(script[script.index("srun ") :].replace("\\\n", " "))
    assert command[:4] == ["srun", ".venv/bin/python", "cli.py", "fit"]
    args = [str(ROOT / a) if a.startswith("configs/") else a for a in command[4:]]
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", *args, "--print_config"])
    assert exit_.value.code == 0
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert trainer["num_nodes"] == int(sbatch["nodes"]) and int(trainer["devices"]) == int(sbatch["ntasks-per-node"])
    assert sbatch["gpus-per-node"] == sbatch["ntasks-per-node"]  # one task per GPU, as Lightning expects
    assert trainer["strategy"] == "ddp_gan"  # a GAN under DDP: each network in its own DDP wrapper
