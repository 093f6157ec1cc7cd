"""The language models and the addition seq2seq beyond the contract: the books' windows, the vocabulary travelling in
checkpoints, generation (greedy, temperature, a carried state), parameter counts against Keras', the addition data."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from datamodules import AdditionDataModule, CharCorpusDataModule, DataError, WordCorpusDataModule
from datamodules.base import DatasetUnavailableError
from datamodules.text.addition import addition_questions
from datamodules.text.corpus import windows
from lightning_zoo.cli import ZooCLI
from lightning_zoo.keras import keras_categorical_crossentropy
from lightning_zoo.language import CharRNN, TextSamples, WordLSTM, pick_token
from tests.helpers.train import trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "language"


# ------------------------------------------------------------------------------------------------------ corpus data


@pytest.mark.parametrize(("length", "expected"), [(100, 31_962), (160, 19_976)])
def test_war_and_peace_windows_have_the_books_shapes(length, expected):
    ids = torch.arange(3_196_215)  # the book's reading of the file: 3,196,215 characters
    inputs, targets = windows(ids, length, length, "sequence")
    assert inputs.shape == targets.shape == (expected, length)
    assert torch.equal(targets[7], inputs[7] + 1)  # Y is X one character on
    assert inputs.untyped_storage().data_ptr() == ids.untyped_storage().data_ptr()  # a view: nothing copied


def test_sliding_windows_predict_the_next_character_as_article_3():
    text_ids = torch.arange(1000)
    inputs, targets = windows(text_ids, 40, 3, "next")
    # for i in range(0, len(text) - maxlen, step): sentences.append(text[i: i + maxlen]); next_chars.append(...)
    starts = list(range(0, 1000 - 40, 3))
    assert len(inputs) == len(starts) and torch.equal(inputs[:, 0], torch.tensor(starts))
    assert torch.equal(targets, torch.tensor(starts) + 40)


def test_a_text_shorter_than_one_window_is_one_clear_error():
    with pytest.raises(DataError, match="too few for one window of 100"):
        windows(torch.arange(100), 100, 100, "sequence")


@pytest.mark.parametrize("data_class", [CharCorpusDataModule, WordCorpusDataModule])
def test_an_empty_text_file_is_named_not_a_size_of_zero(tmp_path, data_class):
    (tmp_path / "empty.txt").write_text(" \n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty.txt holds no text: pass --data.file"):
        data_class(file=str(tmp_path / "empty.txt")).setup("fit")


def test_the_books_reading_keeps_the_bom_and_reads_carriage_returns_as_newlines(data_root):
    data = CharCorpusDataModule(file="text/warpeace_input.txt", data_dir=str(data_root))
    data.setup("fit")
    assert data.text.startswith("\ufeff") and "\r" not in data.text and "\n" in data.text
    assert data.text == data.text.lower()
    assert data.vocabulary.tokens == sorted(set(data.text)) and "\ufeff" in data.vocabulary.tokens
    normalised = CharCorpusDataModule(file="text/warpeace_input.txt", data_dir=str(data_root), normalise=True)
    assert normalised.vocab_size == data.vocab_size - 1 and "\ufeff" not in normalised.vocabulary.tokens


def test_a_missing_corpus_names_the_file_and_its_source(tmp_path):
    data = CharCorpusDataModule(file="text/warpeace_input.txt", data_dir=str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match=r"warpeace_input.txt not found: place the char-rnn"):
        data.setup("fit")


def test_validation_is_the_end_of_the_text_and_shares_no_window(data_root):
    data = CharCorpusDataModule(
        file="text/sherlock.txt", data_dir=str(data_root), sequence_length=20, step=1, val_fraction=0.2
    )
    data.setup("fit")
    train, val = data.train_dataloader().dataset, data.val_dataloader().dataset
    boundary = round(len(data.text) * 0.8)
    assert len(train) == boundary - 20 and len(val) == len(data.text) - boundary - 20
    assert data.decode(val.tensors[0][0]) == data.text[boundary : boundary + 20]


def test_a_character_only_in_the_held_out_end_is_in_the_vocabulary_but_a_word_only_there_is_oov(tmp_path):
    (tmp_path / "t.txt").write_text("the cat sat. " * 40 + "zèbre")
    characters = {
        fraction: CharCorpusDataModule(file="t.txt", data_dir=str(tmp_path), sequence_length=5, val_fraction=fraction)
        for fraction in (0.0, 0.1)
    }
    assert characters[0.1].vocab_size == characters[0.0].vocab_size  # the model's size does not move with the split
    characters[0.1].setup("fit")
    held_out = characters[0.1].val_dataloader().dataset.tensors[0]
    assert "è" in characters[0.1].decode(held_out.flatten())
    words = WordCorpusDataModule(file="t.txt", data_dir=str(tmp_path), val_fraction=0.1)
    words.setup("fit")
    assert "zèbre" not in words.vocabulary.tokens  # words are ranked on the training text only
    assert (words.val_dataloader().dataset.tensors[1] == 1).any()


def test_testing_needs_held_out_text(data_root):
    data = CharCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root))
    data.setup("test")
    with pytest.raises(DataError, match="no held-out text to test on"):
        data.test_dataloader()


def test_word_corpus_caps_the_vocabulary_and_maps_the_rest_to_oov(data_root):
    data = WordCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root), num_words=6)
    data.setup("fit")
    assert data.vocabulary.tokens[:2] == ["<pad>", "<oov>"] and data.vocab_size == 6
    inputs, targets = data.train_dataloader().dataset.tensors
    assert inputs.shape[1] == 4 and targets.dim() == 1 and int(inputs.max()) < 6 and (inputs == 1).any()


# ------------------------------------------------------------------------------------------------------- generation


def test_temperature_zero_is_greedy_and_a_tiny_temperature_samples_the_same():
    torch.manual_seed(0)
    logits = torch.randn(50, 57)
    assert torch.equal(pick_token(logits, 0.0), logits.argmax(-1))
    assert torch.equal(pick_token(logits, 1e-4), logits.argmax(-1))


def test_temperature_one_samples_the_softmax():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([pick_token(logits, 1.0, generator) for _ in range(20_000)])
    frequencies = torch.bincount(draws, minlength=4).double() / len(draws)
    assert torch.allclose(frequencies, torch.softmax(logits.double(), 0), atol=0.01)
    hotter = torch.stack([pick_token(logits, 2.0, generator) for _ in range(20_000)])
    assert torch.allclose(
        torch.bincount(hotter, minlength=4).double() / 20_000, torch.softmax(logits.double() / 2, 0), atol=0.01
    )


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generation_with_a_carried_state_equals_rereading_the_whole_prefix(cell):
    torch.manual_seed(0)
    model = CharRNN(vocab_size=11, cell=cell, hidden_size=16, num_layers=2, dropout=0.3).eval()
    prompt = torch.tensor([3, 1, 4, 1, 5])
    generated = model.generate(prompt, 30, temperature=0.0)
    tokens = prompt.clone()
    with torch.no_grad():
        for _ in range(30):
            tokens = torch.cat([tokens, model(tokens.unsqueeze(0))[0, -1].argmax().view(1)])
    assert torch.equal(generated, tokens[len(prompt) :])
    assert len(set(generated.tolist())) > 1  # not a constant: the comparison says something


@pytest.mark.parametrize("window", [3, 100])
def test_windowed_generation_rereads_the_books_window_from_a_zero_state(window):
    torch.manual_seed(0)
    model = CharRNN(vocab_size=11, cell="lstm", hidden_size=16, num_layers=2, generation_window=window).eval()
    prompt = torch.tensor([3, 1, 4, 1, 5])
    generated = model.generate(prompt, 30)
    tokens = prompt.clone()
    with torch.no_grad():
        for _ in range(30):
            tokens = torch.cat([tokens, model(tokens[-window:].unsqueeze(0))[0, -1].argmax().view(1)])
    assert torch.equal(generated, tokens[len(prompt) :]) and len(set(generated.tolist())) > 1
    carried = CharRNN(vocab_size=11, cell="lstm", hidden_size=16, num_layers=2).eval()
    carried.load_state_dict(model.state_dict())
    # A window longer than the text sees the whole prefix, as the carried state does; a short one forgets.
    assert torch.equal(carried.generate(prompt, 30), generated) == (window >= len(prompt) + 30)
    with pytest.raises(ValueError, match="generation_window must be at least 1"):
        CharRNN(vocab_size=11, generation_window=0)


def test_the_word_model_rereads_its_window_padded_in_front():
    torch.manual_seed(0)
    model = WordLSTM(vocab_size=30, embedding_dim=4, hidden_size=8, sequence_length=4).eval()
    generated = model.generate(torch.tensor([7, 9]), 10)
    window = torch.tensor([0, 0, 7, 9])
    expected = []
    with torch.no_grad():
        for _ in range(10):
            expected.append(int(model(window.unsqueeze(0))[0, -1].argmax()))
            window = torch.cat([window[1:], torch.tensor(expected[-1:])])
    assert generated.tolist() == expected


def test_generation_never_emits_excluded_tokens():
    torch.manual_seed(0)
    model = WordLSTM(vocab_size=30, embedding_dim=4, hidden_size=8).eval()
    with torch.no_grad():
        model.head.bias[1] = 100.0  # the OOV marker would win every step
    assert set(model.generate(torch.tensor([5]), 10).tolist()) == {1}
    for temperature in (0.0, 1.0):
        assert not {0, 1} & set(model.generate(torch.tensor([5]), 50, temperature, exclude=(0, 1)).tolist())


def test_generation_leaves_the_models_mode_and_the_global_rng_alone():
    model = CharRNN(vocab_size=11, cell="lstm", hidden_size=8, num_layers=1, dropout=0.5).train()
    state = torch.get_rng_state()
    model.generate(torch.tensor([1]), 5, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert model.training and torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------------------------------------ parameter counts


@pytest.mark.parametrize(
    ("cell", "dropout", "keras", "gates"), [("rnn", 0.3, 2_012_857, 1), ("lstm", 0.4, 7_914_457, 4)]
)
def test_parameter_counts_are_keras_plus_pytorchs_second_bias(cell, dropout, keras, gates):
    """E1 and E2 as the book prints them; PyTorch's bias_hh adds gates x 800 units per layer, 2 layers."""
    activation = "relu" if cell == "rnn" else "tanh"
    model = CharRNN(vocab_size=57, cell=cell, hidden_size=800, num_layers=2, dropout=dropout, activation=activation)
    second_biases = sum(p.numel() for name, p in model.named_parameters() if "bias_hh" in name)
    assert second_biases == gates * 800 * 2
    assert sum(p.numel() for p in model.parameters()) == keras + second_biases
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == keras  # trains what Keras trains


