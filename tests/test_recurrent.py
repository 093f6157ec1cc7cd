"""Keras' recurrent layers in PyTorch: Keras' initialisation, the unfused loop that recurrent dropout needs computing
what the fused kernel computes, the final state of each direction, packed padding, input dropout's one mask per
sequence, and the text classifiers' pretrained and frozen embeddings."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from datamodules import IMDBDataModule
from lightning_zoo.sequence import KerasRecurrent, RecurrentTextClassifier, RecurrentTextNetwork, keras_recurrent_init_
from lightning_zoo.sequence.recurrent import hard_sigmoid, padding_to_end
from tests.helpers.train import state_of, trainer

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def keep_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropout masks that keep every unit (scale 1): training then computes what evaluation does."""
    monkeypatch.setattr(KerasRecurrent, "_mask", staticmethod(lambda shape, rate, like: like.new_ones(shape)))


def recurrent(cell: str = "lstm", seed: int = 0, **kwargs) -> KerasRecurrent:
    torch.manual_seed(seed)
    return KerasRecurrent(**{"input_size": 5, "hidden_size": 4, "cell": cell, **kwargs})


@pytest.mark.parametrize("cell", CELLS)
def test_keras_init_gives_orthonormal_recurrent_kernels_zero_biases_and_a_forget_bias_of_one(cell):
    """Glorot-uniform input kernels, orthogonal recurrent kernels (orthonormal columns of the (gates x u, u) matrix),
    zero biases but an LSTM's forget gate (the second quarter of bias_ih), in both directions."""
    torch.manual_seed(0)
    units, inputs = 8, 64
    rnn = keras_recurrent_init_(MODULES[cell](inputs, units, batch_first=True, bidirectional=True))
    gates = GATES[cell]
    for suffix in ("", "_reverse"):
        w_hh = getattr(rnn, f"weight_hh_l0{suffix}")
        assert w_hh.shape == (gates * units, units)
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(units), atol=1e-5, rtol=0)
        w_ih = getattr(rnn, f"weight_ih_l0{suffix}")
        bound = math.sqrt(6 / (inputs + gates * units))  # PyTorch's own init would reach 1/sqrt(8) = 0.35
        assert bound * 0.9 < w_ih.abs().max() <= bound
        expected_ih = torch.zeros(gates * units)
        if cell == "lstm":
            expected_ih[units : 2 * units] = 1.0
        assert torch.equal(getattr(rnn, f"bias_ih_l0{suffix}"), expected_ih)
        assert torch.equal(getattr(rnn, f"bias_hh_l0{suffix}"), torch.zeros(gates * units))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("cell", CELLS)
