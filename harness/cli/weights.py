"""`harness weights fetch NAME...` and `harness weights list`: pretrained weights, fetched
once by the organiser on the host, read by every run from the cache (harness.run.weights).

A NAME is a model as the course writes it:
- a torchvision model (`resnet34`, as `vision_learner(dls, resnet34)`): its default
  weights, what fastai loads, and IMAGENET1K_V1 too where the default is another (what
  `pretrained=True` loads);
- a timm model (`"convnext_tiny"`, as `vision_learner(dls, "convnext_tiny")`): timm's
  default pretrained tag, from the Hugging Face hub; a tagged name (`resnet18.a1_in1k`)
  that tag. A name both know (`resnet18`) brings both;
- a hub repository (`timm/resnet18.a1_in1k`, `hf-hub:...`, `microsoft/deberta-v3-small`):
  its files, other frameworks' weights left out;
- a URL: the file, into torch.hub's checkpoints (its name's hash checked).

Each download goes through the library's own code (torchvision's weights enums and
torch.hub, `timm.create_model(..., pretrained=True)`, `huggingface_hub`).
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

from harness.cli.console import dump, err, table
from harness.errors import EXIT_OK, HarnessError, UsageError
from harness.run import weights

# what a hub repository holds for other frameworks: never what torch and timm load
OTHER_FRAMEWORKS = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "*.tflite", "tf_model*", "flax_model*"]
OTHER_FRAMEWORKS += ["rust_model*", "onnx/*", "openvino/*", "coreml/*"]


class FetchFailed(HarnessError):
    """A download that did not happen: no network, or the server refused; one line."""


@dataclass
class Item:
    """One set of weights a name brings, and how its library fetches it into the cache."""

    name: str  # as the organiser wrote it
    library: str  # torchvision, timm, huggingface or torch.hub
    what: str  # which weights, in the library's words
    source: str  # the URL or hub repository
    get: Callable[[Path], list[Path]]  # cache -> its files (absolute), downloaded if absent
    cached: Callable[[Path], list[Path]]  # cache -> its files already there, or none

    @property
    def where(self) -> str:
        if urlparse(self.source).scheme:
            return self.source
        hub = "the Hugging Face hub"
        return hub if self.source == self.what else f"{hub} ({self.source})"


def cmd_weights(args) -> int:
    from harness.cli import backend

    backend.choose().host_only(
        "pretrained weights are the host's: harness weights there, as organiser"
    )
    if args.weights_cmd == "fetch":
        return fetch_command(args.names, args.json)
    return list_command(args.json)


def list_command(as_json: bool) -> int:
    folder = weights.root()
    rows = weights.listing(folder) if folder.is_dir() else []
    total = sum(r["size"] for r in rows)
    if as_json:
        dump({"root": str(folder), "files": rows, "bytes": total})
    elif not rows:
        print(f"no pretrained weights in {folder} yet: harness weights fetch resnet34")
    else:
        print(f"pretrained weights in {folder}: {len(rows)} files, {total / 1e6:,.1f} MB")
        shown = [{**r, "MB": f"{r['size'] / 1e6:,.1f}", "sha256": r["sha256"][:12]} for r in rows]
        print(table(shown, ["name", "library", "MB", "sha256", "file"]))
    return EXIT_OK


def fetch_command(names: list[str], as_json: bool) -> int:
    items = [item for name in names for item in plan(name)]  # every name known, or none run
    folder = weights.root()
    folder.mkdir(parents=True, exist_ok=True)
    fetched = []
    for item in items:
        fetched += fetch(item, folder, log=err)
    if as_json:
        dump({"root": str(folder), "fetched": fetched})
        return EXIT_OK
    for name in dict.fromkeys(names):
        said = [
            f"{f['library']} {f['weights']}: {Path(f['file']).name} ({f['size'] / 1e6:,.1f} MB"
            f"{', already cached' if f['cached'] else ''})"
            for f in fetched
            if f["name"] == name
        ]
        print(f"{name}: " + "; ".join(said))
    print(f"runs read them from {folder} (harness weights list)")
    return EXIT_OK


def fetch(item: Item, folder: Path, log=err) -> list[dict]:
    """Fetches one item into the cache (unless it is there), indexes its files; their rows.

    Raises:
        FetchFailed: offline, or the download failed; one line.
    """
    files, cached = item.cached(folder), True
    if not files:
        cached = False
        log(f"harness: fetching {item.name}: {item.library} {item.what} from {item.where}")
        t0 = time.monotonic()
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # torch's "Downloading:" line
                files = item.get(folder)
        except Exception as e:
            raise failed(item, e, folder) from None
        if not files:
            raise FetchFailed(f"{item.library} put no file of {item.name} into {folder}")
        size = sum(f.stat().st_size for f in files)
        log(
            f"harness:   {len(files)} file(s), {size / 1e6:,.1f} MB in {time.monotonic() - t0:.0f} s"
        )
    open_up(folder)
    index = weights.read_index(folder)
    rows = []
    for path in files:
        rel = path.relative_to(folder)
        entry = weights.describe(folder, rel, index)
        # the name an earlier fetch gave stays what runs record (a listing's guess does not)
        old = index.get(entry["file"]) if "source" in index.get(entry["file"], {}) else {}
        index[entry["file"]] = {
            **entry,
            "name": old.get("name") or item.name,
            "library": old.get("library") or item.library,
            "weights": item.what,
            "source": item.source,
        }
        rows.append(
            {
                "name": item.name,
                "library": item.library,
                "weights": item.what,
                "file": entry["file"],
                "size": entry["size"],
                "sha256": entry["sha256"],
                "cached": cached,
            }
        )
    weights.write_index(folder, index)
    return rows


def failed(item: Item, e: BaseException, folder: Path) -> FetchFailed:
    """The one line a failed download ends with."""
    cause = " ".join(f"{type(e).__name__}: {e}".split())[:300]
    if offline(e):
        return FetchFailed(
            f"cannot fetch {item.name}'s {item.library} weights ({item.source}): this machine "
            f"has no network ({cause}); fetch them where there is one and copy that "
            f"harness home's weights/ folder to {folder}"
        )
    return FetchFailed(
        f"cannot fetch {item.name}'s {item.library} weights ({item.source}): {cause}"
    )


def offline(e: BaseException) -> bool:
    """Whether an error says the network cannot be reached (not that a server refused)."""
    names = {"OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError", "ConnectTimeout"}
    while e is not None:
        if isinstance(e, HTTPError):
            return False
        if isinstance(e, URLError | ConnectionError | TimeoutError | socket.gaierror | Offline):
            return True
        if type(e).__name__ in names:
            return True
        e = e.__cause__ or e.__context__
    return False


class Offline(OSError):
    """The Hugging Face hub does not answer (checked before its client retries a minute)."""


def hub_answers() -> None:
    """Raises Offline unless the hub answers on port 443 within seconds."""
    from huggingface_hub import constants

    from harness.competition.vision import reachable

    if not reachable(constants.ENDPOINT):
        raise Offline(f"{constants.ENDPOINT} does not answer")


def open_up(folder: Path) -> None:
    """The cache readable by every run's uid: torch.hub leaves its downloads 0600."""
    for top, _, files in os.walk(folder):
        paths = [top, *(os.path.join(top, f) for f in files)]
        for p in paths:
            if not os.path.islink(p):
                with contextlib.suppress(OSError):  # another user's file: theirs to open
                    os.chmod(p, 0o755 if p == top else 0o644)


