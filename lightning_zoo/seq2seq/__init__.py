from lightning_zoo.seq2seq.addition import AdditionSeq2Seq

__all__ = ["AdditionSeq2Seq"]
