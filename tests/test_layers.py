"""harness/ is layered: each module imports only its own package and the layers below,
and no module imports one that imports it back (lazy imports inside functions count)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "harness"
# lowest first; a module may import its own package and anything of a lower rank
RANKS = [
    ("harness.errors", 0),  # every error's base
    ("harness.paths", 1),
    ("harness.metrics", 1),
    ("harness.validate", 1),
    ("harness.kaggle_client", 2),  # a leaf: data sources download through it
    ("harness.competition", 3),
    ("harness.store", 4),
    ("harness.run", 5),
    ("harness.kaggle", 6),  # Kaggle's side: sends scored runs, reads its scores and board
    ("harness.server", 6),  # the group's server: beside kaggle, under the command line
    ("harness.cli", 7),
    ("harness", 0),  # the package's own docstring
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def rank(name: str) -> tuple[str, int]:
    for prefix, r in RANKS:
        if name == prefix or name.startswith(prefix + "."):
            return prefix, r
    raise AssertionError(f"{name} is in no layer of tests/test_layers.py")


def imports(name: str) -> set[str]:
    """The harness modules a module imports, anywhere in its body."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports(name) for name in MODULES}


def test_the_layout_has_the_packages_the_readme_names():
    for pkg in ("competition", "run", "store", "kaggle", "server", "cli"):
        assert (ROOT / pkg / "__init__.py").read_text().startswith('"""'), pkg


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_its_package_and_the_layers_below(name):
    own, r = rank(name)
    for dep in GRAPH[name]:
        dep_pkg, dep_r = rank(dep)
        assert dep_pkg == own or dep_r < r, f"{name} (layer {own}) imports {dep} ({dep_pkg})"


def test_no_module_imports_one_that_imports_it_back():
    cycles = []

    def visit(node, path):
        for dep in GRAPH[node]:
            if dep == path[0]:
                cycles.append(" -> ".join([*path, dep]))
            elif dep not in path and dep > path[0]:  # each cycle once, from its least name
                visit(dep, [*path, dep])

    for start in sorted(GRAPH):
        visit(start, [start])
    assert not cycles, "\n".join(cycles)


def test_a_layer_is_a_whole_package_or_a_top_level_module():
    """No module of a package sits in another layer than its package's."""
    for prefix, _ in RANKS:
        assert prefix.count(".") <= 1, f"{prefix} is a layer inside a package"
