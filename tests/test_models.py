"""train / evaluate / predict and anomaly: real training on audio the tests make."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from PIL import Image

from audiokit.models import anomaly, classify, store

SR = 8000
FEATS = ["--features", "mfcc,rms,spectral,zcr", "--sr", "8000"]
EXE = str(Path(sys.executable).parent / "audiokit")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _clip(kind: str, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    if kind == "tone":
        y = 0.4 * np.sin(2 * np.pi * rng.uniform(200, 600) * t)
    elif kind == "noise":
        y = 0.2 * rng.standard_normal(len(t))
    elif kind == "chirp":
        f0 = rng.uniform(100, 300)
        y = 0.4 * np.sin(2 * np.pi * (f0 * t + 3000 * t**2))
    elif kind in ("hum", "clicks", "whine"):
        f = 100.0 * rng.uniform(0.98, 1.02)
        y = sum(0.3 / k * np.sin(2 * np.pi * f * k * t) for k in (1, 2, 3))
        y = y + 0.01 * rng.standard_normal(len(t))
        if kind == "clicks":
            y[:: SR // 20] += 0.9
        if kind == "whine":
            y = y + 0.15 * np.sin(2 * np.pi * 3150 * t)
    else:  # pragma: no cover
        raise ValueError(kind)
    return np.asarray(y, dtype=np.float32)


def _folders(root: Path, kinds: dict[str, int], seed: int, names: dict | None = None) -> Path:
    """``root/<folder>/<kind>_NN.wav``: ``n`` clips of each kind (folder: ``names`` or kind)."""
    rng = np.random.default_rng(seed)
    for kind, n in kinds.items():
        folder = root / (names or {}).get(kind, kind)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            sf.write(folder / f"{kind}_{i:02d}.wav", _clip(kind, rng), SR)
    return root


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("classes")
    train = _folders(base / "train", {"tone": 10, "noise": 10, "chirp": 10}, seed=1)
    test = _folders(base / "test", {"tone": 5, "noise": 5, "chirp": 5}, seed=2)
    return train, test


def test_train_cross_validates_reports_and_writes_a_safe_model(
    runner, cli, classes: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = classes
    model = tmp_path / "m.skops"
    res = runner.invoke(
        cli,
        [
            "train",
            str(train),
            "-o",
            str(model),
            "--cv",
            "5",
            "--report",
            str(tmp_path / "r.json"),
            "--plot",
            str(tmp_path / "cm.png"),
            "-q",
            *FEATS,
        ],
    )
    assert res.exit_code == 0, res.stderr
    assert "5-fold stratified cross-validation over 30 rows (3 classes" in res.stdout
    rep = json.loads((tmp_path / "r.json").read_text())
    assert len(rep["fold_accuracy"]) == 5 and rep["accuracy_mean"] >= 0.9
    assert rep["classes"] == ["chirp", "noise", "tone"]
    assert np.asarray(rep["confusion"]).sum() == 30
    assert {c["label"]: c["support"] for c in rep["per_class"]} == {
        "chirp": 10,
        "noise": 10,
        "tone": 10,
    }
    with Image.open(tmp_path / "cm.png") as im:
        assert im.size[0] > 200 and im.size[1] > 200
        assert len(set(np.asarray(im.convert("L")).ravel().tolist())) > 10  # not blank
    m = store.load(model, kind="classifier")
    assert m.classes == ["chirp", "noise", "tone"]
    assert m.info["class_counts"] == {"chirp": 10, "noise": 10, "tone": 10}
    assert m.info["cv"]["folds"] == 5 and m.feature_params["sr"] == 8000
    assert m.info["versions"]["scikit-learn"]
    info = runner.invoke(cli, ["train", "--info", str(model), "--json"])
    described = json.loads(info.stdout)
    assert described["classes"] == m.classes and described["n_features"] == len(m.columns)
    # an existing model is never replaced without --overwrite
    again = runner.invoke(cli, ["train", str(train), "-o", str(model), "-q", *FEATS])
    assert again.exit_code == 2 and "exists" in again.stderr


def test_predict_agrees_with_evaluate_and_probabilities_sum_to_one(
    runner, cli, classes: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = classes
    model = tmp_path / "m.skops"
    assert runner.invoke(cli, ["train", str(train), "-o", str(model), "-q", *FEATS]).exit_code == 0
    ev = runner.invoke(cli, ["evaluate", str(model), str(test), "--json", "-q"])
    assert ev.exit_code == 0, ev.stderr
    rep = json.loads(ev.stdout)
    pred = runner.invoke(cli, ["predict", str(model), str(test), "--json", "-q", "-j", "2"])
    assert pred.exit_code == 0, pred.stderr
    rows = [json.loads(line) for line in pred.stdout.splitlines()]
    assert len(rows) == 15
    for r in rows:
        probs = [r[f"prob_{c}"] for c in ("chirp", "noise", "tone")]
        assert sum(probs) == pytest.approx(1.0) and r["confidence"] == max(probs)
    truth = [Path(r["path"]).parent.name for r in rows]
    accuracy = np.mean([r["label"] == t for r, t in zip(rows, truth, strict=True)])
    assert accuracy == pytest.approx(rep["accuracy"]) and accuracy >= 0.9
    confusion = np.asarray(rep["confusion"])
    assert confusion.trace() == sum(r["label"] == t for r, t in zip(rows, truth, strict=True))


def test_the_same_seed_gives_the_same_model(tmp_path: Path) -> None:
    from audiokit.models import data

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    y = ["a"] * 20 + ["b"] * 20
    X[20:] += 1.5
    for name in classify.CLASSIFIERS:
        a = classify.fit(X, y, name, seed=3).predict_proba(X)
        b = classify.fit(X, y, name, seed=3).predict_proba(X)
        np.testing.assert_array_equal(a, b)
        r1 = classify.cross_validate(X, y, name, 4, seed=3)
        r2 = classify.cross_validate(X, y, name, 4, seed=3)
        assert r1.fold_accuracy == r2.fold_accuracy
        path = tmp_path / f"{name}.skops"
        store.save(store.Model("classifier", classify.fit(X, y, name, seed=3), ["f"] * 6, {}), path)
        loaded = store.load(path)  # every classifier's model loads under the allowlist
        np.testing.assert_array_equal(loaded.pipeline.predict_proba(X), a)
    assert data.feature_columns(["path", "label", "duration", "x"]) == ["x"]


class _Sneaky:
    """A type no allowlist knows: loading it could run code."""

    def __reduce__(self):  # pragma: no cover - never called by a safe loader
        return (print, ("pwned",))


def test_tampered_and_foreign_model_files_are_refused(tmp_path: Path) -> None:
    import skops.io as sio

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), ["a", "b"] * 10
    good = tmp_path / "good.skops"
    store.save(store.Model("classifier", classify.fit(X, y, "logistic"), ["a", "b", "c"], {}), good)
    record = {
        "format": "audiokit-model",
        "format_version": 1,
        "kind": "classifier",
        "columns": [],
        "feature_params": {},
        "info": {},
        "pipeline": _Sneaky(),
    }
    sneaky = tmp_path / "sneaky.skops"
    try:
        sio.dump(record, sneaky)
    except Exception:  # skops refuses to even write it: write a pickle instead
        sneaky.write_bytes(pickle.dumps(record))
    with pytest.raises(store.ModelError, match=r"refused|not an audiokit model"):
        store.load(sneaky)
    renamed = tmp_path / "model.skops"
    renamed.write_bytes(pickle.dumps({"format": "audiokit-model"}))
    with pytest.raises(store.ModelError, match="not a skops archive"):
        store.load(renamed)
    flipped = tmp_path / "flipped.skops"
    data = bytearray(good.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    flipped.write_bytes(bytes(data))
    with pytest.raises(store.ModelError):
        store.load(flipped)
    with pytest.raises(store.ModelError, match="an anomaly model"):
        anomaly_path = tmp_path / "a.skops"
        pipe, thr = anomaly.fit(X)
        store.save(
            store.Model("anomaly", pipe, ["a", "b", "c"], {}, {"threshold": thr}), anomaly_path
        )
        store.load(anomaly_path, kind="classifier")
    proc = subprocess.run(
        [EXE, "predict", str(renamed), str(tmp_path)], capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "not an audiokit model file" in proc.stderr and "Traceback" not in proc.stderr


def test_tables_in_group_columns_and_parameter_mismatch(
    runner, cli, classes: tuple[Path, Path], tmp_path: Path
) -> None:
    train, test = classes
    table = tmp_path / "f.parquet"
    res = runner.invoke(
        cli, ["features", str(train), "-o", str(table), "--label-from-parent", "-q", *FEATS]
    )
    assert res.exit_code == 0, res.stderr
    t = pq.read_table(table)
    speakers = [f"s{i % 5}" for i in range(t.num_rows)]  # five recording sessions
    with_groups = tmp_path / "g.parquet"
    pq.write_table(
        t.append_column("session", pa.array(speakers)).replace_schema_metadata(t.schema.metadata),
        with_groups,
    )
    out = runner.invoke(
        cli,
        [
            "train",
            str(with_groups),
            "-o",
            str(tmp_path / "g.skops"),
            "--group-column",
            "session",
            "--cv",
            "5",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0])["grouped"] is True
    few = runner.invoke(
        cli,
        [
            "train",
            str(with_groups),
            "-o",
            str(tmp_path / "x.skops"),
            "--group-column",
            "session",
            "--cv",
            "6",
        ],
    )
    assert few.exit_code == 2 and "needs at least 6 groups" in few.stderr
    # a model from the table predicts the table; a table with other parameters is refused
    model = tmp_path / "t.skops"
    assert runner.invoke(cli, ["train", str(table), "-o", str(model), "-q"]).exit_code == 0
    pred = runner.invoke(cli, ["predict", str(model), str(table), "-o", "-"])
    assert pred.exit_code == 0 and len(pred.stdout.splitlines()) == 31
    other = tmp_path / "other.parquet"
    runner.invoke(cli, ["features", str(test), "-o", str(other), "-q", "--n-mfcc", "20", *FEATS])
    refused = runner.invoke(cli, ["predict", str(model), str(other)])
    assert refused.exit_code == 2 and "other parameters" in refused.stderr
    assert "n_mfcc: 20 (model: 13)" in refused.stderr


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("machine")
    _folders(base / "train", {"hum": 16}, seed=3, names={"hum": "normal"})
    _folders(base / "test", {"hum": 8, "clicks": 6, "whine": 6}, seed=4, names={"hum": "normal"})
    return base


def test_anomaly_fit_evaluate_and_score(runner, cli, machine: Path, tmp_path: Path) -> None:
    model = tmp_path / "pump.skops"
    fit = runner.invoke(
        cli,
        [
            "anomaly",
            "fit",
            str(machine / "train" / "normal"),
            "-o",
            str(model),
            "--json",
            "-q",
            *FEATS,
        ],
    )
    assert fit.exit_code == 0, fit.stderr
    info = json.loads(fit.stdout)
    m = store.load(model, kind="anomaly")
    assert m.info["threshold"] == pytest.approx(info["threshold"])
    ev = runner.invoke(
        cli, ["anomaly", "evaluate", str(model), str(machine / "test"), "--json", "-q"]
    )
    assert ev.exit_code == 0, ev.stderr
    res = json.loads(ev.stdout)
    assert res["n_normal"] == 8 and res["n_anomalous"] == 12
    assert res["auc"] >= 0.9 and 0 <= res["pauc"] <= 1
    scored = runner.invoke(
        cli, ["anomaly", "score", str(model), str(machine / "test"), "-o", "-", "-q"]
    )
    assert scored.exit_code == 0, scored.stderr
    rows = [line.split(",") for line in scored.stdout.splitlines()[1:]]
    assert len(rows) == 20 and all(r[2] == rows[0][2] for r in rows)
    clicks = [r for r in rows if "/clicks/" in r[0]]
    assert sum(r[3] == "True" for r in clicks) >= 5  # flagged
    # --fail-on-anomaly: exit 3 when something is flagged, 0 for the calmest normal file
    alarm = runner.invoke(
        cli,
        [
            "anomaly",
            "score",
            str(model),
            str(machine / "test" / "clicks"),
            "--fail-on-anomaly",
            "--json",
            "-q",
        ],
    )
    assert alarm.exit_code == 3
    calm = min((r for r in rows if "/normal/" in r[0]), key=lambda r: float(r[1]))[0]
    quiet = runner.invoke(
        cli, ["anomaly", "score", str(model), calm, "--fail-on-anomaly", "-q", "--json"]
    )
    assert quiet.exit_code == 0 and json.loads(quiet.stdout)["is_anomaly"] is False


def test_anomaly_api_threshold_is_the_normal_quantile() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 5))
    pipe, threshold = anomaly.fit(X, contamination=0.1, components=3)
    flagged = (anomaly.scores(pipe, X) > threshold).mean()
    assert 0.08 <= flagged <= 0.12
    far = rng.standard_normal((20, 5)) + 6
    ev = anomaly.evaluate(pipe, threshold, np.vstack([X, far]), [False] * 200 + [True] * 20)
    assert ev.auc > 0.99 and ev.true_positive_rate == 1.0


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "fsdd").is_dir(), reason="needs ../shared/corpus")
def test_fsdd_speakers_and_grouped_digits(runner, cli, tmp_path: Path) -> None:
    fsdd = str(CORPUS / "fsdd")
    spk = runner.invoke(
        cli,
        [
            "train",
            fsdd,
            "-o",
            str(tmp_path / "s.skops"),
            "--json",
            "-q",
            "--label-pattern",
            r"^\d+_([a-z]+)_",
        ],
    )
    assert spk.exit_code == 0, spk.stderr
    rep = json.loads(spk.stdout.splitlines()[0])
    assert rep["classes"] == ["george", "jackson"] and rep["accuracy_mean"] >= 0.9
    digits = runner.invoke(
        cli,
        [
            "train",
            fsdd,
            "-o",
            str(tmp_path / "d.skops"),
            "--json",
            "-q",
            "--label-pattern",
            r"^(\d+)_",
            "--group-pattern",
            r"^\d+_([a-z]+)_",
            "--cv",
            "2",
        ],
    )
    assert digits.exit_code == 0, digits.stderr
    grouped = json.loads(digits.stdout.splitlines()[0])
    assert grouped["grouped"] is True and len(grouped["classes"]) == 10
    # Trained on one speaker, tested on the other: far below the ungrouped score.
    plain = runner.invoke(
        cli,
        [
            "train",
            fsdd,
            "-o",
            str(tmp_path / "p.skops"),
            "--json",
            "-q",
            "--label-pattern",
            r"^(\d+)_",
            "--cv",
            "2",
        ],
    )
    assert json.loads(plain.stdout.splitlines()[0])["accuracy"] > grouped["accuracy"]
