"""Keras' recurrent layers in PyTorch: the fused ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` kernels with Keras'
initialisation and its two dropouts, and the choice of how pre-padded sequences are read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

Cell = Literal["rnn", "lstm", "gru"]
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def keras_recurrent_init_(rnn: nn.RNNBase, single_bias: bool = False) -> nn.RNNBase:
    """Keras' recurrent initialisation: glorot_uniform input kernels, orthogonal recurrent kernels, zero biases and,
    for an LSTM, a forget-gate bias of 1 (``unit_forget_bias``). PyTorch keeps a second bias vector (``bias_hh``)
    that Keras does not have; it starts at zero, so the function is Keras'.

    With ``single_bias`` that second bias also stays out of training (``requires_grad=False``), so training is Keras'
    too: otherwise both biases receive the same gradient and the gates' bias moves twice as fast as Keras' (each gets
    a full step from RMSprop or Adam). The trainable parameter count is then Keras' count."""
    for name, weight in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(weight)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(weight)  # (gates x units, units): orthonormal columns, Keras' orthonormal rows
        else:
            nn.init.zeros_(weight)
            if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                weight.data[rnn.hidden_size : 2 * rnn.hidden_size] = 1.0  # gates i, f, g, o: f is the second
            if single_bias and name.startswith("bias_hh"):
                weight.requires_grad_(False)
    return rnn