# --- what a name brings ------------------------------------------------------------------


def plan(name: str) -> list[Item]:
    """The weights a name brings, each with its library's download.

    Raises:
        UsageError: a name no library knows (with the nearest ones), or without weights.
    """
    name = name.strip()
    if urlparse(name).scheme in ("http", "https"):
        return [url_item(name)]
    if "/" in name or name.startswith("hf-hub:"):
        return [hub_item(name)]
    items = torchvision_items(name) + timm_items(name)
    if not items:
        raise UsageError(unknown(name))
    return items


def torchvision_items(name: str) -> list[Item]:
    import torchvision.models as models

    if name not in models.list_models():
        return []
    try:
        enum = models.get_model_weights(name)
    except (ValueError, KeyError):
        return []
    chosen = [(enum.DEFAULT, "the default, what fastai's vision_learner loads")]
    v1 = getattr(enum, "IMAGENET1K_V1", None)
    if v1 is not None and v1 is not enum.DEFAULT:
        chosen.append((v1, "what pretrained=True loads"))
    return [torchvision_item(name, enum.__name__, w, why) for w, why in chosen]


def checkpoint(filename: str):
    """An item's `cached`: the file in torch.hub's checkpoints folder, when it is there."""

    def cached(folder: Path) -> list[Path]:
        path = folder / weights.CHECKPOINTS / filename
        return [path] if path.is_file() else []

    return cached