def test_the_second_bias_stays_zero_so_the_gates_bias_learns_at_keras_rate():
    torch.manual_seed(0)
    model = CharRNN(vocab_size=7, cell="lstm", hidden_size=6, num_layers=2, dropout=0.0)
    optimizer = model.configure_optimizers()
    tokens = torch.randint(7, (4, 9))
    loss, _ = model.loss_and_predictions(model(tokens), tokens)
    loss.backward()
    optimizer.step()
    assert not model.rnn.bias_hh_l0.any() and not model.rnn.bias_hh_l1.any()
    assert model.rnn.bias_ih_l0.grad is not None and model.rnn.bias_hh_l0.grad is None
    assert all(p.requires_grad for p in CharRNN(vocab_size=7, single_bias=False).parameters())


def test_keras_loss_is_cross_entropy_until_the_clip_then_flat():
    from lightning_zoo.keras import keras_categorical_crossentropy

    torch.manual_seed(0)
    logits, targets = torch.randn(6, 5), torch.randint(5, (6,))
    assert torch.allclose(
        keras_categorical_crossentropy(logits, targets), torch.nn.functional.cross_entropy(logits, targets)
    )
    hopeless = torch.tensor([[0.0, 40.0, 0.0]], requires_grad=True)  # p(target 0) = e^-40, below 1e-7
    loss = keras_categorical_crossentropy(hopeless, torch.tensor([0]))
    loss.backward()
    assert torch.isclose(loss, torch.tensor(16.1181), atol=1e-4) and not hopeless.grad.any()


