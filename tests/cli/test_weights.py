"""`harness weights fetch|list` as the organiser runs them: the libraries' own download
code into the cache (a URL from a server on 127.0.0.1 here; offline, one line), the list
of what it holds, unknown names, and doctor's line."""

import functools
import hashlib
import http.server
import threading

import pytest

from harness.competition.vision import reachable
from harness.run import weights
from tests.conftest import harness_here, harness_here_json
from tests.run.test_weights import TIMM_FILE, place_timm, place_torchvision, sha256


@pytest.fixture
def server(tmp_path):
    """A web server on 127.0.0.1 for the files in its folder; (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_list_names_each_file_of_both_layouts_with_its_sha256(home):
    code, out = harness_here_json("weights", "list")
    assert code == 0 and out == {"root": str(home / "weights"), "files": [], "bytes": 0}
    tv, tm = place_torchvision(home), place_timm(home)
    code, out = harness_here_json("weights", "list")
    assert code == 0
    assert out["files"] == [
        {
            "name": "resnet18",
            "library": "torchvision",
            "file": "torch/hub/checkpoints/resnet18-f37072fd.pth",
            "size": tv.stat().st_size,
            "sha256": sha256(tv),
        },
        {
            "name": "resnet18.a1_in1k",
            "library": "timm",
            "file": TIMM_FILE,
            "size": tm.stat().st_size,
            "sha256": sha256(tm),
        },
    ]
    assert out["bytes"] == tv.stat().st_size + tm.stat().st_size
    # what was computed is kept for runs to read instead of hashing again
    index = weights.read_index(home / "weights")
    assert index[TIMM_FILE]["sha256"] == sha256(tm)
    text = harness_here("weights", "list").stdout
    assert "2 files" in text and "resnet18.a1_in1k  timm" in text and sha256(tv)[:12] in text


def test_fetch_a_url_through_torch_hub_into_the_cache_once(home, server):
    folder, base = server
    data = b"weights" * 1000
    name = f"tiny-{hashlib.sha256(data).hexdigest()[:8]}.pth"  # torch.hub's hash in the name
    (folder / name).write_bytes(data)
    proc = harness_here("weights", "fetch", f"{base}/{name}")
    assert proc.returncode == 0, proc.stderr
    assert f"harness: fetching {base}/{name}: torch.hub {name} from {base}/{name}" in proc.stderr
    assert proc.stdout.startswith(f"{base}/{name}: torch.hub {name}: {name} (0.0 MB)")
    path = home / "weights" / weights.CHECKPOINTS / name
    assert path.read_bytes() == data and path.stat().st_mode & 0o777 == 0o644  # runs read it
    code, out = harness_here_json("weights", "fetch", f"{base}/{name}")
    assert code == 0 and out["fetched"] == [
        {
            "name": f"{base}/{name}",
            "library": "torch.hub",
            "weights": name,
            "file": f"torch/hub/checkpoints/{name}",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "cached": True,  # nothing downloaded again
        }
    ]
    assert (
        weights.read_index(home / "weights")[out["fetched"][0]["file"]]["name"] == f"{base}/{name}"
    )


def test_a_download_that_fails_ends_in_one_line(home, server):
    folder, base = server
    (folder / "tiny-00000000.pth").write_bytes(b"not what its name's hash says")
    proc = harness_here("weights", "fetch", f"{base}/tiny-00000000.pth")
    assert proc.returncode == 1 and proc.stdout == ""
    last = proc.stderr.splitlines()[-1]
    assert last.startswith(f"harness: error: cannot fetch {base}/tiny-00000000.pth's torch.hub ")
    assert "invalid hash value" in last and "Traceback" not in proc.stderr
    proc = harness_here("weights", "fetch", f"{base}/absent.pth")
    assert proc.returncode == 1 and "HTTP Error 404" in proc.stderr.splitlines()[-1]
    assert weights.cached_files(home / "weights") == []


def test_a_name_both_libraries_know_brings_both_and_what_is_cached_stays(home):
    tv, tm = place_torchvision(home), place_timm(home)
    proc = harness_here("weights", "fetch", "resnet18")  # offline: nothing to download
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.splitlines()[0] == (
        "resnet18: torchvision ResNet18_Weights.IMAGENET1K_V1 (the default, what fastai's "
        "vision_learner loads): resnet18-f37072fd.pth (46.8 MB, already cached); "
        "timm resnet18.a1_in1k: model.safetensors (46.8 MB, already cached)"
    )
    index = weights.read_index(home / "weights")
    assert {(e["name"], e["library"], e["sha256"]) for e in index.values()} == {
        ("resnet18", "torchvision", sha256(tv)),
        ("resnet18", "timm", sha256(tm)),  # the name runs record: what the organiser fetched
    }


@pytest.mark.skipif(
    reachable("https://download.pytorch.org", timeout=2), reason="this machine is online"
)
def test_fetch_offline_says_so_in_one_line(home):
    proc = harness_here("weights", "fetch", "resnet18")
    assert proc.returncode == 1 and proc.stdout == ""
    progress, error = proc.stderr.splitlines()  # the real download ran, and met no network
    assert progress.startswith("harness: fetching resnet18: torchvision ResNet18_Weights")
    assert error.startswith(
        "harness: error: cannot fetch resnet18's torchvision weights "
        "(https://download.pytorch.org/models/resnet18-f37072fd.pth): this machine has no network"
    )


def test_an_unknown_name_is_a_usage_error_with_the_nearest_names(home):
    proc = harness_here("weights", "fetch", "resnt18")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "harness: error: neither torchvision nor timm knows a model 'resnt18'. "
        "Did you mean: resnet18, resnet18d, skresnet18?"
    )


def test_doctor_says_what_the_cache_holds(home):
    def line():
        checks = harness_here_json("doctor")[1]["checks"]
        return next(c for c in checks if c["name"] == "weights")

    empty = line()
    assert empty["status"] == "warn" and empty["fix"].startswith("harness weights fetch")
    place_torchvision(home)
    place_timm(home)
    assert line()["status"] == "ok"
    assert line()["detail"].endswith(
        "2 files, 94 MB: resnet18 (torchvision), resnet18.a1_in1k (timm)"
    )
