"""Discovers competitions/*/competition.py and checks each against the contract.

A competition folder holds `competition.py` with a module docstring, a `SPEC` and three
functions: `fetch(source, raw_dir)`, `prepare(source, raw_dir) -> Splits` and
`dls(train, valid, **kwargs) -> DataLoaders`. The rest is optional (OPTIONAL):
`to_submission(test, preds)` when the submission needs more than the id and the
predictions cast to the format's type (`harness.competition.frames.submission_frame`);
`from_dls_target(preds)` when `dls` trains on another target than the submission's
(Rossmann: log(Sales)), turning the model's predictions back into submission units;
`diagnose(learn, out)`, run in the worker after a fastai Learner has trained; and
`report(test, labels, preds, raw, out)`, run in the worker on the valid set (never on
the hidden test: its scores are all it tells). The last two write artifacts
(see `harness.competition.artifacts`). `course_data()` names the fastai datasets a run's
`untar_data(URLs.X)` finds without network, as {"PETS": files(train, valid)}: each
function gives that dataset's folder, {relative path: bytes}, made from train and valid
only (`harness.run.course_data`). The folder name is the competition's key everywhere.

Each discovered competition is the package `competitions.<name>` (its folder needs no
`__init__.py`), so the modules beside its competition.py import plainly:
`from competitions.rossmann import models`.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import re
import sys
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from harness.competition.frames import submission_frame
from harness.errors import CompetitionError, UnknownCompetition
from harness.metrics import Metric, get_metric
from harness.paths import competitions_dir
from harness.validate import Format

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
# name -> the parameters each contract function must accept first, in order
CONTRACT = {
    "fetch": ("source", "raw_dir"),
    "prepare": ("source", "raw_dir"),
    "dls": ("train", "valid"),
}
# the optional functions, checked the same way when a competition defines them
OPTIONAL = {
    "to_submission": ("test", "preds"),
    "from_dls_target": ("preds",),
    "diagnose": ("learn", "out"),
    "report": ("test", "labels", "preds", "raw", "out"),
    "course_data": (),
}


@dataclass(frozen=True)
class Spec:
    """What a competition declares: everything that changes results is versioned here.

    Attributes:
        version: bump it whenever data, split or metric change; scores of different
            versions are never ranked together.
        metric: a name from `harness.metrics.METRICS`; its direction comes with it.
        submission: the Kaggle submission format, e.g.
            `Format("PassengerId", "Survived", "int", allowed=(0, 1))`.
        public_fraction: share of the hidden test scored on the public board.
        seed: the seed of every split, so the data is the same on every machine.
        sources: where raw data may come from; the first is the default.
        kaggle: the Kaggle competition slug, where there is one.
        also: metrics shown beside the main one, e.g. ("mse",) beside rmse, as the
            course does; they never rank.
        label_col: the target's name in train.csv when Kaggle spells it differently
            from the submission (digit-recognizer: `label` in train, `Label` submitted).
        plausible_best: the best score a real model can honestly reach on the hidden
            test, in the metric's units (a ceiling for accuracy, a floor for RMSE). A
            public score beyond it (`Metric.is_better`) is flagged on the board for the
            organiser to review: labels public elsewhere (titanic3, MNIST, MovieLens)
            cannot be kept secret. None: no flag.
    """

    version: int
    metric: str
    submission: Format
    also: tuple[str, ...] = ()
    public_fraction: float = 0.5
    seed: int = 42
    sources: tuple[str, ...] = ("offline",)
    kaggle: str | None = None
    label_col: str | None = None
    plausible_best: float | None = None

    @property
    def id_col(self) -> str:
        return self.submission.id_col

    @property
    def target(self) -> str:
        return self.submission.target

    @property
    def train_target(self) -> str:
        """The target column of train and valid (and of train.csv)."""
        return self.label_col or self.target

    @property
    def default_source(self) -> str:
        return self.sources[0]

    def implausible(self, metric: Metric, score: float | None) -> bool:
        """Whether a score is beyond the plausible best: one for the organiser to review."""
        if self.plausible_best is None or score is None or score != score:  # NaN
            return False
        return metric.is_better(score, self.plausible_best)

    def problems(self) -> list[str]:
        """What is wrong with this spec, in words; empty when it is sound."""
        out = []
        if not isinstance(self.version, int) or self.version < 1:
            out.append(f"SPEC.version must be a positive integer, got {self.version!r}")
        for field, name in [("metric", self.metric), *(("also", a) for a in self.also)]:
            try:
                get_metric(name)
            except KeyError as e:
                out.append(f"SPEC.{field}: {e.args[0]}")
        if not isinstance(self.submission, Format):
            out.append("SPEC.submission must be a harness.validate.Format")
        if not 0 < self.public_fraction < 1:
            out.append(f"SPEC.public_fraction must be in (0, 1), got {self.public_fraction!r}")
        if not self.sources:
            out.append("SPEC.sources must name at least one source")
        if self.plausible_best is not None and not isinstance(self.plausible_best, int | float):
            out.append(f"SPEC.plausible_best must be a number, got {self.plausible_best!r}")
        return out


@dataclass(frozen=True)
class Competition:
    """A discovered competition: its key, spec, docstring and contract functions."""

    name: str
    path: Path
    module: ModuleType

    @property
    def spec(self) -> Spec:
        return self.module.SPEC

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.module) or ""

    @property
    def title(self) -> str:
        return self.doc.splitlines()[0] if self.doc else self.name

    @cached_property
    def metric(self) -> Metric:
        return get_metric(self.spec.metric)

    def hook(self, name: str):
        """An optional function of the competition (`diagnose`, `report`, `course_data`),
        or None."""
        fn = getattr(self.module, name, None)
        return fn if callable(fn) else None

    def to_submission(self, test, preds):
        """Predictions in submission units, aligned with test, as the submission frame:
        the competition's own to_submission, else id and predictions in the format's type."""
        if own := self.hook("to_submission"):
            return own(test, preds)
        return submission_frame(self.spec.submission, test, preds)

    def from_dls_target(self, preds):
        """What the model trained by `dls` predicts, in submission units (Rossmann: exp)."""
        decode = self.hook("from_dls_target")
        return decode(preds) if decode else preds

    def __getattr__(self, attr: str):
        # contract functions (fetch, prepare, dls) come from the module
        if attr in CONTRACT:
            return getattr(self.module, attr)
        raise AttributeError(attr)


def sibling(competition_file: str, name: str) -> ModuleType:
    """A module beside a competition.py (a data generator, shared models), loaded once.

    `competition.py` reaches its helpers with `simulate = sibling(__file__, "simulate")`;
    it is the same module as `from competitions.<name> import simulate` gives.
    """
    path = Path(competition_file).with_name(f"{name}.py")
    qualname = f"competitions.{path.parent.name}.{name}"
    if qualname not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualname, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualname] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualname]
            raise
    return sys.modules[qualname]


def _load(path: Path) -> ModuleType:
    name = path.parent.name
    if "competitions" not in sys.modules:  # the root of `from competitions.x import y`
        root = ModuleType("competitions", "The discovered competitions, one package each.")
        root.__path__ = [str(path.parent.parent)]
        sys.modules["competitions"] = root
    # a package: the folder's other modules import as competitions.<name>.<module>
    spec = importlib.util.spec_from_file_location(
        f"competitions.{name}", path, submodule_search_locations=[str(path.parent)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[spec.name]
        raise CompetitionError(f"{path}: import failed: {type(e).__name__}: {e}") from e
    return module


def check(path: Path, module: ModuleType) -> list[str]:
    """The ways a competition module breaks the contract."""
    out = []
    if not path.parent.name or not NAME_RE.match(path.parent.name):
        out.append(f"folder name {path.parent.name!r} must match {NAME_RE.pattern}")
    if not inspect.getdoc(module):
        out.append("missing module docstring (the leaderboard shows it)")
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, Spec):
        out.append("missing SPEC = harness.competition.Spec(...)")
    else:
        out += spec.problems()
    for fname, params in [*CONTRACT.items(), *OPTIONAL.items()]:
        fn = getattr(module, fname, None)
        if fname in OPTIONAL and fn is None:
            continue
        if not callable(fn):
            out.append(f"missing function {fname}({', '.join(params)}, ...)")
            continue
        got = tuple(inspect.signature(fn).parameters)[: len(params)]
        if got != params:
            out.append(f"{fname} must take ({', '.join(params)}, ...), got ({', '.join(got)})")
    return out


_cache: dict[Path, dict[str, Competition]] = {}
# one import at a time: a server's threads all discover on their first request, and a
# thread must never see another's half-run module (a sibling() put in sys.modules early)
_importing = threading.RLock()


def discover(root: Path | None = None) -> dict[str, Competition]:
    """Imports every competitions/*/competition.py and checks it.

    Raises:
        CompetitionError: naming each broken file and what is wrong with it.
    """
    root = Path(root or competitions_dir())
    if root in _cache:
        return _cache[root]
    with _importing:
        if root not in _cache:
            _cache[root] = _discover(root)
        return _cache[root]


def _discover(root: Path) -> dict[str, Competition]:
    found, errors = {}, []
    for path in sorted(root.glob("*/competition.py")):
        if path.parent.name.startswith(("_", ".")):
            continue
        try:
            module = _load(path)
        except CompetitionError as e:
            errors.append(str(e))
            continue
        problems = check(path, module)
        if problems:
            errors.append(f"{path}: " + "; ".join(problems))
        else:
            found[path.parent.name] = Competition(path.parent.name, path, module)
    if errors:
        raise CompetitionError("broken competition: " + "\n".join(errors))
    return found


def get(name: str) -> Competition:
    """The competition called `name`.

    Raises:
        CompetitionError: `Unknown competition 'titanc'. Did you mean: titanic?`
    """
    comps = discover()
    if name in comps:
        return comps[name]
    close = difflib.get_close_matches(name, comps, n=3, cutoff=0.6)
    hint = f"Did you mean: {', '.join(close)}?" if close else f"Known: {', '.join(comps)}."
    raise UnknownCompetition(f"Unknown competition {name!r}. {hint}")