def test_keras_initialisation_forget_bias_and_relu():
    model = CharRNN(vocab_size=57, cell="lstm", hidden_size=8, num_layers=2, dropout=0.0)
    for layer in (0, 1):
        bias = getattr(model.rnn, f"bias_ih_l{layer}")
        assert torch.equal(bias[8:16], torch.ones(8)) and not bias[:8].any() and not bias[16:].any()
    assert CharRNN(vocab_size=5, cell="rnn", hidden_size=4, activation="relu").rnn.nonlinearity == "relu"
    with pytest.raises(ValueError, match="activation is a SimpleRNN's"):
        CharRNN(vocab_size=5, cell="lstm", activation="relu")


# ------------------------------------------------------------------------------------- checkpoints, predict, samples


def fit_sherlock(data_root: Path, workdir: Path, *extra: str) -> Path:
    ZooCLI(args=[
        "fit", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--data.data_dir", str(data_root),
        "--data.batch_size", "16", "--model.hidden_size", "16", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "3", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(workdir), *extra,
    ])  # fmt: skip
    return workdir / "checkpoints" / "last.ckpt"


def test_the_vocabulary_travels_in_the_checkpoint_and_predict_needs_no_corpus(data_root, tmp_path):
    checkpoint = fit_sherlock(data_root, tmp_path / "run")
    saved = torch.load(checkpoint, weights_only=True)["CharCorpusDataModule"]
    reference = CharCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root))
    reference.setup("fit")
    assert saved["tokens"] == reference.vocabulary.tokens
    ZooCLI(args=[
        "predict", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--data.data_dir", str(tmp_path / "empty"),
        "--model.hidden_size", "16", "--model.generate_length", "30", "--trainer.logger", "false",
        "--data.predict_text", '["The Count said", "Prince"]', "--ckpt_path", str(checkpoint),
    ])  # fmt: skip
    predictions = tmp_path / "run" / "predictions"
    rows = [json.loads(line) for line in (predictions / "generated.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["prompt"], r["temperature"]) for r in rows] == [
        (prompt, t) for prompt in ("the count said", "prince") for t in (0.2, 0.5, 1.0, 1.2)
    ]  # lower-cased as the corpus was; the config's four temperatures
    assert all(len(r["text"]) == 30 and set(r["text"]) <= set(reference.vocabulary.tokens) for r in rows)
    assert "[the count said]" + rows[0]["text"] in (predictions / "generated.txt").read_text(encoding="utf-8")


def test_one_prompt_may_be_given_as_it_is_not_only_as_a_json_list(data_root, tmp_path):
    """--data.predict_text 'The Count said' is one prompt (jsonargparse refused a plain string before); a Python
    caller's string is one text too, not a sequence of characters."""
    from datamodules import IMDBDataModule

    checkpoint = fit_sherlock(data_root, tmp_path / "run")
    ZooCLI(args=[
        "predict", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--model.hidden_size", "16",
        "--model.generate_length", "5", "--trainer.logger", "false", "--data.predict_text", "The Count said",
        "--ckpt_path", str(checkpoint),
    ])  # fmt: skip
    written = (tmp_path / "run" / "predictions" / "generated.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["prompt"] for line in written} == {"the count said"}
    assert AdditionDataModule(predict_text="12+345").predict_text == ["12+345"]
    assert IMDBDataModule(predict_text="A fine film").predict_text == ["A fine film"]
    assert CharCorpusDataModule(file="x.txt", predict_text=("a", "b")).predict_text == ["a", "b"]


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_evaluating_a_corpus_without_held_out_text_says_so(data_root, tmp_path, subcommand):
    checkpoint = fit_sherlock(data_root, tmp_path / "run")  # the article's config holds no text out
    with pytest.raises(DataError, match=rf"no held-out text to {subcommand} on: pass --data.val_fraction"):
        ZooCLI(args=[
            subcommand, "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--model.hidden_size", "16",
            "--trainer.logger", "false", "--data.data_dir", str(data_root), "--ckpt_path", str(checkpoint),
        ])  # fmt: skip


@pytest.mark.parametrize(
    "option, refusal",
    [(["--data.sequence_length", "20"], "--data.sequence_length 40 (here 20)"),
     (["--data.lower", "false", "--data.normalise", "true"],
      "--data.lower true (here false), --data.normalise false (here true)")],
)  # fmt: skip
def test_a_checkpoint_of_other_windows_or_vocabulary_options_is_refused_by_name(data_root, tmp_path, option, refusal):
    """The windows' length and the options the vocabulary depends on travel with it: a model that learnt from 40
    lower-case characters is not evaluated on (nor, for a word model, generates from) another length or case without
    a word."""
    checkpoint = fit_sherlock(data_root, tmp_path / "run")
    with pytest.raises(DataError) as refused:
        ZooCLI(args=[
            "test", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--model.hidden_size", "16",
            "--trainer.logger", "false", "--data.data_dir", str(tmp_path / "no_corpus"), *option,
            "--ckpt_path", str(checkpoint),
        ])  # fmt: skip
    # (refused before the corpus is looked for: the vocabulary's size comes from the checkpoint)
    assert str(refused.value) == f"the checkpoint's text was encoded with {refusal}: pass the same options"


def test_a_prompt_outside_the_vocabulary_names_its_characters(data_root, tmp_path):
    checkpoint = fit_sherlock(data_root, tmp_path / "run")
    with pytest.raises(DataError, match=r"3 character\(s\) outside the model's vocabulary of \d+: '5', 'ж', '€'"):
        ZooCLI(args=[
            "predict", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--model.hidden_size", "16",
            "--trainer.logger", "false", "--data.predict_text", '["ж costs 5 €"]', "--ckpt_path", str(checkpoint),
        ])  # fmt: skip


def test_a_text_samples_prompt_outside_the_vocabulary_stops_the_fit_before_any_step(data_root, tmp_path):
    """Checked as the fit starts, not after the first epoch (18 minutes of the War and Peace LSTM on a CPU)."""
    data = CharCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root), batch_size=16)
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=2, callbacks=[TextSamples(prompt="ж said")])
    with pytest.raises(DataError, match=r"TextSamples' prompt has 1 character\(s\) outside the model's vocabulary"):
        fit.fit(CharRNN(vocab_size=data.vocab_size, hidden_size=8), data)
    assert fit.global_step == 0


