"""What a competition author uses, in one import line.

    from harness.competition import Format, Spec, Splits, hidden_test, random_split

A competition folder (`competitions/<name>/competition.py`) declares a `Spec` and the
contract functions (see `harness.competition.registry`); everything here helps write
them. The image helpers (`frame_dataloaders`, `pretrained_learner`) are in
`harness.competition.vision`. The modules of this package import only the plain helpers (errors, paths,
metrics, validate) and each other, never `run`, `store`, `kaggle.remote` or `cli`.
"""

from harness.competition.artifacts import pyplot, save_figure, save_json, save_table
from harness.competition.classification import most_confused, probabilities
from harness.competition.data import Splits
from harness.competition.frames import hidden_test, submission_frame
from harness.competition.registry import Spec, sibling
from harness.competition.sources import (
    SourceError,
    fastai_dataset,
    kaggle_competition_files,
    wheel_member,
)
from harness.competition.splits import (
    group_split,
    public_private,
    random_split,
    stratified_split,
    time_split,
)
from harness.validate import Format

__all__ = [
    "Format",
    "SourceError",
    "Spec",
    "Splits",
    "fastai_dataset",
    "group_split",
    "hidden_test",
    "kaggle_competition_files",
    "most_confused",
    "probabilities",
    "public_private",
    "pyplot",
    "random_split",
    "save_figure",
    "save_json",
    "save_table",
    "sibling",
    "stratified_split",
    "submission_frame",
    "time_split",
    "wheel_member",
]
