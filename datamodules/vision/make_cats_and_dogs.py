"""Builds DLwP's cats-vs-dogs subset from Kaggle's unpacked ``train/`` folder, once:

    python -m datamodules.vision.make_cats_and_dogs --kaggle-train ~/Downloads/train --to data/cats_and_dogs_small

A module of its own: ``python -m datamodules.vision.cats_and_dogs`` would run a module its package has already
imported, which Python warns about.
"""

from datamodules.vision.cats_and_dogs import main

if __name__ == "__main__":
    main()