def test_a_word_prompt_names_its_unknown_words_and_is_refused_without_a_known_one(data_root):
    """A word vocabulary reads unknown words as <oov>: the prompt was continued in silence, even one of no known
    word (which has nothing to start from, as a prompt of no word at all)."""
    data = WordCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root))
    data.setup("fit")
    known = data.vocabulary.tokens[2]
    data.predict_text = [f"{known} xyzzyq {known}"]
    with pytest.warns(
        UserWarning, match=r"has 1 word\(s\) outside the model's vocabulary of \d+: 'xyzzyq', each read as <oov>"
    ):
        [prompt] = data.predict_dataloader().dataset
    assert data.decode(prompt) == f"{known} <oov> {known}"
    data.predict_text = ["xyzzyq blorp"]
    with pytest.raises(DataError, match=r"'xyzzyq blorp' has no word the model knows: 2 word\(s\) outside"):
        data.predict_dataloader()


def test_an_empty_predict_text_is_refused_in_one_line_not_an_empty_loader(data_root):
    """``--data.predict_text '[]'`` would continue no prompt (Lightning only warns of an empty loader); the addition
    model's questions likewise."""
    for data in (
        CharCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root), predict_text=[]),
        WordCorpusDataModule(file="text/sherlock.txt", data_dir=str(data_root), predict_text=[]),
    ):
        data.setup("fit")
        with pytest.raises(DataError, match=r"^--data.predict_text is empty: give at least one prompt"):
            data.predict_dataloader()
    with pytest.raises(DataError, match="no question to answer"):
        AdditionDataModule(predict_text=[]).setup("predict")


