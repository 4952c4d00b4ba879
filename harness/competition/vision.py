"""What image competitions and their baselines share: DataLoaders whose test_dl takes the
test frame, and pretrained weights when they can be had, else the same model from scratch.

    learn, pretrained = pretrained_learner(dls, "resnet18", metrics=error_rate)
    learn.fine_tune(4) if pretrained else learn.fit_one_cycle(10, 3e-3)
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pandas as pd


def frame_dataloaders(loaders, to_items, competition: str):
    """fastai DataLoaders whose test_dl also takes a frame in the competition's format.

    Args:
        loaders: the DataLoaders a DataBlock made of the competition's items.
        to_items: frame -> the items the DataBlock reads (MNIST's Digits, Pets' Pets).
        competition: its name, for the log lines of the helpers below.
    """
    from fastai.data.core import DataLoaders

    class FrameDataLoaders(DataLoaders):
        def test_dl(self, test_items, rm_type_tfms=None, with_labels: bool = False, **kwargs):
            if isinstance(test_items, pd.DataFrame):
                test_items = to_items(test_items)
            return super().test_dl(test_items, rm_type_tfms, with_labels, **kwargs)

    dls = FrameDataLoaders(*loaders.loaders, path=loaders.path, device=loaders.device)
    dls.competition = competition
    return dls


def reachable(url: str, timeout: float = 3) -> bool:
    """Whether url's server answers on port 443; a short test, so offline runs start at once."""
    try:
        socket.create_connection((urlparse(url).hostname, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def hub_online() -> bool:
    """Whether the Hugging Face hub answers; if not, its client is switched to offline
    mode, reading only its cache (it would otherwise retry for about a minute)."""
    import huggingface_hub

    if reachable(huggingface_hub.constants.ENDPOINT):
        return True
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    return False


def torchvision_weights_at_hand(arch) -> bool:
    """Whether a torchvision architecture's default weights (what fastai loads) are in
    torch's cache or their server answers."""
    from pathlib import Path

    import torch
    from torchvision.models import get_model_weights

    url = get_model_weights(arch).DEFAULT.url
    return Path(torch.hub.get_dir(), "checkpoints", Path(url).name).exists() or reachable(url)


def pretrained_learner(dls, arch, **kwargs):
    """`vision_learner(dls, arch, **kwargs)` with ImageNet weights when they can be had,
    else the same learner untrained, said in one log line.

    A timm name (a string) is tried from the hub, or from its cache when the hub does
    not answer; a torchvision architecture only when its weights are cached or their
    server answers.

    Returns:
        (learn, pretrained): fine_tune a pretrained learner; train one from scratch longer.
    """
    from fastai.vision.learner import vision_learner

    if isinstance(arch, str):
        attempt, online = True, hub_online()
    else:
        attempt = online = torchvision_weights_at_hand(arch)
    return _pretrained_or_scratch(
        lambda pretrained: vision_learner(dls, arch, pretrained=pretrained, **kwargs),
        getattr(arch, "__name__", arch),
        _who(dls),
        attempt,
        online,
    )


def pretrained_model(dls, create, arch: str, **kwargs):
    """`create(arch, pretrained=True, **kwargs)` (e.g. `timm.create_model`) when the hub
    answers, else `create(arch, pretrained=False, **kwargs)`, said in one log line.

    Unlike pretrained_learner, the hub's cache is not tried offline: a failed attempt
    initialises a model first, which would move the seeded random state.

    Returns:
        (model, pretrained).
    """
    online = hub_online()
    return _pretrained_or_scratch(
        lambda pretrained: create(arch, pretrained=pretrained, **kwargs),
        arch,
        _who(dls),
        online,
        online,
    )


def _who(dls) -> str:
    return getattr(dls, "competition", None) or "harness"


def _pretrained_or_scratch(make, arch: str, who: str, attempt: bool, online: bool):
    why = "offline"
    if attempt:
        try:
            return make(True), True
        except Exception as e:  # no network and no cache, a proxy, a broken download
            if online:
                why = " ".join(f"{type(e).__name__}: {e}".split())[:160]
    print(f"[{who}] no pretrained weights for {arch} ({why}): training from scratch", flush=True)
    return make(False), False
