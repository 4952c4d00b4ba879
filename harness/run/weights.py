"""Pretrained weights: the host's cache, what a run sees of it, and what a run loaded.

The organiser fetches weights once (`harness weights fetch resnet34`) into
`$HARNESS_HOME/weights/`, in the libraries' own layouts:

    torch/hub/checkpoints/resnet34-b627a593.pth       torchvision, torch.hub (TORCH_HOME=torch)
    huggingface/hub/models--timm--resnet34.a1_in1k/   timm and the Hugging Face hub (HF_HOME)
    index.json                                        name, library and sha256 of each file

A run sees the folder read-only (at /weights in the sandbox) with TORCH_HOME and HF_HOME
pointing into it and the hub offline (`run_env`), so the libraries find their files where
they always look. Hooks in every process that runs member code (`install`) turn a
download, which cannot work in a run, into one line naming the weights and the command
that fetches them (`WeightsMissing`), and note each weights file loaded (`loaded`).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from harness.paths import home

ENV = "HARNESS_WEIGHTS"  # where a run finds the cache (the hooks read it)
SANDBOX_ROOT = Path("/weights")
INDEX = "index.json"
CHECKPOINTS = Path("torch", "hub", "checkpoints")  # torch.hub's, under TORCH_HOME
HUB = Path("huggingface", "hub")  # the Hugging Face hub's cache, under HF_HOME
MAX_RECORDED = 64  # weights files a run's record keeps


def root() -> Path:
    """This machine's weights cache (a Ray node's own, under its harness home)."""
    return home() / "weights"


def run_env(folder: Path) -> dict[str, str]:
    """A run's variables: the libraries' caches in `folder`, the hub offline and silent."""
    return {
        ENV: str(folder),
        "TORCH_HOME": str(folder / "torch"),
        "HF_HOME": str(folder / "huggingface"),
        "HF_HUB_CACHE": str(folder / HUB),  # else an organiser's own HF_HUB_CACHE wins
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }


# --- the cache: its files and index ----------------------------------------------------


def read_index(folder: Path) -> dict[str, dict]:
    """index.json's entries by file (relative to the cache); none when absent or broken."""
    try:
        files = json.loads((folder / INDEX).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(v, dict)}


def write_index(folder: Path, files: dict[str, dict]) -> None:
    """Replaces index.json at once (readers never see half of it), readable by runs."""
    tmp = folder / f".{INDEX}.{os.getpid()}"
    tmp.write_text(json.dumps({"files": dict(sorted(files.items()))}, indent=1))
    tmp.chmod(0o644)
    os.replace(tmp, folder / INDEX)


def cached_files(folder: Path) -> list[Path]:
    """The weights files in the cache, relative to it: torch.hub's checkpoints and every
    file of the hub's model snapshots (downloads in progress left out)."""
    out = []
    checkpoints = folder / CHECKPOINTS
    if checkpoints.is_dir():
        for p in sorted(checkpoints.iterdir()):
            if p.is_file() and not p.name.startswith((".", "tmp")) and p.suffix != ".partial":
                out.append(p.relative_to(folder))
    hub = folder / HUB
    if hub.is_dir():
        for repo in sorted(hub.glob("models--*")):
            for p in sorted((repo / "snapshots").rglob("*")):
                if p.is_file():
                    out.append(p.relative_to(folder))
    return out


def repo_of(rel: Path) -> str | None:
    """The hub repository a cached file belongs to ('timm/resnet18.a1_in1k'), or None."""
    parts = rel.parts
    if parts[:2] != HUB.parts or len(parts) < 3 or not parts[2].startswith("models--"):
        return None
    return parts[2].removeprefix("models--").replace("--", "/")


def guess(rel: Path, names: bool = True) -> tuple[str, str]:
    """(library, name) of a cached file no index entry names, from where it lies.

    Args:
        names: look torchvision's names up (imports torchvision); else the file's name.
    """
    if repo := repo_of(rel):
        owner, _, model = repo.partition("/")
        return ("timm", model) if owner == "timm" else ("huggingface", repo)
    if names and (name := torchvision_files().get(rel.name)):
        return "torchvision", name
    return "torch.hub", rel.name


@cache
def torchvision_files() -> dict[str, str]:
    """torchvision's weights files by name ('resnet18-f37072fd.pth') -> the model's name;
    the classification models' first, as fastai's vision_learner uses them."""
    import torchvision.models as models

    out: dict[str, str] = {}
    for group in (models.list_models(module=models), models.list_models()):
        for name in group:
            try:
                weights = models.get_model_weights(name)
            except (ValueError, KeyError):
                continue
            for w in weights:
                out.setdefault(os.path.basename(urlparse(w.url).path), name)
    return out