def test_text_samples_are_written_without_a_logger_at_every_temperature(data_root, tmp_path):
    fit_sherlock(data_root, tmp_path / "run")
    [sample] = (tmp_path / "run" / "text" / "samples").glob("epoch=000-*.txt")
    text = sample.read_text(encoding="utf-8")
    assert [float(t) for t in (0.2, 0.5, 1.0, 1.2)] == [
        float(line.split("'temperature': ")[1].split(",")[0]) for line in text.splitlines() if line.startswith("---")
    ]


def test_text_samples_can_start_from_a_random_slice_of_the_text_as_the_article(data_root, tmp_path):
    fit_sherlock(data_root, tmp_path / "run")  # the config asks for prompt_from_data
    [sample] = (tmp_path / "run" / "text" / "samples").glob("epoch=000-*.txt")
    headers = [line for line in sample.read_text("utf-8").splitlines() if line.startswith("--- ")]
    [prompt] = {ast.literal_eval(line[4:])["prompt"] for line in headers}
    assert len(prompt) == 40 and prompt in (data_root / "text" / "sherlock.txt").read_text("utf-8").lower()


def test_no_temperature_or_a_negative_one_is_refused_saying_which():
    with pytest.raises(ValueError, match=r"at least one temperature, each >= 0; got 200, \[\]"):
        CharRNN(vocab_size=5, temperatures=[])
    with pytest.raises(ValueError, match=r"at least one temperature, each >= 0; got 1, 200, \[-0.5\]"):
        TextSamples(temperatures=[-0.5])
    with pytest.raises(ValueError, match=r"got 1, 200, \[\]"):
        TextSamples(temperatures=[])


