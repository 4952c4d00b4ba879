"""What the worker notes about a fastai Learner: its model, and every lr_find it runs.

`describe(learn)` gives the architecture and parameter counts stored with the run.
`LRFinds` wraps fastai's `Learner.lr_find` for the worker's lifetime, so that each call
(the submission's own, or the one the harness runs when `CONFIG["lr_find"]` is true)
leaves its curve and suggestions as artifacts: the plot the course looks at, and a table.
"""

from __future__ import annotations

import math
from pathlib import Path


def describe(learn) -> dict:
    """Architecture name, parameter counts and whether the weights started pretrained.

    fastai's `vision_learner` keeps its `arch` (a timm name or a torchvision function) on
    the Learner; other Learners are named after their model's class.
    """
    arch = getattr(learn, "arch", None)
    if arch is None:
        name = type(learn.model).__name__
    else:
        name = arch if isinstance(arch, str) else getattr(arch, "__name__", repr(arch))
    params = list(learn.model.parameters())
    return {
        "architecture": name,
        "parameters": int(sum(p.numel() for p in params)),
        "trainable": int(sum(p.numel() for p in params if p.requires_grad)),
        "pretrained": getattr(learn, "pretrained", None),
    }


class LRFinds:
    """Records each `Learner.lr_find` of the run as artifacts in `folder`.

    With `before_first_fit`, the harness itself runs `lr_find()` once, just before the
    first training fit of the first Learner, as the course does before `fine_tune`
    (lr_find saves and restores the weights, so training starts where it would have),
    unless the submission has run one itself by then.
    """

    def __init__(self, folder: Path, before_first_fit: bool = False):
        self.folder, self.pending, self.calls, self.inside = folder, before_first_fit, 0, False

    def install(self) -> None:
        from fastai.learner import Learner

        original_find, original_fit = Learner.lr_find, Learner.fit
        finds = self

        def lr_find(learn, *args, **kwargs):
            finds.inside, finds.pending = True, False  # asked for, and done by the member
            try:
                suggestions = original_find(learn, *args, **kwargs)
            finally:
                finds.inside = False
            try:
                finds.record(learn, suggestions)
            except Exception as e:  # a broken plot must not cost the member a scored run
                print(f"[run] could not record lr_find: {type(e).__name__}: {e}", flush=True)
            return suggestions

        def fit(learn, *args, **kwargs):
            if finds.pending and not finds.inside:
                finds.pending = False
                print("[run] lr_find before training (CONFIG lr_find)", flush=True)
                from fastai.callback.schedule import minimum, steep, valley

                # the course's two suggestions (minimum/10, steepest point) and fastai's default
                learn.lr_find(suggest_funcs=(minimum, steep, valley), show_plot=False)
            return original_fit(learn, *args, **kwargs)

        Learner.lr_find, Learner.fit = lr_find, fit

    def record(self, learn, suggestions) -> None:
        import pandas as pd

        from harness.competition.artifacts import pyplot, save_figure, save_table

        self.calls += 1
        name = "lr_find" if self.calls == 1 else f"lr_find_{self.calls}"
        title = "Learning-rate finder" + ("" if self.calls == 1 else f" ({self.calls})")
        rec = learn.recorder
        lrs = [float(x) for x in rec.lrs]
        losses = [float(x) for x in rec.losses]
        found = {}
        if suggestions is not None and hasattr(suggestions, "_fields"):
            found = {k: float(v) for k, v in zip(suggestions._fields, suggestions, strict=True)}
        table = pd.DataFrame({"lr": lrs, "loss": losses})
        for k, v in found.items():
            table[f"suggested {k}"] = [v] + [None] * (len(table) - 1)
        save_table(self.folder, name, table, f"{title}: loss by learning rate")
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        # as fastai's plot_lr_find: the curve without its last few, exploding, points
        skip = 5 if len(lrs) > 10 else 0
        ax.plot(lrs[: len(lrs) - skip], losses[: len(losses) - skip])
        ax.set(xscale="log", xlabel="learning rate", ylabel="loss (smoothed)", title=title)
        for (k, lr), marker in zip(found.items(), "ovs^", strict=False):
            if math.isfinite(lr) and lrs:
                i = min(range(len(lrs)), key=lambda j: abs(math.log(lrs[j]) - math.log(lr)))
                shown = "minimum/10" if k == "minimum" else k  # fastai's minimum is /10
                ax.plot(lr, losses[i], marker, markersize=8, label=f"{shown}: {lr:.2e}")
        if found:
            ax.legend()
        save_figure(self.folder, name, fig, title)
        shown = ", ".join(f"{k} {v:.2e}" for k, v in found.items())
        print(f"[run] lr_find: {len(lrs)} steps; suggested {shown or 'nothing'}", flush=True)
