"""The installation secret: made once under the home (0600), only its hash recorded, never
in what a submission sees; it decides the hidden test of the generated competitions
(pets, rossmann), and `HARNESS_SECRET=public` gives the published data."""

import hashlib
import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.competition import data, registry, secret
from harness.errors import DataError


@pytest.fixture
def own_secret(home, monkeypatch):
    """No HARNESS_SECRET: the home's secret file is the secret."""
    monkeypatch.delenv("HARNESS_SECRET", raising=False)
    return home


def test_the_secret_file_is_made_once_under_the_home_and_only_the_owner_reads_it(own_secret):
    path = own_secret / "secret"
    assert not path.exists()
    value = secret.installation_secret()
    assert path.exists() and len(value) == secret.SIZE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret.installation_secret() == value  # made once, then read
    assert secret.secret_sha256() == hashlib.sha256(value).hexdigest()
    assert list(own_secret.iterdir()) == [path]  # no temporary file left beside it
    path.chmod(0o644)
    secret.installation_secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened again
    path.write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        secret.installation_secret()


def test_secret_seeds_are_keyed_by_secret_and_purpose(home, monkeypatch):
    monkeypatch.setenv("HARNESS_SECRET", "public")
    assert secret.installation_secret() is None and secret.secret_sha256() is None
    assert secret.secret_seed(42, "pets/test-images") == 42  # the published data
    assert not (home / "secret").exists()  # public never makes a file
    seeds = {}
    for value in ("alpha", "beta"):
        monkeypatch.setenv("HARNESS_SECRET", value)
        assert secret.installation_secret() == value.encode()
        seeds[value] = [secret.secret_seed(42, p) for p in ("a", "b")]
        assert seeds[value] == [secret.secret_seed(42, p) for p in ("a", "b")]  # stable
        assert len(set(seeds[value])) == 2 and 42 not in seeds[value]
    assert seeds["alpha"] != seeds["beta"]
    with secret.recording() as used:
        secret.secret_seed(42, "a")
    assert used == {hashlib.sha256(b"beta").hexdigest()}


def _pets_splits(pets, raw: Path, monkeypatch, value: str):
    monkeypatch.setenv("HARNESS_SECRET", value)
    return pets.prepare("offline", raw)


def test_pets_hidden_test_depends_on_the_secret(home, monkeypatch, tmp_path):
    """Same secret, same data; another secret, other test pictures in another order, so
    the generator's public seed no longer tells a test picture's breed; train and valid
    stay the published ones."""
    pets = registry.get("pets").module
    raw = tmp_path / "raw"
    pets.generate.write(raw, per_breed=5, pixels=24, seed=pets.SPEC.seed)  # 37 test images
    public = _pets_splits(pets, raw, monkeypatch, "public")
    a1, a2, b = (_pets_splits(pets, raw, monkeypatch, v) for v in ("a", "a", "b"))
    pd.testing.assert_frame_equal(a1.test, a2.test)
    pd.testing.assert_frame_equal(a1.test_labels, a2.test_labels)
    generated = set(pets.read_folder(raw / "images")["data"])  # what the public seed draws
    assert set(public.test["data"]) <= generated
    for s in (a1, b):
        pd.testing.assert_frame_equal(s.train, public.train)
        pd.testing.assert_frame_equal(s.valid, public.valid)
        assert not set(s.test["data"]) & generated  # unseen pictures
        assert sorted(s.test_labels.label) == sorted(public.test_labels.label)  # same breeds
    assert not a1.test_labels.label.equals(b.test_labels.label)  # another order
    assert not a1.test_labels.label.equals(public.test_labels.label)
    assert not set(a1.test["data"]) & set(b.test["data"])


def test_rossmann_hidden_days_noise_depends_on_the_seed_given(monkeypatch):
    simulate = registry.get("rossmann").module.simulate
    hidden_from = "2015-06-14"
    published = simulate.simulate(6, seed=42)
    same = simulate.simulate(6, seed=42, hidden_from=hidden_from, hidden_seed=42)
    for name in published:
        pd.testing.assert_frame_equal(published[name], same[name])
    a = simulate.simulate(6, seed=42, hidden_from=hidden_from, hidden_seed=1)
    b = simulate.simulate(6, seed=42, hidden_from=hidden_from, hidden_seed=2)
    hidden = published["train"].Date >= hidden_from
    open_ = published["train"].Open == 1
    for other in (a, b):
        before = other["train"][~hidden]
        pd.testing.assert_frame_equal(before, published["train"][~hidden])
        pd.testing.assert_frame_equal(other["test"], published["test"])
        pd.testing.assert_frame_equal(other["store"], published["store"])
        changed = other["train"].Sales != published["train"].Sales
        assert changed[hidden & open_].mean() > 0.9  # nearly every open hidden day
        # the same kind of noise: a log ratio to the published sales of about 0.1
        ratio = np.log(other["train"].Sales[hidden & open_] / published["train"].Sales)
        assert 0.03 < ratio.dropna().std() < 0.2
    assert not a["train"][hidden].Sales.equals(b["train"][hidden].Sales)