def test_text_samples_need_a_language_model(tmp_path):
    from lightning_zoo.core import ZooError

    with pytest.raises(ZooError, match="needs a language model"):
        TextSamples().setup(None, torch.nn.Linear(1, 1), "fit")


def test_the_plateau_schedule_watches_the_training_loss_without_validation(data_root, tmp_path):
    model = CharRNN(vocab_size=5, hidden_size=4, plateau_factor=0.2, plateau_patience=1, min_lr=0.001)
    config = model.configure_optimizers()
    scheduler = config["lr_scheduler"]
    assert scheduler["monitor"] == "train/loss" and scheduler["scheduler"].threshold_mode == "abs"


def test_a_fit_lowers_the_rate_where_keras_would_and_a_resume_keeps_every_step(data_root, tmp_path):
    """A rate too high for the loss to improve: each epoch's rate is what Keras' ReduceLROnPlateau (patience 1,
    min_delta 1e-4, factor 0.2, down to 0.001) gives for the epochs' losses, and resuming from epoch 2's checkpoint
    keeps the step taken at its end (Lightning's own stepping comes after the checkpoint and skips it on a resume)."""
    from pytorch_lightning.callbacks import Callback

    class Record(Callback):
        def __init__(self):
            self.rates, self.losses = [], []

        def on_train_epoch_start(self, trainer, pl_module):  # the rate of this epoch, the loss of the one before
            self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])
            self.on_train_end(trainer, pl_module)

        def on_train_end(self, trainer, pl_module):
            if "train/loss" in trainer.callback_metrics:
                self.losses.append(float(trainer.callback_metrics["train/loss"]))

    def run(folder, *extra):
        record = Record()
        ZooCLI(args=[
            "fit", "--config", str(CONFIGS / "char_lstm_sherlock.yaml"), "--data.data_dir", str(data_root),
            "--data.batch_size", "16", "--model.hidden_size", "16", "--model.lr", "3.0", "--trainer.max_epochs", "4",
            "--trainer.limit_train_batches", "3", "--trainer.logger", "false", "--trainer.enable_progress_bar",
            "false", "--trainer.default_root_dir", str(folder), *extra,
        ], trainer_defaults={"callbacks": [record]})  # fmt: skip
        return record

    every_epoch = [
        "--trainer.callbacks+=lightning_zoo.callbacks.ZooModelCheckpoint",
        "--trainer.callbacks.save_top_k",
        "-1",
        "--trainer.callbacks.dirpath",
        str(tmp_path / "epochs"),
    ]
    whole = run(tmp_path / "whole", *every_epoch)  # fmt: skip
    expected, best, rate = [3.0], float("inf"), 3.0
    for loss in whole.losses[:-1]:  # Keras >= 2.1.6: the rate drops at the end of the first epoch without improvement
        if loss < best - 1e-4:
            best = loss
        else:
            rate = max(rate * 0.2, 0.001)
        expected.append(rate)
    assert whole.rates == pytest.approx(expected) and len(set(whole.rates)) > 1  # it did drop
    [second] = (tmp_path / "epochs").glob("epoch=1-*.ckpt")
    resumed = run(tmp_path / "resumed", "--ckpt_path", str(second))
    assert resumed.rates == pytest.approx(whole.rates[2:]) and resumed.losses == whole.losses[2:]