class KerasRecurrent(nn.Module):
    """A Keras ``SimpleRNN`` / ``LSTM`` / ``GRU`` (optionally ``Bidirectional``, optionally stacked), returning the
    whole output sequence and the final state (both directions' concatenated, as ``Bidirectional`` does).

    - ``dropout`` is Keras' input dropout: one mask per sequence, the same at every time step. On the inputs of the
      fused kernel that is exact, and costs nothing.
    - ``recurrent_dropout`` drops the recurrent state with one mask per sequence (Gal and Ghahramani's variational
      dropout, as Keras). No fused kernel has it: while training with it, the time steps run in a Python loop over
      the same weights (the input projections of all steps in one matrix product); evaluation, where it is off,
      uses the fused kernel.
    - ``padding``: ``"keras"`` reads pre-padded sequences as Keras does without masking, the padding first (with
      pre-padding the final state still sees the true end of the text, but a backward direction ends in the
      padding); ``"packed"`` moves each sequence's padding (index 0) to its end and packs it, so no direction ever
      reads padding.

    Args:
        input_size: Features per time step.
        hidden_size: Units per layer and direction; a list gives each layer's (and their number).
        cell: ``"rnn"`` (Keras' SimpleRNN, tanh), ``"lstm"`` or ``"gru"`` (PyTorch's GRU is Keras' ``reset_after=True``,
            the TF 2 default; Keras 2 used ``reset_after=False``).
        num_layers: Stacked layers of ``hidden_size`` units (each but the last returns its sequence to the next).
        bidirectional: Keras' ``Bidirectional(..., merge_mode="concat")``.
        dropout: Keras' ``dropout`` of every layer.
        recurrent_dropout: Keras' ``recurrent_dropout`` of every layer.
        single_bias: Keep PyTorch's second bias vector at zero and out of training (see ``keras_recurrent_init_``),
            so that the gates' bias learns at Keras' speed and the trainable parameters are Keras'.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int | Sequence[int],
        cell: Cell = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        single_bias: bool = False,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        self.cell, self.dropout, self.recurrent_dropout = cell, dropout, recurrent_dropout
        self.directions = 2 if bidirectional else 1
        sizes = [hidden_size] * num_layers if isinstance(hidden_size, int) else list(hidden_size)
        if not sizes or min(sizes) < 1:
            raise ValueError(f"hidden_size must give at least one layer of at least 1 unit, got {hidden_size}")
        inputs = [input_size] + [units * self.directions for units in sizes[:-1]]
        # One module per layer, so that each layer's input gets its own dropout mask, as in a Keras stack.
        self.layers = nn.ModuleList(
            keras_recurrent_init_(CELLS[cell](width, units, batch_first=True, bidirectional=bidirectional), single_bias)
            for width, units in zip(inputs, sizes, strict=True)
        )
        self.output_size = sizes[-1] * self.directions

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x``: (batch, time, features). With ``lengths`` the sequences are packed (their padding at the end);
        without, every step is read. Returns the outputs (batch, time, directions x units) and the final state
        (batch, directions x units)."""
        if lengths is not None and self.training and self.recurrent_dropout:
            raise ValueError("recurrent_dropout runs the unfused loop, which reads every step: use padding='keras'")
        final = x.new_empty(0)
        for layer in self.layers:
            if self.training and self.dropout:
                x = x * self._mask(x.shape[0], x.shape[-1], self.dropout, x).unsqueeze(1)
            if self.training and self.recurrent_dropout:
                x, final = self._unfused(layer, x)
                continue
            if lengths is None:
                x, state = layer(x)
            else:
                packed, state = layer(pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))
                x = nn.utils.rnn.pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])[0]
            h = state[0] if isinstance(state, tuple) else state
            final = torch.cat(list(h[-self.directions :]), dim=-1)  # forward's last state, then backward's
        return x, final

    @staticmethod
    def _mask(batch: int, width: int, rate: float, like: Tensor) -> Tensor:
        return F.dropout(like.new_ones(batch, width), rate, training=True)

    def _unfused(self, layer: nn.RNNBase, x: Tensor) -> tuple[Tensor, Tensor]:
        """One layer step by step, its recurrent state dropped with one mask per sequence and direction. Both
        directions advance in the same Python steps (batched matrix products), which halves the loop's overhead."""
        suffixes = ("", "_reverse")[: self.directions]
        w_ih, w_hh, b_ih, b_hh = (
            torch.stack([getattr(layer, f"{name}_l0{suffix}") for suffix in suffixes])
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        steps = torch.stack([x, x.flip(1)][: self.directions])  # (directions, batch, time, features)
        projected = steps @ w_ih.transpose(1, 2).unsqueeze(1) + b_ih[:, None, None]  # every step's input at once
        batch, units = x.shape[0], layer.hidden_size
        masks = torch.stack([self._mask(batch, units, self.recurrent_dropout, x) for _ in suffixes])
        h = c = x.new_zeros(self.directions, batch, units)
        out = []
        # unbind, not projected[:, :, t]: each indexing's backward would fill a zero tensor of the whole projection
        for projected_t in projected.unbind(2):
            recurrent = torch.baddbmm(b_hh[:, None], h * masks, w_hh.transpose(1, 2))
            if self.cell == "lstm":
                i, f, g, o = (projected_t + recurrent).chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            elif self.cell == "gru":  # PyTorch's (and Keras' reset_after) formulation
                x_r, x_z, x_n = projected_t.chunk(3, dim=-1)
                h_r, h_z, h_n = recurrent.chunk(3, dim=-1)
                r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
                h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
            else:
                h = torch.tanh(projected_t + recurrent)
            out.append(h)
        sequences = torch.stack(out, dim=2)  # (directions, batch, time, units), each in its own reading order
        outputs = [sequences[0], *([sequences[1].flip(1)] if self.directions == 2 else [])]
        return torch.cat(outputs, dim=-1), torch.cat(list(h), dim=-1)


def padding_to_end(tokens: Tensor, pad: int = 0) -> tuple[Tensor, Tensor]:
    """Pre-padded token rows (padding ``pad`` first) with the padding moved to the end, and their lengths (at
    least 1, so that an empty review is one padding step rather than an error)."""
    lengths = (tokens != pad).sum(dim=1).clamp(min=1)
    steps = tokens.shape[1]
    start = steps - lengths
    order = (torch.arange(steps, device=tokens.device).unsqueeze(0) + start.unsqueeze(1)) % steps
    return tokens.gather(1, order), lengths
