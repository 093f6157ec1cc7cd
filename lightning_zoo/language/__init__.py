from lightning_zoo.language.base import LanguageModelBase, TextSamples, pick_token
from lightning_zoo.language.char_rnn import CharRNN
from lightning_zoo.language.word_lstm import WordLSTM

__all__ = ["CharRNN", "LanguageModelBase", "TextSamples", "WordLSTM", "pick_token"]
