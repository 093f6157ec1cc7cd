"""Seeing inside networks: activation maps of the layer's shape, filter patterns whose activation rises, Grad-CAM that
finds the region a class depends on, DeepDream, the callbacks through the image path, and the command."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from datamodules import MNISTDataModule
from lightning_zoo.classification import IntroConvNet
from lightning_zoo.core import ZooError
from lightning_zoo.pretrained import imagenet_classes, vgg16, vgg16_conv_base
from lightning_zoo.visualization import (
    ActivationMaps,
    DeepDream,
    FilterPatterns,
    GradCAM,
    ImageNetInput,
    activation_grid,
    activation_maps,
    deep_dream,
    filter_pattern,
    grad_cam,
    imagenet_top,
    keras_name,
    main,
    overlay,
)
from tests.helpers.train import trainer


def digits(data_root: Path) -> MNISTDataModule:
    return MNISTDataModule(data_dir=str(data_root), batch_size=8)


def convnet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 6, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2)
    )  # fmt: skip


def test_activation_maps_have_the_layers_shape_and_values():
    net = convnet()
    image = torch.rand(3, 20, 20)
    maps = activation_maps(net, image, ["1", "4"])
    assert maps["1"].shape == (8, 18, 18) and maps["4"].shape == (6, 7, 7)
    assert torch.allclose(maps["4"], net[:5](image[None])[0])
    grid = activation_grid(maps["1"], per_row=4)
    assert grid.dtype == torch.uint8 and grid.shape == (3, 2 * 19 - 1, 4 * 19 - 1)  # 8 tiles, 4 a row, 1 px apart


def test_the_filter_patterns_activation_rises_over_its_steps():
    net = convnet()
    pattern, losses = filter_pattern(net, "3", 2, (3, 24, 24), steps=15, step=0.02, generator=torch.Generator())
    assert pattern.shape == (3, 24, 24) and pattern.dtype == torch.uint8
    assert losses[-1] > 2 * losses[0] + 1e-3
    assert sum(b > a for a, b in zip(losses, losses[1:], strict=False)) >= 0.8 * (len(losses) - 1)


class TwoDetectors(nn.Module):
    """Channel 0 sees bright pixels, channel 1 dark ones (on a grey 0.5); class c's logit is channel c's mean."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.features.bias.copy_(torch.tensor([-0.5, 0.5]))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.features(x)).mean((2, 3))


def test_grad_cam_puts_its_maximum_on_the_region_the_class_depends_on():
    image = torch.full((1, 16, 16), 0.5)
    image[0, 2:7, 2:7] = 1.0  # the bright square: class 0's evidence, larger, so class 0 is predicted
    image[0, 11:14, 10:13] = 0.0  # the dark square: class 1's
    heatmap, predicted = grad_cam(TwoDetectors(), "relu", image)
    assert predicted == 0
    row, col = divmod(int(heatmap.argmax()), 16)
    assert 2 <= row < 7 and 2 <= col < 7 and heatmap.max() == 1
    heatmap, chosen = grad_cam(TwoDetectors(), "relu", image, class_index=1)
    row, col = divmod(int(heatmap.argmax()), 16)
    assert chosen == 1 and 11 <= row < 14 and 10 <= col < 13
    assert heatmap[2:7, 2:7].max() == 0  # class 1 owes nothing to the bright square
    assert overlay(image, heatmap).shape == (3, 16, 16)


def test_grad_cam_of_a_one_logit_network_scores_class_0_by_minus_the_logit():
    net = nn.Sequential(TwoDetectors(), nn.Linear(2, 1))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[-1.0, 1.0]]))  # positive logit: dark evidence wins (class 1)
        net[1].bias.zero_()
    image = torch.full((1, 16, 16), 0.5)
    image[0, 2:7, 2:7] = 1.0
    heatmap, predicted = grad_cam(net, "0.relu", image)
    row, col = divmod(int(heatmap.argmax()), 16)
    assert predicted == 0 and 2 <= row < 7 and 2 <= col < 7


def test_deep_dream_raises_its_layers_activations_at_every_octave():
    net = convnet()
    image = torch.rand(3, 30, 30)
    dreamt, losses = deep_dream(net, image, {"1": 1.0, "4": 0.5}, octaves=2, iterations=5, step=0.01)
    assert dreamt.shape == (3, 30, 30) and dreamt.dtype == torch.uint8
    assert len(losses) == 10
    assert losses[4] > losses[0] and losses[9] > losses[5]
    assert not torch.equal(dreamt, image.mul(255).round().to(torch.uint8))


def test_deep_dream_names_an_octave_too_small_for_the_network():
    """The MNIST intro convnet's layer 7 at 3 octaves: 28x28 shrinks to 14x14, too small for its convolutions (a
    traceback from conv2d at the first validation's end, before the first checkpoint)."""
    net = IntroConvNet(input_shape=(1, 28, 28)).net
    with pytest.raises(ZooError, match=r"^DeepDream: octave 1 of 3 shrinks the image to 14x14, which the network "
                                       r"cannot read up to layer\(s\) 7 \(.*\): use fewer octaves"):  # fmt: skip
        deep_dream(net, torch.rand(1, 28, 28), {"7": 1.0}, octaves=3, iterations=1)
    deep_dream(net, torch.rand(1, 28, 28), {"7": 1.0}, octaves=1, iterations=1)


def test_the_callbacks_log_their_images_through_the_image_path(data_root, tmp_path):
    model = IntroConvNet(input_shape=(1, 28, 28))
    views = [
        ActivationMaps(layers=["0", "3"]),
        FilterPatterns(layer="3", filters=2, steps=3),
        GradCAM(layer="6"),
        DeepDream(layers={"3": 1.0}, octaves=2, iterations=2),
    ]
    trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1, callbacks=views).fit(
        model, digits(data_root)
    )
    written = sorted(str(p.relative_to(tmp_path / "images")).split("/epoch=")[0] for p in tmp_path.rglob("*.png"))
    assert written == ["activations/0", "activations/3", "deep_dream/image", "filters/3", "grad_cam/6"]