def test_the_unfused_loop_computes_what_the_fused_kernel_computes(cell, bidirectional, monkeypatch):
    """With masks that keep everything, training with recurrent_dropout (the Python loop over the steps) gives the
    fused kernel's outputs and final state, for every cell, one or two directions, and two stacked layers."""
    keep_everything(monkeypatch)
    module = recurrent(cell, bidirectional=bidirectional, num_layers=2, recurrent_dropout=0.5)
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        fused_out, fused_final = module.eval()(x)
        loop_out, loop_final = module.train()(x)
    assert fused_out.shape == loop_out.shape == (3, 7, 4 * (2 if bidirectional else 1))
    torch.testing.assert_close(loop_out, fused_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(loop_final, fused_final, atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_the_unfused_loop_gives_the_fused_kernels_gradients(cell, monkeypatch):
    """The loop's backward pass (through every step's slice of the input projection) gives the fused kernel's
    gradients for the weights and the inputs."""
    keep_everything(monkeypatch)
    module = recurrent(cell, bidirectional=True, num_layers=2, recurrent_dropout=0.5)
    x = torch.randn(3, 7, 5)
    gradients = {}
    for mode in ("eval", "train"):
        module.zero_grad()
        inputs = x.clone().requires_grad_(True)
        out, final = getattr(module, mode)()(inputs)
        (out.square().sum() + final.sum()).backward()
        gradients[mode] = [inputs.grad] + [p.grad.clone() for p in module.parameters()]
    for loop, fused in zip(gradients["train"], gradients["eval"], strict=True):
        torch.testing.assert_close(loop, fused, atol=1e-5, rtol=1e-4)


def test_recurrent_dropout_changes_training_outputs_reproducibly_and_draws_one_mask_per_sequence(monkeypatch):
    """With the real masks training differs from evaluation, the same seed gives the same outputs, and the masks are
    drawn once per layer input and direction (not at every step)."""
    module = recurrent("lstm", bidirectional=True, dropout=0.25, recurrent_dropout=0.5)
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        evaluated, _ = module.eval()(x)
        module.train()
        torch.manual_seed(1)
        first, _ = module(x)
        torch.manual_seed(1)
        again, _ = module(x)
        torch.manual_seed(2)
        other, _ = module(x)
    assert torch.equal(first, again)
    assert not torch.allclose(first, evaluated, atol=1e-3) and not torch.allclose(first, other, atol=1e-3)
    drawn = []
    real_mask = KerasRecurrent._mask
    monkeypatch.setattr(KerasRecurrent, "_mask", staticmethod(lambda *a: drawn.append(a[:2]) or real_mask(*a)))
    module(x)
    assert drawn == [((3, 5), 0.25), ((3, 4), 0.5), ((3, 4), 0.5)]  # the inputs, then each direction's state
    drawn.clear()
    module.mask_per_gate = True
    module(x)
    # Keras 2.0-2.2's implementation=1: (directions, gates, sequences, width), the inputs', then the state's
    assert drawn == [((2, 4, 3, 5), 0.25), ((2, 4, 3, 4), 0.5)]


@pytest.mark.parametrize("mode", ["fused", "loop"])
def test_the_bidirectional_final_state_is_forwards_last_output_and_backwards_first(mode):
    """Keras' Bidirectional final state: the forward direction's output at the last step, then the backward
    direction's at the first (where it ends), whichever way the layer runs."""
    module = recurrent("gru", bidirectional=True, recurrent_dropout=0.3)
    module.train(mode == "loop")
    out, final = module(torch.randn(2, 6, 5))
    torch.testing.assert_close(final, torch.cat([out[:, -1, :4], out[:, 0, 4:]], dim=-1), atol=0, rtol=0)


def test_packed_final_state_ends_each_sequence_at_its_length():
    """Packed, the forward direction ends at each sequence's last real step, not at the padding after it."""
    module = recurrent("lstm", bidirectional=True).eval()
    lengths = torch.tensor([6, 3, 1])
    out, final = module(torch.randn(3, 6, 5), lengths)
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(final[row], torch.cat([out[row, length - 1, :4], out[row, 0, 4:]]), atol=0, rtol=0)
        assert torch.all(out[row, length:] == 0)


def test_padding_to_end_moves_pre_padding_behind_the_tokens():
    """Each row's tokens first, in order, then its padding; lengths count the tokens (at least 1)."""
    tokens = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0], [0, 0, 0, 0, 9]])
    moved, lengths = padding_to_end(tokens)
    assert moved.tolist() == [[5, 6, 7, 0, 0], [1, 2, 3, 4, 5], [0, 0, 0, 0, 0], [9, 0, 0, 0, 0]]
    assert lengths.tolist() == [3, 5, 1, 1]


def text_network(padding: str, seed: int = 0, **kwargs) -> RecurrentTextNetwork:
    torch.manual_seed(seed)
    return RecurrentTextNetwork(30, 6, KerasRecurrent(6, 5, "lstm", bidirectional=True, **kwargs), 1, padding)