def describe(folder: Path, rel: Path, index: dict, hashes: bool = True, names: bool = True):
    """One cached file: name, library, file, size, sha256 (the index's while the file is
    unchanged since it was written, else computed; None when `hashes` is off), mtime_ns."""
    from harness.run.repro import file_sha256

    path = folder / rel
    st = path.stat()
    entry = index.get(rel.as_posix()) or {}
    fresh = entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns
    if entry.get("name") and entry.get("library"):
        library, name = entry["library"], entry["name"]
    else:
        library, name = guess(rel, names)
    sha = entry.get("sha256") if fresh else (file_sha256(path) if hashes else None)
    return {
        "name": name,
        "library": library,
        "file": rel.as_posix(),
        "size": st.st_size,
        "sha256": sha,
        "mtime_ns": st.st_mtime_ns,
    }


def listing(folder: Path, hashes: bool = True, names: bool = True) -> list[dict]:
    """Every cached file: name, library, file (relative to the cache), size, sha256.

    What was computed goes into the index (on the host, where the cache is writable), so
    that runs read each sha256 instead of hashing the file again.
    """
    index = read_index(folder)
    rows = [describe(folder, rel, index, hashes, names) for rel in cached_files(folder)]
    changed = {r["file"]: {**index.get(r["file"], {}), **r} for r in rows if r["sha256"]}
    changed = {k: v for k, v in changed.items() if v != index.get(k)}
    if hashes and changed:
        try:
            write_index(folder, {**index, **changed})
        except OSError:  # a read-only cache: the next listing computes them again
            pass
    return [{k: v for k, v in r.items() if k != "mtime_ns"} for r in rows]


# --- inside a run: the hooks -----------------------------------------------------------


class WeightsMissing(FileNotFoundError):
    """Weights a run asked for that are not in the host's cache; `line` is the run's error.

    fastai rewrites the message of an exception raised in a callback; `line` stays.
    """

    def __init__(self, line: str):
        super().__init__(line)
        self.line = line


FETCH_HINT = "are not in the host's cache; the organiser fetches them with: harness weights fetch"
_loaded: dict[str, dict] = {}
_hashes: dict[tuple, str] = {}
_missed: dict[str, str] = {}  # hub repository -> the first of its files asked for and missing


def missing_line(exc: BaseException | None) -> str | None:
    """The one line of a WeightsMissing in an exception's chain (what a run's error is)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, WeightsMissing):
            return exc.line
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def loaded() -> list[dict]:
    """The weights files this process loaded: library, name, file (relative to the cache
    where it lies there), sha256; in the order loaded."""
    return list(_loaded.values())[:MAX_RECORDED]


def install() -> None:
    """Hooks torch.hub, torchvision, timm and the Hugging Face hub, each the moment it is
    imported (nothing is imported here): downloads raise WeightsMissing, loads are noted.

    timm and torchvision import the download functions by name, so each is patched where
    it is looked up, whichever library comes first.
    """
    from harness.run import repro

    for name, hook in (
        ("torch", _hook_torch),
        ("huggingface_hub", _hook_hub),
        ("torchvision", _hook_torchvision),
        ("timm", _hook_timm),
    ):
        repro.after_import(name, _safely(name, hook))


def _safely(name: str, hook):
    def run(module) -> None:
        try:
            hook(module)
        except Exception as e:  # a library that moved its functions must not stop the run
            print(f"[run] the weights hooks of {name} failed ({e!r})", file=sys.stderr)

    return run


def _hook_torch(torch) -> None:
    import torch.hub as hub

    _patch(hub, "load_state_dict_from_url", _torch_loader)
    _patch(hub, "download_url_to_file", _torch_download)
    if zoo := sys.modules.get("torch.utils.model_zoo"):
        zoo.load_url = hub.load_state_dict_from_url


def _hook_hub(hub) -> None:
    from huggingface_hub import file_download

    _patch(file_download, "hf_hub_download", _hub_download)
    hub.hf_hub_download = file_download.hf_hub_download  # what `from huggingface_hub import` gets


def _hook_torchvision(torchvision) -> None:
    for module in ("torchvision._internally_replaced_utils", "torchvision.models._api"):
        if m := sys.modules.get(module):
            _patch(m, "load_state_dict_from_url", _torch_loader)


def _hook_timm(timm) -> None:
    from timm.models import _builder, _hub

    _patch(_hub, "hf_hub_download", _hub_download)  # a partial of the hub's, made at import
    _patch(_hub, "download_url_to_file", _torch_download)
    _patch(_builder, "load_state_dict_from_url", _torch_loader)


def _patch(module, attr: str, wrap) -> None:
    fn = getattr(module, attr, None)
    if fn is not None and not getattr(getattr(fn, "func", fn), "_harness_weights", False):
        setattr(module, attr, wrap(fn))


def _run_root() -> Path:
    return Path(os.path.abspath(os.environ.get(ENV) or SANDBOX_ROOT))


def _torch_loader(original):
    sig = inspect.signature(original)

    def load_state_dict_from_url(*args, **kwargs):
        a = sig.bind(*args, **kwargs).arguments
        url = a["url"]
        hub = sys.modules["torch.hub"]
        folder = a.get("model_dir") or os.path.join(hub.get_dir(), "checkpoints")
        path = Path(folder, a.get("file_name") or os.path.basename(urlparse(url).path))
        if not path.is_file():  # before torch makes the (read-only) folder or downloads
            raise _torch_missing(url, path.name)
        out = original(*args, **kwargs)
        _note(path, *_torch_names(path.name))
        return out

    load_state_dict_from_url._harness_weights = True
    return load_state_dict_from_url


def _torch_download(original):
    def download_url_to_file(url, dst, *args, **kwargs):
        hub_dir = os.path.abspath(sys.modules["torch.hub"].get_dir())
        target = os.path.abspath(dst)
        if target.startswith((str(_run_root()) + os.sep, hub_dir + os.sep)):
            raise _torch_missing(url, os.path.basename(dst))
        return original(url, dst, *args, **kwargs)  # not weights: the run's own download

    download_url_to_file._harness_weights = True
    return download_url_to_file


def _torch_names(filename: str) -> tuple[str, str]:
    """(library, name) of a torch.hub file; torchvision's names only once it is imported."""
    if "torchvision" in sys.modules and (name := torchvision_files().get(filename)):
        return "torchvision", name
    return "torch.hub", filename