@pytest.mark.parametrize("patience", [1, 2])
def test_the_plateau_schedule_counts_patience_as_keras(patience):
    # Keras >= 2.1.6: with patience p the rate drops at the end of the p-th epoch without improvement.
    model = CharRNN(vocab_size=5, hidden_size=4, lr=0.01, plateau_factor=0.2, plateau_patience=patience, min_lr=0.001)
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    rates = []
    for loss in [2.0, 1.5] + [1.5] * (patience + 1):
        scheduler.step(loss)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates[: 2 + patience - 1] == [0.01] * (2 + patience - 1)
    assert rates[2 + patience - 1] == pytest.approx(0.002)


# ------------------------------------------------------------------------------------------------------- addition


def test_addition_questions_are_distinct_up_to_order_and_seeded():
    pairs = addition_questions(3000, 3, seed=0)
    assert len({(min(a, b), max(a, b)) for a, b in pairs}) == 3000
    assert all(0 <= a < 1000 and 0 <= b < 1000 for a, b in pairs)
    assert addition_questions(3000, 3, seed=0) == pairs != addition_questions(3000, 3, seed=1)


def test_addition_data_is_reversed_padded_and_split_by_seed():
    def splits(seed: int) -> AdditionDataModule:
        data = AdditionDataModule(training_size=1000, test_size=100, seed=seed)
        data.setup("fit")
        return data

    data = splits(0)
    train, val, test = (data.splits[s].tensors for s in ("train", "val", "test"))
    assert len(train[0]) == 900 and len(val[0]) == 100 and len(test[0]) == 100
    assert train[0].shape[1] == 7 and train[1].shape[1] == 4
    question = data.question_text(train[0][0])
    a, b = (int(n) for n in question.split("+"))
    assert data.decode(train[1][0]) == str(a + b)
    assert "".join(" +0123456789"[i] for i in train[0][0])[::-1].strip() == question  # reversed, padded in front
    rows = {tuple(q.tolist()) for q in torch.cat([train[0], val[0], test[0]])}
    assert len(rows) == 1100  # no question twice across the three splits
    assert torch.equal(splits(0).splits["val"].tensors[0], val[0])
    assert not torch.equal(splits(1).splits["val"].tensors[0], val[0])