def test_packed_padding_gives_a_review_the_same_logit_whatever_its_padding():
    """padding="packed" never reads the padding: a review padded to 10 or 30, or not at all, gets one logit (in a
    batch with other lengths too); Keras' way reads it, and the logit moves."""
    review = torch.tensor([4, 9, 17, 3, 25, 8])

    def padded(length: int) -> torch.Tensor:
        return torch.cat([torch.zeros(length - len(review), dtype=torch.long), review]).unsqueeze(0)

    packed, keras = text_network("packed").eval(), text_network("keras").eval()
    with torch.no_grad():
        logits = [packed(padded(n)) for n in (6, 10, 30)]
        in_batch = packed(torch.cat([padded(30), torch.tensor([[0] * 28 + [5, 7]])]))[:1]
        keras_logits = [keras(padded(n)) for n in (10, 30)]
    for other in (*logits[1:], in_batch):
        torch.testing.assert_close(other, logits[0], atol=1e-6, rtol=0)
    assert not torch.allclose(keras_logits[0], keras_logits[1], atol=1e-4)


def test_packed_padding_refuses_recurrent_dropout_in_training():
    """The unfused loop reads every step, so it cannot skip packed padding: training says so; evaluation is fine."""
    network = text_network("packed", recurrent_dropout=0.2)
    tokens = torch.tensor([[0, 0, 3, 4]])
    with pytest.raises(ValueError, match="recurrent_dropout, .* run the unfused loop, which reads every step"):
        network.train()(tokens)
    assert network.eval()(tokens).shape == (1, 1)


@pytest.mark.parametrize("mode", ["fused", "loop"])
def test_input_dropout_drops_the_same_features_at_every_step(mode, monkeypatch):
    """Keras' dropout: one mask per sequence, so a feature dropped at one step is dropped at all (inputs of ones
    arrive as the mask itself, 0 or 1 / (1 - rate))."""
    module = recurrent("gru", dropout=0.5, recurrent_dropout=0.3 if mode == "loop" else 0.0).train()
    seen = []
    if mode == "loop":
        real = KerasRecurrent._unfused
        monkeypatch.setattr(
            KerasRecurrent, "_unfused", lambda self, layer, x, act: seen.append(x) or real(self, layer, x, act)
        )
    else:
        module.layers[0].register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    torch.manual_seed(0)
    module(torch.ones(16, 9, 5))
    [x] = seen
    assert set(x.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(x, x[:, :1].expand_as(x))  # every step as the first
    assert not torch.equal(x[0], x[1]) or not torch.equal(x[2], x[3])  # but each sequence has its own mask


def test_hard_sigmoid_is_kerass():
    """0.2 x + 0.5 clipped to [0, 1] (PyTorch's hardsigmoid has slope 1/6)."""
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 4.0])
    assert hard_sigmoid(x).tolist() == pytest.approx([0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0])


