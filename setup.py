"""The wheel carries the checkout's competitions/, submissions/ and leaderboard/ inside the
harness package, at harness/shipped/, so that `pip install .` gives a harness that runs the
demo and serves the board with no checkout beside it (harness.paths.project_root finds
them). An editable install copies nothing: the package finds the checkout's own folders.
Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FOLDERS = ("competitions", "submissions", "leaderboard")


class BuildPy(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        for name in FOLDERS:
            dest = Path(self.build_lib) / "harness" / "shipped" / name
            shutil.rmtree(dest, ignore_errors=True)  # a file removed since the last build
            skip = shutil.ignore_patterns("__pycache__", "*.py[cod]")
            shutil.copytree(Path(__file__).parent / name, dest, ignore=skip)


setup(cmdclass={"build_py": BuildPy})
