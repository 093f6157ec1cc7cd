"""Keras' recurrent layers in PyTorch: the fused ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` kernels with Keras'
initialisation and its two dropouts, and the choice of how pre-padded sequences are read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

Cell = Literal["rnn", "lstm", "gru"]
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
Activation = Literal["tanh", "relu"]
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


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


GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def hard_sigmoid(x: Tensor) -> Tensor:
    """Keras' ``hard_sigmoid``: ``0.2 x + 0.5`` clipped to [0, 1] (``F.hardsigmoid`` has slope 1/6, not Keras')."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


# The cards of models on a fused LSTM (no unfused loop to run Keras 2's gates in) say so.
FUSED_SIGMOID_GATES = (
    "The LSTM's gates are sigmoid (Keras 2.3 on, PyTorch's fused kernel); the {}'s Keras 2 had hard_sigmoid gates "
    "(0.2 x + 0.5, clipped), which the fused kernel does not offer."
)


def keras2_options(cell: str) -> dict[str, object]:
    """:class:`KerasRecurrent`'s options for the recurrent layer of the books' Keras 2.0-2.2: one bias vector,
    hard_sigmoid gates and a dropout mask per gate (``implementation`` 0 and 1), and a GRU's reset gate before its
    recurrent product (``reset_after=False``). A SimpleRNN needs only the one bias vector (it has no gates)."""
    if cell == "rnn":
        return {"single_bias": True}
    gru = {"reset_after": False} if cell == "gru" else {}
    return {"single_bias": True, "recurrent_activation": "hard_sigmoid", "mask_per_gate": True, **gru}