def test_addition_predict_answers_questions_from_the_command_line(tmp_path):
    workdir = tmp_path / "run"
    config = str(CONFIGS / "addition_seq2seq.yaml")
    common = ["--config", config, "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
    ZooCLI(args=["fit", *common, "--data.training_size", "200", "--data.test_size", "20", "--trainer.max_epochs",
                 "1", "--trainer.default_root_dir", str(workdir)])  # fmt: skip
    ZooCLI(args=["predict", *common, "--data.predict_text", '["12+345", "7 + 8"]',
                 "--ckpt_path", str(workdir / "checkpoints" / "last.ckpt")])  # fmt: skip
    with open(workdir / "predictions" / "answers.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["question"], r["true_sum"]) for r in rows] == [("12+345", "357"), ("7+8", "15")]
    with pytest.raises(DataError, match="'12-3' is not a question"):
        data = AdditionDataModule(predict_text=["12-3"])
        data.setup("predict")
    # The checkpoint's questions: other digits are refused by name, even for given questions; another seed only
    # where it decides which questions test
    last = ["--ckpt_path", str(workdir / "checkpoints" / "last.ckpt")]
    with pytest.raises(DataError, match=r"questions were made with --data.digits 3 \(here 2\): pass the same"):
        ZooCLI(args=["predict", *common, "--data.predict_text", "12+34", "--data.digits", "2", *last])
    with pytest.raises(DataError, match=r"--data.training_size 200 \(here 50000\), --data.seed 0 \(here 1\)"):
        ZooCLI(args=["test", *common, "--data.seed", "1", *last])
    ZooCLI(args=["predict", *common, "--data.predict_text", "12+34", "--data.seed", "1", *last])
    with pytest.raises(DataError, match=r"--data.seed 0 \(here 1\)"):  # a test scores the seeded questions
        ZooCLI(args=["test", *common, "--data.training_size", "200", "--data.test_size", "20", "--data.predict_text",
                     "12+34", "--data.seed", "1", *last])  # fmt: skip


@pytest.mark.parametrize(
    "option, reason",
    [(["--data.val_fraction", "0"], "the data hold no validation samples"),
     (["--trainer.limit_val_batches", "0"], "--trainer.limit_val_batches 0")],
)  # fmt: skip
def test_stopping_on_a_validation_metric_without_validation_is_refused_before_any_step(tmp_path, option, reason):
    """Lightning would fail at the first epoch's end ("not available"), the epoch's training lost."""
    from lightning_zoo.core import ZooError

    with pytest.raises(ZooError, match=rf"EarlyStopping monitors val/answer_acc, but this fit validates on nothing "
                                       rf"\({re.escape(reason)}"):  # fmt: skip
        ZooCLI(args=["fit", "--config", str(CONFIGS / "addition_seq2seq.yaml"), "--trainer.logger", "false",
                     "--data.training_size", "200", "--data.test_size", "20", "--trainer.default_root_dir",
                     str(tmp_path), *option])  # fmt: skip
    assert not (tmp_path / "checkpoints").exists()


def test_the_addition_model_counts_keras_parameters_plus_the_second_biases():
    from lightning_zoo.seq2seq import AdditionSeq2Seq

    model = AdditionSeq2Seq()
    assert sum(p.numel() for p in model.parameters()) == 205_324 + 2 * 4 * 128
    assert model(torch.zeros(3, 7, dtype=torch.long)).shape == (3, 4, 12)


def test_the_addition_model_trains_on_keras_clipped_loss_with_the_configs_epsilon():
    """Keras' categorical cross-entropy, clipped: a hopelessly wrong symbol costs at most -log(1e-7) = 16.1 (40 in
    F.cross_entropy here); the config's Adam epsilon (Keras 2.0's 1e-8) reaches the optimizer, Keras' 1e-7 without
    it."""
    from lightning_zoo.seq2seq import AdditionSeq2Seq

    torch.manual_seed(0)
    model = AdditionSeq2Seq()
    questions, answers = torch.randint(12, (4, 7)), torch.randint(12, (4, 4))
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[3] = 40.0  # every symbol predicted "1" with p > 1 - 1e-7
    loss = model.shared_step((questions, answers), "train")
    assert torch.isclose(loss, keras_categorical_crossentropy(model(questions), answers))
    assert not torch.isclose(loss, torch.nn.functional.cross_entropy(model(questions).flatten(0, 1), answers.flatten()))
    config = yaml.safe_load((CONFIGS / "addition_seq2seq.yaml").read_text())["model"]["init_args"]
    assert AdditionSeq2Seq(eps=config["eps"]).configure_optimizers().defaults["eps"] == 1e-8
    assert AdditionSeq2Seq().configure_optimizers().defaults["eps"] == 1e-7


def test_keras_binary_loss_is_bce_until_the_clip_then_flat():
    from lightning_zoo.keras import keras_binary_crossentropy

    torch.manual_seed(0)
    logits, targets = 4 * torch.randn(8), torch.randint(2, (8,)).float()
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert torch.allclose(keras_binary_crossentropy(logits, targets), plain)
    # Keras' own arithmetic: the float32 probability clipped to [1e-7, 1 - 1e-7], then -log p.
    past = torch.tensor([20.0, -20.0], requires_grad=True)
    loss = keras_binary_crossentropy(past, torch.tensor([0.0, 1.0]))
    loss.backward()
    p = torch.sigmoid(past.detach()).clamp(1e-7, 1 - torch.tensor(1e-7)).double()
    assert torch.isclose(loss.double(), -(torch.log(1 - p[0]) + torch.log(p[1])) / 2, rtol=1e-4)
    assert not past.grad.any()
