from lightning_zoo.sequence.conv1d_text import Conv1DTextClassifier, Conv1DTextNetwork
from lightning_zoo.sequence.embedding_text import EmbeddingDenseClassifier, EmbeddingDenseNetwork
from lightning_zoo.sequence.recurrent import KerasRecurrent, keras_recurrent_init_
from lightning_zoo.sequence.recurrent_text import RecurrentTextClassifier, RecurrentTextNetwork
from lightning_zoo.sequence.text_classifier import TextClassifier

__all__ = [
    "Conv1DTextClassifier",
    "Conv1DTextNetwork",
    "EmbeddingDenseClassifier",
    "EmbeddingDenseNetwork",
    "KerasRecurrent",
    "RecurrentTextClassifier",
    "RecurrentTextNetwork",
    "TextClassifier",
    "keras_recurrent_init_",
]
