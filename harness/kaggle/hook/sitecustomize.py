"""Kaggle's client pointed at the group's server, in every Python that starts with this
folder on PYTHONPATH (`eval "$(harness kaggle-env)"`, then `kaggle ...`, `jupyter lab`).

kaggle 2.x has no setting for its host: `KAGGLE_API_ENVIRONMENT=LOCALHOST` sends it to
kagglesdk's LOCAL environment, whose address (http://localhost) sits in a module-level
table. Python runs a `sitecustomize` at start-up; this one puts HARNESS_KAGGLE_URL in that
table when kagglesdk is first imported (nothing is imported before that, so a Python that
never uses Kaggle's client pays nothing), then runs the `sitecustomize` this one hides.

Only the standard library: the notebook's kernel may be another Python than the harness's.
`harness kaggle-cli` calls `point` itself.
"""

import importlib.util
import os
import sys
from importlib.machinery import PathFinder

URL = "HARNESS_KAGGLE_URL"
MODULE = "kagglesdk.kaggle_env"


def point(url: str) -> None:
    """kagglesdk's LOCAL environment sends to `url`: now if kagglesdk is imported, else
    as soon as it is."""
    env = sys.modules.get(MODULE)
    if env is not None:
        env._env_to_endpoint[env.KaggleEnv.LOCAL] = url
        return
    for finder in sys.meta_path:
        if isinstance(finder, _Finder):
            finder.url = url
            return
    sys.meta_path.insert(0, _Finder(url))


class _Finder:
    """Finds kagglesdk.kaggle_env as Python would, and sets the address once it has run."""

    def __init__(self, url: str):
        self.url = url

    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run, url = spec.loader.exec_module, self.url

        def exec_module(module):
            run(module)
            module._env_to_endpoint[module.KaggleEnv.LOCAL] = url

        spec.loader.exec_module = exec_module
        return spec


def _chain() -> None:
    """The next `sitecustomize` on sys.path (Debian's, a conda's), which this one hides."""
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None and spec.origin != __file__:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if __name__ == "sitecustomize":  # Python's start-up, not an import by the harness
    if os.environ.get(URL):
        point(os.environ[URL])
    _chain()
