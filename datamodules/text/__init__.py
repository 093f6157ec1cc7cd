"""DataModules of text."""

from datamodules.text.imdb import IMDBDataModule

__all__ = ["IMDBDataModule"]
