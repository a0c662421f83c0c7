"""Saving detector state to the store and restoring it safely."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tui_monitor.detectors import DetectorConfig, StreamDetector
from tui_monitor.detectors.batch import IsolationForestModel
from tui_monitor.detectors.persist import check_trusted_file, load_key, restore_detectors, save_detectors
from tui_monitor.errors import DetectorError
from tui_monitor.store import FeatureStore

CONFIG = DetectorConfig()


def _trained() -> StreamDetector:
    rng = random.Random(4)
    detector = StreamDetector("host", config=CONFIG)
    rows = [{"cpu": 20 + rng.gauss(0, 2), "mem": 50 + rng.gauss(0, 1)} for _ in range(120)]
    for i, x in enumerate(rows):
        detector.process(x, ts=1000.0 + 10 * i)
    detector.set_batch_model(IsolationForestModel.fit(rows, n_estimators=10))
    return detector


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, bytes]:
    os.chmod(tmp_path, 0o700)
    key = load_key(tmp_path / "model.key")
    store = FeatureStore(tmp_path / "m.db")
    save_detectors(store, {"host": _trained()}, key)
    store.close()
    return tmp_path / "m.db", key


def _restore(path: Path, key: bytes, config: DetectorConfig = CONFIG) -> dict[str, StreamDetector]:
    store = FeatureStore(path)
    try:
        return restore_detectors(store, key, lambda stream: config)
    finally:
        store.close()


def test_persist_restores_same_scores(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    probe = {"cpu": 35.0, "mem": 50.0}
    expected = _trained().process(probe, ts=5000.0).score
    assert _restore(path, key)["host"].process(probe, ts=5000.0).score == pytest.approx(expected)


def test_persist_restores_batch_model(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    assert _restore(path, key)["host"].batch is not None


def test_persist_refuses_another_key(saved: tuple[Path, bytes]) -> None:
    path, _ = saved
    assert _restore(path, b"x" * 32) == {}


def test_persist_refuses_altered_payload(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    store = FeatureStore(path)
    for row in store.load_models():
        altered = row["payload"][:-1] + bytes([row["payload"][-1] ^ 1])
        store.save_model(row["stream"], row["kind"], row["version"], altered, row["signature"], {})
    store.close()
    assert _restore(path, key) == {}


def test_persist_refuses_group_writable_database(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    os.chmod(path, 0o664)
    assert _restore(path, key) == {}


def test_persist_skips_detectors_saved_with_other_settings(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    assert _restore(path, key, CONFIG.replace(threshold=0.9)) == {}


def test_check_trusted_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    os.chmod(path, 0o666)
    with pytest.raises(DetectorError, match="chmod go-w"):
        check_trusted_file(path)


def test_load_key_creates_private_file(tmp_path: Path) -> None:
    load_key(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o077 == 0


def test_load_key_refuses_readable_key(tmp_path: Path) -> None:
    path = tmp_path / "k"
    load_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(DetectorError, match="chmod 600"):
        load_key(path)


def test_persist_restores_anomaly_likelihood(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    original = _trained().likelihood
    restored = _restore(path, key)["host"].likelihood
    assert original is not None and restored is not None
    assert len(restored.model) == len(original.model) == 115
    assert restored.model.update(3.0) == pytest.approx(original.model.update(3.0))
    assert len(restored.calibration) == len(original.calibration) > 0


def test_persist_restores_detector_saved_before_likelihood(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    key = load_key(tmp_path / "model.key")
    old = _trained()
    # A detector pickled by a version without the likelihood lacks these attributes.
    del old.__dict__["likelihood"]
    del old.__dict__["_deviation_peaks"]
    store = FeatureStore(tmp_path / "m.db")
    save_detectors(store, {"host": old}, key)
    store.close()
    restored = _restore(tmp_path / "m.db", key)["host"]
    assert restored.likelihood is not None
    assert len(restored.likelihood.model) == 0
    assert restored.baseline.usual("cpu") == old.baseline.usual("cpu")
    assert restored.process({"cpu": 21.0, "mem": 50.0}, ts=5000.0).score >= 0.0