def recorded_masks(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Every dropout mask the module draws, in the order drawn."""
    drawn = []
    real = KerasRecurrent._mask
    monkeypatch.setattr(KerasRecurrent, "_mask", staticmethod(lambda *a: drawn.append(real(*a)) or drawn[-1]))
    return drawn


def keras_written_out(module: KerasRecurrent, x: torch.Tensor, drawn: list[torch.Tensor]) -> torch.Tensor:
    """Keras' LSTM / GRU layers one gate at a time, as Keras 2.2's implementation=1 computes them: gate
    k of direction d reads the inputs times its input mask and the state times its state mask. The masks are the
    module's (``drawn``, in order): with ``mask_per_gate`` one per layer, (directions, gates, batch, width) each;
    without, one input mask (batch, features) for both directions, then one state mask per direction."""
    draws = iter(drawn)
    gate = (lambda v: (0.2 * v + 0.5).clamp(0, 1)) if module.recurrent_activation == "hard_sigmoid" else torch.sigmoid
    gates = GATES[module.cell]

    def masked(v, masks, d, k):
        if masks is None:
            return v
        return v * (masks[d, k] if masks.dim() == 4 else masks[d] if masks.dim() == 3 else masks)

    for layer, name in zip(module.layers, module.activations, strict=True):
        activation = {"tanh": torch.tanh, "relu": torch.relu}[name]
        inputs = next(draws) if module.dropout else None
        states = None
        if module.recurrent_dropout and module.mask_per_gate:
            states = next(draws)
        elif module.recurrent_dropout:
            states = torch.stack([next(draws) for _ in range(module.directions)])
        outputs = []
        for d, suffix in enumerate(("", "_reverse")[: module.directions]):
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            kernels, recurrent_kernels, input_biases, state_biases = (
                getattr(layer, f"{name}_l0{suffix}").chunk(gates) for name in names
            )
            h = c = x.new_zeros(x.shape[0], layer.hidden_size)
            steps = []
            for x_t in (x if d == 0 else x.flip(1)).unbind(1):
                xs = [masked(x_t, inputs, d, k) @ kernels[k].T + input_biases[k] for k in range(gates)]
                hs = [masked(h, states, d, k) @ recurrent_kernels[k].T + state_biases[k] for k in range(gates)]
                if module.cell == "lstm":
                    i, f, o = gate(xs[0] + hs[0]), gate(xs[1] + hs[1]), gate(xs[3] + hs[3])
                    c = f * c + i * activation(xs[2] + hs[2])
                    h = o * activation(c)
                elif module.reset_after:
                    r, z = gate(xs[0] + hs[0]), gate(xs[1] + hs[1])
                    h = (1 - z) * activation(xs[2] + r * hs[2]) + z * h
                else:  # Keras 2's GRU: r * h through the candidate's kernel, no recurrent bias
                    r, z = gate(xs[0] + hs[0]), gate(xs[1] + hs[1])
                    h = (1 - z) * activation(xs[2] + (r * masked(h, states, d, 2)) @ recurrent_kernels[2].T) + z * h
                steps.append(h)
            outputs.append(torch.stack(steps, 1) if d == 0 else torch.stack(steps, 1).flip(1))
        x = torch.cat(outputs, dim=-1)
    assert next(draws, None) is None  # every mask drawn was used
    return x


KERAS_2_2 = {"recurrent_activation": "hard_sigmoid", "mask_per_gate": True}
# and Keras 2's GRU (reset_after=False, one bias vector), the second layer relu (DLwP 6.3's stacked GRU)
KERAS_2_RELU = {**KERAS_2_2, "activation": ["tanh", "relu"]}
KERAS_2_GRU = {**KERAS_2_RELU, "reset_after": False, "single_bias": True}


@pytest.mark.parametrize("keras", ["2.2", "2.3", "2 with relu"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_loop_computes_keras_gate_by_gate_with_its_masks(cell, keras, monkeypatch):
    """Two stacked bidirectional layers with dropout and recurrent dropout, trained in the loop, compute what Keras'
    layers written out gate by gate compute from the same masks: Keras 2.2's (hard_sigmoid gates, a mask per gate
    and direction, each layer its own), today's (sigmoid, one input mask, one state mask per direction), and Keras
    2's with a relu second layer and, for the GRU, its reset gate before the product (reset_after=False)."""
    drawn = recorded_masks(monkeypatch)
    options = {"2.2": KERAS_2_2, "2.3": {}, "2 with relu": KERAS_2_GRU if cell == "gru" else KERAS_2_RELU}[keras]
    module = recurrent(cell, bidirectional=True, num_layers=2, dropout=0.3, recurrent_dropout=0.4, **options).train()
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        out, final = module(x)
        expected = keras_written_out(module, x, drawn)
    assert drawn[0].shape == ((3, 5) if keras == "2.3" else (2, GATES[cell], 3, 5))  # the first layer's inputs
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(final, torch.cat([out[:, -1, :4], out[:, 0, 4:]], dim=-1), atol=0, rtol=0)


