"""A ResNet from scratch, as book chapter 14 builds it, sized for 28x28 digits.

The chapter's pieces unchanged: ConvLayer (conv, batch norm, ReLU), ResBlock with an
identity path (average pool and 1x1 conv when the shape changes), batch-norm weights of
each block's last layer zeroed (NormType.BatchZero) so training starts from the identity,
a stem of plain convolutions, adaptive average pooling and one linear layer. For 28x28
images instead of Imagenette's 224x224: one stride-2 stem convolution, no max pool, three
stages (14x14, 7x7, 4x4) of 32, 64 and 128 channels.
"""

from fastai.vision.all import *

CONFIG = {
    "stem": [1, 16, 32],
    "channels": [32, 64, 128],
    "blocks": [1, 1, 1],
    "epochs": 5,
    "lr": 0.01,
}


def _conv_block(ni, nf, stride):
    return nn.Sequential(
        ConvLayer(ni, nf, stride=stride),
        ConvLayer(nf, nf, act_cls=None, norm_type=NormType.BatchZero),
    )


class ResBlock(Module):
    def __init__(self, ni, nf, stride=1):
        self.convs = _conv_block(ni, nf, stride)
        self.idconv = noop if ni == nf else ConvLayer(ni, nf, 1, act_cls=None)
        self.pool = noop if stride == 1 else nn.AvgPool2d(2, ceil_mode=True)

    def forward(self, x):
        return F.relu(self.convs(x) + self.idconv(self.pool(x)))


def _resnet_stem(*sizes):
    return [
        ConvLayer(sizes[i], sizes[i + 1], 3, stride=2 if i == 0 else 1)
        for i in range(len(sizes) - 1)
    ]


class ResNet(nn.Sequential):
    def __init__(self, n_out, stem, channels, blocks):
        szs = [stem[-1], *channels]
        layers = [
            self._make_layer(szs[i], szs[i + 1], n, 1 if i == 0 else 2)
            for i, n in enumerate(blocks)
        ]
        super().__init__(
            *_resnet_stem(*stem),
            *layers,
            nn.AdaptiveAvgPool2d(1),
            Flatten(),
            nn.Linear(szs[-1], n_out),
        )

    def _make_layer(self, ch_in, ch_out, n_blocks, stride):
        return nn.Sequential(
            *[
                ResBlock(ch_in if i == 0 else ch_out, ch_out, stride if i == 0 else 1)
                for i in range(n_blocks)
            ]
        )


def train(dls):
    model = ResNet(dls.c, CONFIG["stem"], CONFIG["channels"], CONFIG["blocks"])
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"])
    return learn
