"""DataModules of text."""

from datamodules.text.addition import AdditionDataModule
from datamodules.text.corpus import CharCorpusDataModule, CorpusDataModule, WordCorpusDataModule
from datamodules.text.imdb import IMDBDataModule

__all__ = ["AdditionDataModule", "CharCorpusDataModule", "CorpusDataModule", "IMDBDataModule", "WordCorpusDataModule"]
