"""Saving detector state to the store and restoring it safely."""

from __future__ import annotations

import os
import pickle
import random
import threading
from pathlib import Path

import pytest

from tui_monitor.detectors import DetectorConfig, StreamDetector
from tui_monitor.detectors.batch import IsolationForestModel
from tui_monitor.detectors.persist import check_trusted_file, load_key, restore_detectors, save_detectors, sign
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


def test_load_key_replaces_empty_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A crash between creating the key file and writing it leaves it empty.
    path = tmp_path / "model.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)

    key = load_key(path)

    assert len(key) == 32
    assert path.read_bytes() == key
    assert path.stat().st_mode & 0o077 == 0
    assert "cut short" in caplog.text


def test_load_key_replaces_short_key(tmp_path: Path) -> None:
    path = tmp_path / "model.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"12345")
    os.close(fd)
    assert len(load_key(path)) == 32


def test_load_key_concurrent_creation_agrees(tmp_path: Path) -> None:
    for round_number in range(20):
        path = tmp_path / f"model-{round_number}.key"
        barrier = threading.Barrier(8)
        keys: list[bytes] = []

        def create() -> None:
            barrier.wait()
            keys.append(load_key(path))

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(keys) == 8
        assert set(keys) == {path.read_bytes()}, f"round {round_number}"
    assert not list(tmp_path.glob(".*.tmp")), "temporary key files left behind"


class _FailsToLoad:
    """Pickles to a payload whose loading raises ValueError, as a library upgrade can."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (int, ("not a number",))


def test_persist_skips_unloadable_signed_payload(saved: tuple[Path, bytes], caplog: pytest.LogCaptureFixture) -> None:
    path, key = saved
    store = FeatureStore(path)
    payload = pickle.dumps(_FailsToLoad())
    store.save_model("web", "online", "v1", payload, sign(payload, key), {})
    store.close()

    restored = _restore(path, key)

    assert list(restored) == ["host"]
    assert "stream web: saved online model not loaded" in caplog.text


def test_persist_skips_batch_payload_of_wrong_type(saved: tuple[Path, bytes]) -> None:
    path, key = saved
    store = FeatureStore(path)
    payload = pickle.dumps({"not": "a model"})
    store.save_model("host", "batch", "v1", payload, sign(payload, key), {})
    store.close()

    restored = _restore(path, key)

    assert restored["host"].batch is None


class _BatchProbe:
    """Records the live detector's batch model at the moment the saved copy is pickled."""

    def __init__(self, detector: StreamDetector) -> None:
        self.detector = detector
        self.seen: list[object] = []

    def __reduce__(self) -> tuple[object, tuple[object]]:
        self.seen.append(self.detector.batch)
        return (object.__new__, (object,))


def test_save_detectors_leaves_live_detector_unchanged(tmp_path: Path) -> None:
    # The batch trainer's thread may swap in a model while the event loop saves.
    detector = _trained()
    model = detector.batch
    probe = _BatchProbe(detector)
    detector.probe = probe  # type: ignore[attr-defined]
    store = FeatureStore(tmp_path / "m.db")
    try:
        save_detectors(store, {"host": detector}, b"k" * 32)
    finally:
        store.close()
    assert probe.seen == [model]
    assert detector.batch is model