def _torch_missing(url: str, filename: str) -> WeightsMissing:
    library, name = _torch_names(filename)
    if library == "torchvision":
        return WeightsMissing(
            f"pretrained weights for {name} (torchvision: {filename}) {FETCH_HINT} {name}"
        )
    return WeightsMissing(f"pretrained weights {filename} (torch.hub: {url}) {FETCH_HINT} {url}")


def _hub_download(original):
    sig = inspect.signature(original)

    def hf_hub_download(*args, **kwargs):
        try:
            a = sig.bind(*args, **kwargs).arguments
        except TypeError:
            return original(*args, **kwargs)  # its own error
        if a.get("local_dir") or a.get("repo_type") not in (None, "model"):
            return original(*args, **kwargs)  # a folder of the member's, or a dataset
        from huggingface_hub import try_to_load_from_cache

        repo, filename = a["repo_id"], a["filename"]
        if a.get("subfolder"):
            filename = f"{a['subfolder']}/{filename}"
        kept = try_to_load_from_cache(repo, filename, a.get("cache_dir"), a.get("revision"))
        if not isinstance(kept, str):  # never a download, not even a try
            raise _hub_missing(repo, filename)
        path = original(*args, **kwargs)
        owner, _, model = repo.partition("/")
        _note(Path(path), *(("timm", model) if owner == "timm" else ("huggingface", repo)))
        return path

    hf_hub_download._harness_weights = True
    return hf_hub_download


def _hub_missing(repo: str, filename: str) -> Exception:
    """WeightsMissing that is also the hub's own LocalEntryNotFoundError: timm tries
    model.safetensors, then falls back to pytorch_model.bin on that error."""
    first = _missed.setdefault(repo, filename)
    owner, _, model = repo.partition("/")
    if owner == "timm":
        name = _timm_name(model)
        line = f"pretrained weights for {name} (timm: {repo} {first}) {FETCH_HINT} {name}"
    else:
        line = f"pretrained weights for {repo} (Hugging Face hub: {first}) {FETCH_HINT} {repo}"
    return _hub_missing_class()(line)


@cache
def _hub_missing_class():
    from huggingface_hub.errors import LocalEntryNotFoundError

    return type("WeightsMissing", (WeightsMissing, LocalEntryNotFoundError), {})


def _timm_name(model: str) -> str:
    """What a member wrote for a timm repository: 'resnet18' for timm's default tag of
    resnet18 (what `vision_learner(dls, "resnet18")` loads), else the tagged name."""
    arch = model.split(".")[0]
    try:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(arch)
    except Exception:  # timm not imported yet, or an unknown architecture
        return model
    return arch if cfg is not None and cfg.hf_hub_id == f"timm/{model}" else model


def _note(path: Path, library: str, name: str) -> None:
    """Records a loaded weights file once: its sha256 from the index while the file is
    unchanged since fetch wrote it, else computed (once per file and process)."""
    from harness.run.repro import file_sha256

    folder = _run_root()
    full = Path(os.path.abspath(path))
    rel = full.relative_to(folder).as_posix() if full.is_relative_to(folder) else str(full)
    if rel in _loaded or len(_loaded) >= MAX_RECORDED:
        return
    st = full.stat()
    entry = read_index(folder).get(rel) or {}
    if entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        sha = entry.get("sha256")
        library, name = entry.get("library", library), entry.get("name", name)
    else:
        key = (str(full.resolve()), st.st_size, st.st_mtime_ns)
        sha = _hashes.get(key) or _hashes.setdefault(key, file_sha256(full))
    _loaded[rel] = {"library": library, "name": name, "file": rel, "sha256": sha}
    print(f"[run] pretrained weights: {name} ({library}, {rel})", flush=True)