def torchvision_item(name: str, enum: str, w, why: str) -> Item:
    filename = os.path.basename(urlparse(w.url).path)
    cached = checkpoint(filename)

    def get(folder: Path) -> list[Path]:
        checkpoints = folder / weights.CHECKPOINTS
        checkpoints.mkdir(parents=True, exist_ok=True)
        w.get_state_dict(progress=False, check_hash=True, model_dir=str(checkpoints))
        return cached(folder)

    return Item(name, "torchvision", f"{enum}.{w.name} ({why})", w.url, get, cached)


def timm_items(name: str) -> list[Item]:
    import timm
    from timm.models import get_pretrained_cfg

    if not timm.is_model(name):
        return []
    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError as e:  # an unknown tag
        raise UsageError(f"timm: {e} (timm.list_pretrained('{name.split('.')[0]}*'))") from None
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        return []
    tag = f"{name.split('.')[0]}.{cfg.tag}" if cfg.tag else name
    if cfg.hf_hub_id:
        repo = cfg.hf_hub_id.split("@")[0]

        def get(folder: Path) -> list[Path]:
            hub_answers()
            timm.create_model(name, pretrained=True, cache_dir=folder / weights.HUB)
            return snapshot_files(folder, repo)

        return [Item(name, "timm", tag, repo, get, lambda f: snapshot_files(f, repo))]
    url = url_item(cfg.url)  # the few timm weights still released as files

    def get_url(folder: Path) -> list[Path]:
        checkpoints = folder / weights.CHECKPOINTS
        checkpoints.mkdir(parents=True, exist_ok=True)
        timm.create_model(name, pretrained=True, cache_dir=checkpoints)
        return url.cached(folder)

    return [Item(name, "timm", tag, cfg.url, get_url, url.cached)]


def hub_item(name: str) -> Item:
    repo = name.removeprefix("hf-hub:").split("@")[0]
    if repo.count("/") != 1:
        raise UsageError(
            f"{name!r} is not a hub repository (owner/name, e.g. timm/resnet18.a1_in1k)"
        )

    def get(folder: Path) -> list[Path]:
        import huggingface_hub

        hub_answers()
        huggingface_hub.snapshot_download(
            repo, cache_dir=folder / weights.HUB, ignore_patterns=OTHER_FRAMEWORKS
        )
        return snapshot_files(folder, repo)

    library = "timm" if repo.startswith("timm/") else "huggingface"
    return Item(name, library, repo, repo, get, lambda f: snapshot_files(f, repo))


def url_item(url: str) -> Item:
    filename = os.path.basename(urlparse(url).path)
    if not filename:
        raise UsageError(f"{url} names no file")
    cached = checkpoint(filename)

    def get(folder: Path) -> list[Path]:
        import torch.hub

        checkpoints = folder / weights.CHECKPOINTS
        checkpoints.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(filename)  # torch.hub's own naming: name-<sha>.ext
        prefix = match.group(1) if match else None
        torch.hub.download_url_to_file(url, str(checkpoints / filename), prefix, progress=False)
        return cached(folder)

    return Item(url, "torch.hub", filename, url, get, cached)


def snapshot_files(folder: Path, repo: str) -> list[Path]:
    """A hub repository's files in the cache: its main snapshot's (else every one's)."""
    top = folder / weights.HUB / f"models--{repo.replace('/', '--')}"
    snapshots = top / "snapshots"
    try:
        main = (top / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    where = snapshots / main if main and (snapshots / main).is_dir() else snapshots
    return sorted(p for p in where.rglob("*") if p.is_file()) if where.is_dir() else []


def unknown(name: str) -> str:
    """Neither library knows the name: the nearest names they do know."""
    import timm
    import torchvision.models as models

    if timm.is_model(name):
        return f"timm's {name} has no pretrained weights (timm.list_pretrained('{name}*'))"
    known = [*models.list_models(), *timm.list_models()]
    near = difflib.get_close_matches(name, list(dict.fromkeys(known)), n=3)
    hint = f" Did you mean: {', '.join(near)}?" if near else ""
    return f"neither torchvision nor timm knows a model {name!r}.{hint}"


def add_parser(sub) -> None:
    """`harness weights fetch|list`, on the command line's subparsers."""
    w = sub.add_parser("weights", help="pretrained weights: fetch them once (host), list them")
    wsub = w.add_subparsers(dest="weights_cmd", required=True, metavar="fetch|list")
    s = wsub.add_parser("fetch", help="download weights into the cache every run reads")
    s.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help="a model as the course writes it (resnet34, convnext_tiny, resnet18.a1_in1k), "
        "a hub repository (timm/resnet18.a1_in1k) or a URL",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(fn=cmd_weights)
    s = wsub.add_parser("list", help="what the cache holds: name, library, file, size, sha256")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(fn=cmd_weights)
