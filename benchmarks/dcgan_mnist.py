"""The book's DCGAN (configs/gan/dcgan_mnist.yaml) through benchmarks/gan.py, 50 epochs unless told otherwise; kept
for the commands recorded in benchmarks/results/dcgan_mnist*.json. Its options are gan.py's.

    python benchmarks/dcgan_mnist.py --data-dir ../shared/data --epochs 3    # run (or continue) to epoch 3
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gan import main  # noqa: E402

if __name__ == "__main__":
    defaults = {"--config": "configs/gan/dcgan_mnist.yaml", "--epochs": "50", "--name": "dcgan_mnist"}
    sys.argv[1:1] = [arg for option, value in defaults.items() if option not in sys.argv for arg in (option, value)]
    main()