@pytest.fixture
def checkpoint(data_root, tmp_path) -> Path:
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    t.fit(IntroConvNet(input_shape=(1, 28, 28)), digits(data_root))
    t.save_checkpoint(tmp_path / "model.ckpt")
    return tmp_path / "model.ckpt"


def test_the_command_writes_each_view_for_a_checkpoint_and_an_image(checkpoint, tmp_path):
    image = tmp_path / "digit.png"
    Image.fromarray((torch.rand(40, 30) * 255).byte().numpy(), "L").save(image)  # resized to 28x28
    out = tmp_path / "views"
    common = ["--checkpoint", str(checkpoint), "--out", str(out)]
    assert main(["activations", *common, "--image", str(image), "--layers", "0", "3"]) == [
        out / "activations_0.png",
        out / "activations_3.png",
    ]
    assert main(["gradcam", *common, "--image", str(image), "--layers", "6", "--class-index", "4"]) == [
        out / "gradcam_6_class4.png"
    ]
    assert main(["filters", *common, "--layers", "0", "--filters", "2"]) == [out / "filters_0.png"]
    assert main(["dream", *common, "--image", str(image), "--layers", "3=2"]) == [out / "dream_image.png"]
    assert Image.open(out / "activations_0.png").size == (16 * 27 - 1, 2 * 27 - 1)  # 32 maps of 26x26


def test_the_command_names_the_layers_a_network_has(checkpoint, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["filters", "--checkpoint", str(checkpoint), "--layers", "features.0"])
    assert stopped.value.code == 2
    assert "no layer 'features.0'; its convolutions are 0, 3, 6" in capsys.readouterr().err


def test_the_command_reads_vgg16_layers_by_their_keras_names(tmp_path):
    # The torch hub cache of the tests holds random "ImageNet" weights in torchvision's file (conftest.torch_home).
    out = tmp_path / "views"
    args = ["filters", "--vgg16", "imagenet", "--layers", "block1_conv2", "--size", "32", "--filters", "2"]
    assert main([*args, "--out", str(out)]) == [out / "filters_block1_conv2.png"]


def test_deep_dream_runs_on_inception_v3_by_the_keras_examples_layer_names(tmp_path):
    from lightning_zoo.pretrained import inception_v3

    weights = tmp_path / "inception.pth"
    torch.save(inception_v3().state_dict(), weights)  # random weights in torchvision's format
    image = tmp_path / "photo.png"
    Image.fromarray((torch.rand(90, 120, 3) * 255).byte().numpy(), "RGB").save(image)
    out = tmp_path / "views"
    args = ["dream", "--inception-v3", str(weights), "--image", str(image), "--size", "96", "--octaves", "1",
            "--iterations", "2", "--layers", "mixed2=0.2", "mixed3=0.5", "--out", str(out)]  # fmt: skip
    assert main(args) == [out / "dream_image.png"]
    assert Image.open(out / "dream_image.png").size == (96, 96)


def test_grad_cam_of_a_network_without_class_scores_says_so():
    with pytest.raises(ZooError, match="Grad-CAM needs a network that outputs class scores"):
        grad_cam(ImageNetInput(vgg16_conv_base()), "base.28", torch.rand(3, 32, 32))


def test_grad_cam_on_vgg16_scores_imagenet_classes_at_block5_conv3_as_the_book():
    net = ImageNetInput(vgg16())  # random weights: the book's elephant needs the ImageNet ones
    heatmap, chosen = grad_cam(net, keras_name(net, "block5_conv3"), torch.rand(3, 224, 224))
    assert heatmap.shape == (14, 14) and 0 <= chosen < 1000 and heatmap.max() <= 1
    top = imagenet_top(net, torch.rand(3, 224, 224))
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1] and imagenet_classes()[386] == "African elephant"


def test_grad_cam_of_vgg16_without_its_classifier_names_the_file_it_needs(tmp_path, capsys):
    # The tests' torch hub cache holds the conv base only (conftest.torch_home), as a user's copy of it might.
    image = tmp_path / "photo.png"
    Image.fromarray((torch.rand(40, 40, 3) * 255).byte().numpy(), "RGB").save(image)
    with pytest.raises(SystemExit):
        main(["gradcam", "--vgg16", "imagenet", "--image", str(image), "--layers", "block5_conv3"])
    assert "holds VGG16's conv base only, without the classifier" in capsys.readouterr().err


def test_imagenet_weights_that_cannot_be_downloaded_name_the_commands_own_option(tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(SystemExit):
        main(["filters", "--inception-v3", "imagenet", "--layers", "mixed0"])
    message = capsys.readouterr().err
    assert "the visualization command's --inception-v3 PATH)" in message
    assert "--model.weights PATH for a VGG16 model, --data.weights PATH for the VGG16 features' DataModule" in message


def test_the_gradient_views_work_under_validates_inference_mode(data_root, tmp_path):
    views = [FilterPatterns(layer="3", filters=1, steps=2), GradCAM(layer="6"), DeepDream(layers={"3": 1.0}, octaves=1)]
    trainer(tmp_path, limit_val_batches=1, callbacks=views).validate(IntroConvNet(), digits(data_root))
    written = sorted(str(p.relative_to(tmp_path / "images")).split("/epoch=")[0] for p in tmp_path.rglob("*.png"))
    assert written == ["deep_dream/image", "filters/3", "grad_cam/6"]