def test_a_mask_per_gate_runs_the_loop_for_input_dropout_alone(monkeypatch):
    """mask_per_gate with dropout and no recurrent dropout still needs the loop in training (the fused kernel reads
    one input for all gates), not in evaluation."""
    drawn = recorded_masks(monkeypatch)
    module = recurrent("lstm", bidirectional=True, dropout=0.3, mask_per_gate=True).train()
    assert module.runs_the_loop() and not module.eval().runs_the_loop()
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        out, _ = module.train()(x)
        torch.testing.assert_close(out, keras_written_out(module, x, drawn), atol=1e-5, rtol=0)


def test_hard_sigmoid_gates_run_the_loop_in_evaluation_too():
    """Evaluation drops nothing, but hard_sigmoid gates are not the fused kernel's: the loop computes Keras' gates
    and differs from the same weights with sigmoid gates (the fused kernel)."""
    hard = recurrent("lstm", bidirectional=True, **KERAS_2_2).eval()
    sigmoid = recurrent("lstm", bidirectional=True).eval()  # the same seed: the same weights
    assert hard.runs_the_loop() and not sigmoid.runs_the_loop()
    x = torch.randn(3, 7, 5)
    with torch.no_grad():
        out, _ = hard(x)
        torch.testing.assert_close(out, keras_written_out(hard, x, []), atol=1e-5, rtol=0)
        assert not torch.allclose(sigmoid(x)[0], out, atol=1e-3)


def test_gates_options_are_checked_and_the_loop_refuses_packed_padding():
    """A SimpleRNN has no gates to make hard; an unknown gate function is named; hard_sigmoid gates run the loop,
    which reads every step, so packed padding is refused in evaluation too."""
    for options in ({"recurrent_activation": "hard_sigmoid"}, {"mask_per_gate": True}):
        with pytest.raises(ValueError, match="SimpleRNN .* has no gates"):
            recurrent("rnn", **options)
    with pytest.raises(ValueError, match="recurrent_activation must be 'sigmoid' or 'hard_sigmoid', got 'relu'"):
        recurrent("gru", recurrent_activation="relu")
    network = text_network("packed", recurrent_activation="hard_sigmoid").eval()
    with pytest.raises(ValueError, match="run the unfused loop, which reads every step"):
        network(torch.tensor([[0, 0, 3, 4]]))


def test_keras_2_gru_and_relu_options_are_checked_and_run_the_loop_in_evaluation():
    """Keras 2's GRU has one bias (single_bias) and is a GRU; activations are named, one per layer; a relu or Keras 2
    GRU evaluates in the loop, a relu SimpleRNN on the fused kernel."""
    with pytest.raises(ValueError, match="reset_after=False is Keras 2's GRU"):
        recurrent("gru", reset_after=False)
    with pytest.raises(ValueError, match="reset_after=False is Keras 2's GRU"):
        recurrent("lstm", reset_after=False, single_bias=True)
    with pytest.raises(ValueError, match="activation must be one of"):
        recurrent("gru", num_layers=2, activation=["relu"])
    with pytest.raises(ValueError, match="activation must be one of"):
        recurrent("gru", activation="sigmoid")
    assert recurrent("gru", reset_after=False, single_bias=True).eval().runs_the_loop()
    assert recurrent("lstm", activation="relu").eval().runs_the_loop()
    simple = recurrent("rnn", activation="relu").eval()
    assert not simple.runs_the_loop() and simple.layers[0].nonlinearity == "relu"
    classifier = RecurrentTextClassifier(
        vocab_size=30, embedding_dim=6, cell="gru", reset_after=False, single_bias=True
    )
    assert not classifier.net.recurrent.reset_after


def imdb(data_root, **kwargs) -> IMDBDataModule:
    return IMDBDataModule(
        data_dir=str(data_root),
        **{"batch_size": 8, "num_words": 100, "maxlen": 30, "val_size": 0.25, "download": False, **kwargs},
    )


def classifier(**kwargs) -> RecurrentTextClassifier:
    torch.manual_seed(0)
    defaults = {"vocab_size": 100, "embedding_dim": 100, "hidden_size": 8, "num_classes": 2}
    return RecurrentTextClassifier(**{**defaults, **kwargs})