class KerasRecurrent(nn.Module):
    """A Keras ``SimpleRNN`` / ``LSTM`` / ``GRU`` (optionally ``Bidirectional``, optionally stacked), returning the
    whole output sequence and the final state (both directions' concatenated, as ``Bidirectional`` does).

    - ``dropout`` is Keras' input dropout: one mask per sequence, the same at every time step, applied to the layer's
      inputs (free on the fused kernel). A bidirectional layer's two directions share it; the two layers of Keras'
      ``Bidirectional`` draw one each, as ``mask_per_gate`` does.
    - ``recurrent_dropout`` drops the recurrent state with one mask per sequence (Gal and Ghahramani's variational
      dropout, as Keras). No fused kernel has it: while training with it, the time steps run in a Python loop over
      the same weights (the input projections of all steps in one matrix product); evaluation, where it is off,
      uses the fused kernel.
    - Keras before 2.3 (the books' Keras 2.0-2.2) differs from today's in two defaults that no fused kernel has:
      the gates' ``recurrent_activation`` was ``hard_sigmoid``, and ``implementation=1`` drew a separate dropout
      and recurrent-dropout mask for each gate (of each direction). ``recurrent_activation="hard_sigmoid"`` and
      ``mask_per_gate`` reproduce them in the loop (hard_sigmoid runs it in evaluation too). Keras 2's GRU also
      defaulted to ``reset_after=False`` (the reset gate scales the state before its product, one bias vector):
      ``reset_after=False`` with ``single_bias`` is that GRU, in the loop.
    - ``activation`` other than tanh (the relu GRU of "Deep Learning with Python" 6.3) runs an LSTM or GRU in the
      loop too; a SimpleRNN has it fused.
    - ``padding``: ``"keras"`` reads pre-padded sequences as Keras does without masking, the padding first (with
      pre-padding the final state still sees the true end of the text, but a backward direction ends in the
      padding); ``"packed"`` moves each sequence's padding (index 0) to its end and packs it, so no direction ever
      reads padding.

    Args:
        input_size: Features per time step.
        hidden_size: Units per layer and direction; a list gives each layer's (and their number).
        cell: ``"rnn"`` (Keras' SimpleRNN), ``"lstm"`` or ``"gru"`` (PyTorch's GRU is Keras' ``reset_after=True``,
            the TF 2 default; Keras 2 used ``reset_after=False``, see ``reset_after``).
        num_layers: Stacked layers of ``hidden_size`` units (each but the last returns its sequence to the next).
        bidirectional: Keras' ``Bidirectional(..., merge_mode="concat")``.
        dropout: Keras' ``dropout`` of every layer.
        recurrent_dropout: Keras' ``recurrent_dropout`` of every layer.
        single_bias: Keep PyTorch's second bias vector at zero and out of training (see ``keras_recurrent_init_``),
            so that the gates' bias learns at Keras' speed and the trainable parameters are Keras'.
        recurrent_activation: The LSTM's or GRU's gate function: ``"sigmoid"`` (Keras 2.3 on, PyTorch) or
            ``"hard_sigmoid"`` (Keras 2.0-2.2's default). Not for ``"rnn"``, which has no gates.
        mask_per_gate: Keras 2.0-2.2's ``implementation=1``: each gate, and each direction, draws its own dropout and
            recurrent-dropout masks (Keras 2.3 on draws one for all gates). Training then runs the loop, even
            without recurrent dropout. Not for ``"rnn"``, whose one mask is Keras' already.
        activation: Keras' ``activation`` (of the candidate state, and an LSTM's output), ``"tanh"`` or ``"relu"``;
            a list gives each layer's.
        reset_after: A GRU's reset gate applied after the recurrent product (PyTorch's GRU, Keras' TF 2 default)
            or, False, before it (Keras 2's default); False needs ``single_bias`` (Keras 2's GRU has one bias).
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
        recurrent_activation: Literal["sigmoid", "hard_sigmoid"] = "sigmoid",
        mask_per_gate: bool = False,
        activation: Activation | Sequence[Activation] = "tanh",
        reset_after: bool = True,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        if recurrent_activation not in ("sigmoid", "hard_sigmoid"):
            raise ValueError(f"recurrent_activation must be 'sigmoid' or 'hard_sigmoid', got {recurrent_activation!r}")
        if cell == "rnn" and (recurrent_activation != "sigmoid" or mask_per_gate):
            raise ValueError(
                "a SimpleRNN ('rnn') has no gates: recurrent_activation stays 'sigmoid' and mask_per_gate False"
            )
        if not reset_after and (cell != "gru" or not single_bias):
            raise ValueError("reset_after=False is Keras 2's GRU, which has one bias vector: cell 'gru', single_bias")
        self.cell, self.dropout, self.recurrent_dropout = cell, dropout, recurrent_dropout
        self.reset_after = reset_after
        self.recurrent_activation, self.mask_per_gate = recurrent_activation, mask_per_gate
        self.gate = hard_sigmoid if recurrent_activation == "hard_sigmoid" else torch.sigmoid
        self.directions = 2 if bidirectional else 1
        sizes = [hidden_size] * num_layers if isinstance(hidden_size, int) else list(hidden_size)
        if not sizes or min(sizes) < 1:
            raise ValueError(f"hidden_size must give at least one layer of at least 1 unit, got {hidden_size}")
        self.activations = [activation] * len(sizes) if isinstance(activation, str) else list(activation)
        if len(self.activations) != len(sizes) or not set(self.activations) <= set(ACTIVATIONS):
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or one per layer, got {activation!r}")
        inputs = [input_size] + [units * self.directions for units in sizes[:-1]]
        # One module per layer, so that each layer's input gets its own dropout mask, as in a Keras stack.
        self.layers = nn.ModuleList(
            keras_recurrent_init_(
                CELLS[cell](width, units, batch_first=True, bidirectional=bidirectional,
                            **({"nonlinearity": act} if cell == "rnn" else {})),
                single_bias,
            )
            for width, units, act in zip(inputs, sizes, self.activations, strict=True)
        )  # fmt: skip
        self.output_size = sizes[-1] * self.directions

    def runs_the_loop(self) -> bool:
        """Whether the next forward pass steps through time in Python (what no fused kernel computes) or not."""
        masked_gates = self.mask_per_gate and (self.dropout or self.recurrent_dropout)
        unfused_cell = self.cell != "rnn" and (
            self.recurrent_activation == "hard_sigmoid" or not self.reset_after or set(self.activations) != {"tanh"}
        )
        return unfused_cell or (self.training and bool(self.recurrent_dropout or masked_gates))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x``: (batch, time, features). With ``lengths`` the sequences are packed (their padding at the end);
        without, every step is read. Returns the outputs (batch, time, directions x units) and the final state
        (batch, directions x units)."""
        loop = self.runs_the_loop()
        if lengths is not None and loop:
            raise ValueError(
                "recurrent_dropout, per-gate masks (both in training), hard_sigmoid gates, a relu LSTM or GRU and "
                "reset_after=False run the unfused loop, which reads every step: use padding='keras'"
            )
        final = x.new_empty(0)
        for layer, activation in zip(self.layers, self.activations, strict=True):
            if self.training and self.dropout and not self.mask_per_gate:  # per gate, the loop draws them
                x = x * self._mask((x.shape[0], x.shape[-1]), self.dropout, x).unsqueeze(1)
            if loop:
                x, final = self._unfused(layer, x, ACTIVATIONS[activation])
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
    def _mask(shape: tuple[int, ...], rate: float, like: Tensor) -> Tensor:
        return F.dropout(like.new_ones(shape), rate, training=True)

    def _unfused(self, layer: nn.RNNBase, x: Tensor, activation: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
        """One layer step by step, its recurrent state dropped with one mask per sequence and direction (and, with
        ``mask_per_gate``, its inputs and state with one per gate too). Both directions advance in the same Python
        steps (batched matrix products), which halves the loop's overhead."""
        suffixes = ("", "_reverse")[: self.directions]
        w_ih, w_hh, b_ih, b_hh = (
            torch.stack([getattr(layer, f"{name}_l0{suffix}") for suffix in suffixes])
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        directions, (batch, _, features), units, gates = self.directions, x.shape, layer.hidden_size, GATES[self.cell]
        steps = torch.stack([x, x.flip(1)][:directions])  # (directions, batch, time, features)
        per_gate = self.training and self.mask_per_gate
        # every step's input projection at once: (directions, batch, time, gates x units)
        if per_gate and self.dropout:  # each gate's from its own masked copy of the inputs
            masks = self._mask((directions, gates, batch, features), self.dropout, x)
            w_ih_gates = w_ih.view(directions, gates, units, features).transpose(2, 3).unsqueeze(2)
            projected = (steps.unsqueeze(1) * masks.unsqueeze(3)) @ w_ih_gates  # (directions, gates, batch, time, u)
            projected = projected.permute(0, 2, 3, 1, 4).flatten(3) + b_ih[:, None, None]
        else:
            projected = steps @ w_ih.transpose(1, 2).unsqueeze(1) + b_ih[:, None, None]
        # The gates that read the state in one product: all, but Keras 2's GRU candidate, which reads r * h on its own.
        read = gates if self.reset_after else gates - 1
        w_read, b_read = w_hh[:, : read * units], b_hh[:, : read * units]
        w_candidate, b_candidate = w_hh[:, read * units :].mT, b_hh[:, None, read * units :]
        state_masks = w_hh_gates = None
        if self.training and self.recurrent_dropout:
            if per_gate:  # (directions, gates, batch, units)
                state_masks = self._mask((directions, gates, batch, units), self.recurrent_dropout, x)
                w_hh_gates = w_read.view(directions, read, units, units).transpose(2, 3)  # (directions, read, in, out)
            else:  # (directions, batch, units)
                state_masks = torch.stack([self._mask((batch, units), self.recurrent_dropout, x) for _ in suffixes])
        h = c = x.new_zeros(directions, batch, units)
        out = []
        # unbind, not projected[:, :, t]: each indexing's backward would fill a zero tensor of the whole projection
        for projected_t in projected.unbind(2):
            if w_hh_gates is not None:  # each gate reads its own dropped copy of the state
                dropped_per_gate = h.unsqueeze(1) * state_masks
                recurrent = (dropped_per_gate[:, :read] @ w_hh_gates).transpose(1, 2).flatten(2) + b_read[:, None]
                candidate_reads = dropped_per_gate[:, -1]
            else:
                candidate_reads = h if state_masks is None else h * state_masks
                recurrent = torch.baddbmm(b_read[:, None], candidate_reads, w_read.transpose(1, 2))
            if self.cell == "lstm":
                i, f, g, o = (projected_t + recurrent).chunk(4, dim=-1)
                c = self.gate(f) * c + self.gate(i) * activation(g)
                h = self.gate(o) * activation(c)
            elif self.cell == "gru":
                x_r, x_z, x_n = projected_t.chunk(3, dim=-1)
                h_r, h_z, *h_n = recurrent.chunk(read, dim=-1)
                r, z = self.gate(x_r + h_r), self.gate(x_z + h_z)
                if self.reset_after:  # PyTorch's formulation (Keras' reset_after=True)
                    candidate = x_n + r * h_n[0]
                else:  # Keras 2's: the reset state goes through the candidate's product
                    candidate = x_n + torch.baddbmm(b_candidate, r * candidate_reads, w_candidate)
                h = (1 - z) * activation(candidate) + z * h
            else:
                h = activation(projected_t + recurrent)
            out.append(h)
        sequences = torch.stack(out, dim=2)  # (directions, batch, time, units), each in its own reading order
        outputs = [sequences[0], *([sequences[1].flip(1)] if directions == 2 else [])]
        return torch.cat(outputs, dim=-1), torch.cat(list(h), dim=-1)


def padding_to_end(tokens: Tensor, pad: int = 0) -> tuple[Tensor, Tensor]:
    """Pre-padded token rows (padding ``pad`` first) with the padding moved to the end, and their lengths (at
    least 1, so that an empty review is one padding step rather than an error)."""
    lengths = (tokens != pad).sum(dim=1).clamp(min=1)
    steps = tokens.shape[1]
    start = steps - lengths
    order = (torch.arange(steps, device=tokens.device).unsqueeze(0) + start.unsqueeze(1)) % steps
    return tokens.gather(1, order), lengths