def _prepare(name: str, monkeypatch, value: str | None) -> data.Prepared:
    if value is None:
        monkeypatch.delenv("HARNESS_SECRET", raising=False)
    else:
        monkeypatch.setenv("HARNESS_SECRET", value)
    return data.fetch_and_prepare(registry.get(name), "offline", log=lambda *_: None)


def test_rossmann_labels_and_fingerprint_depend_on_the_secret(home, monkeypatch):
    public = _prepare("rossmann", monkeypatch, "public")
    a1 = _prepare("rossmann", monkeypatch, "a")
    a2 = _prepare("rossmann", monkeypatch, "a")
    b = _prepare("rossmann", monkeypatch, "b")
    assert public.manifest["secret_sha256"] is None
    assert public.fingerprint == data.fingerprint_of(public.manifest["hashes"])  # as before
    assert a1.path == a2.path and a1.fingerprint == a2.fingerprint
    assert len({public.fingerprint, a1.fingerprint, b.fingerprint}) == 3
    assert a1.manifest["secret_sha256"] == hashlib.sha256(b"a").hexdigest()
    for p in (a1, b):
        assert p.manifest["hashes"]["train"] == public.manifest["hashes"]["train"]
        assert p.manifest["hashes"]["valid"] == public.manifest["hashes"]["valid"]
        pd.testing.assert_frame_equal(p.load("test"), public.load("test"))  # same rows
    labels = [p.test_labels().Sales for p in (public, a1, b)]
    assert not labels[0].equals(labels[1]) and not labels[1].equals(labels[2])
    assert not a1.test_labels().Sales.equals(b.test_labels().Sales)


def test_the_manifest_has_the_secrets_hash_and_the_inputs_not_the_secret(own_secret, monkeypatch):
    prepared = _prepare("rossmann", monkeypatch, None)
    value = (own_secret / "secret").read_bytes()
    digest = hashlib.sha256(value).hexdigest()
    manifest = json.loads((prepared.path / "manifest.json").read_text())
    assert manifest["secret_sha256"] == digest
    assert manifest["fingerprint"] == data.fingerprint_of(manifest["hashes"], digest)
    forms = [value, value.hex().encode(), value.hex().upper().encode()]
    for path in prepared.path.rglob("*"):  # inputs/ (all a worker sees), files/, manifest
        if path.is_file():
            content = path.read_bytes()
            assert not any(form in content for form in forms), path
    assert {p.name for p in prepared.inputs.iterdir()} == {
        "train.parquet",
        "valid.parquet",
        "test.parquet",
    }


def test_a_score_beyond_the_plausible_best_is_flagged_for_review(ready, tmp_path, monkeypatch):
    """Titanic's labels are public elsewhere (titanic3): a perfect CSV scores 1.0, beyond
    the plausible 0.90, and both boards flag it; the gender rule is not flagged."""
    from streamlit.testing.v1 import AppTest

    from harness.paths import REPO_ROOT
    from tests.conftest import cli

    comp = registry.get("titanic")
    spec, metric = comp.spec, comp.metric
    assert spec.implausible(metric, 1.0) and not spec.implausible(metric, 0.85)
    assert not spec.implausible(metric, None)
    rmse = registry.get("movielens")  # lower is better: a floor
    assert rmse.spec.implausible(rmse.metric, 0.5) and not rmse.spec.implausible(rmse.metric, 0.9)
    labels = data.current(comp).test_labels()
    perfect = tmp_path / "perfect.csv"
    labels[["PassengerId", "Survived"]].to_csv(perfect, index=False)
    gender = tmp_path / "gender.csv"
    test = data.current(comp).load("test")
    test.assign(Survived=(test.Sex == "female").astype(int))[["PassengerId", "Survived"]].to_csv(
        gender, index=False
    )
    for user, path in (("eve", perfect), ("ann", gender)):
        proc = cli("submit", "titanic", str(path), "--user", user)
        assert proc.returncode == 0, proc.stderr
    out = cli("leaderboard", "titanic").stdout
    review = [line for line in out.splitlines() if line.startswith("review:")]
    assert len(review) == 1 and "submission 1 " in review[0] and "0.9" in review[0], out
    at = AppTest.from_file(str(REPO_ROOT / "leaderboard" / "app.py"), default_timeout=60)
    at.query_params["competition"] = "titanic"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value
    assert board.set_index("user")["review"].to_dict() == {
        "eve": "⚠ beyond plausible best",
        "ann": "",
    }
    notes = [t.value for t in at.text if "organiser to review" in t.value]
    assert len(notes) == 1 and "#1 (eve, 1.00000)" in notes[0], notes