def test_a_frozen_embedding_stays_out_of_the_optimizer():
    """freeze_embedding is Keras' trainable=False: the optimizer gets every parameter but the embedding's."""
    for frozen in (False, True):
        model = classifier(freeze_embedding=frozen)
        optimised = {id(p) for group in model.configure_optimizers().param_groups for p in group["params"]}
        embedding = model.net.embedding.weight
        assert (id(embedding) in optimised) is not frozen and embedding.requires_grad is not frozen
        assert optimised == {id(p) for p in model.parameters() if p is not embedding or not frozen}


def test_a_pretrained_frozen_embedding_holds_the_files_vectors_after_training(data_root, tmp_path):
    """At fit start the embedding becomes the DataModule's GloVe matrix (a word's row is its line of the file,
    unknown rows zero), and training steps leave it so while the rest of the network learns."""
    dm = imdb(data_root, word_vectors="glove/glove.6B.100d.txt")
    model = classifier(pretrained_embedding=True, freeze_embedding=True)
    before = state_of(model)
    trainer(tmp_path, max_steps=3, limit_val_batches=0, enable_checkpointing=False).fit(model, dm)
    [line] = [
        line for line in (data_root / "glove/glove.6B.100d.txt").read_text().splitlines() if line.startswith("great ")
    ]
    great = torch.tensor([float(v) for v in line.split()[1:]])
    embedding = model.net.embedding.weight.detach()
    assert torch.equal(embedding[dm.word_index.index("great")], great)
    assert torch.equal(embedding, dm.embedding_matrix(100)) and torch.all(embedding[:4] == 0)
    assert not torch.equal(model.net.head.weight, before["net.head.weight"])
    assert not torch.equal(embedding, before["net.embedding.weight"])


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.2], ids=["fused", "loop"])
def test_single_bias_trains_kerass_parameters_and_keeps_the_second_bias_at_zero(recurrent_dropout):
    """With single_bias, E4's BiLSTM trains exactly Keras' 903,425 parameters (904,449 without), and a training step
    on either path leaves every bias_hh at zero while the other weights move."""
    sizes = {"num_classes": 2, "vocab_size": 5000, "embedding_dim": 128, "hidden_size": 128, "bidirectional": True}
    trainable = lambda model: sum(p.numel() for p in model.parameters() if p.requires_grad)  # noqa: E731
    assert trainable(RecurrentTextClassifier(**sizes)) == 904_449
    torch.manual_seed(0)
    model = RecurrentTextClassifier(**sizes, single_bias=True, recurrent_dropout=recurrent_dropout)
    assert trainable(model) == 903_425
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = model.configure_optimizers()
    loss, _ = model.loss_and_predictions(model(torch.randint(1, 5000, (4, 12))), torch.tensor([0, 1, 1, 0]))
    loss.backward()
    optimizer.step()
    for name, p in model.named_parameters():
        if "bias_hh" in name:
            assert not p.any(), name
        else:
            assert not torch.equal(p, before[name]), name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_keras2_gives_a_text_classifier_the_books_whole_keras_2_layer(cell):
    """--model.keras2 true, as the forecasters take it: one bias vector, and for gated cells hard_sigmoid gates, a
    dropout mask per gate and (GRU) the reset gate before the product, whatever the four options say."""
    recurrent = RecurrentTextClassifier(cell=cell, keras2=True, mask_per_gate=False).net.recurrent
    gated = cell != "rnn"
    assert recurrent.recurrent_activation == ("hard_sigmoid" if gated else "sigmoid")
    assert recurrent.mask_per_gate == gated and recurrent.reset_after == (cell != "gru")
    biases = [p for name, p in recurrent.named_parameters() if "bias_hh" in name]
    assert biases and not any(p.requires_grad for p in biases)
    plain = RecurrentTextClassifier(cell=cell).net.recurrent
    assert plain.recurrent_activation == "sigmoid" and not plain.mask_per_gate and plain.reset_after
