"""Batch IsolationForest: fitting, scoring in batches, and the trainer's worker thread."""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path

import pytest
from sklearn.ensemble import IsolationForest

from tui_monitor.detectors import DetectorConfig, StreamDetector
from tui_monitor.detectors.batch import BatchTrainer, IsolationForestModel
from tui_monitor.errors import DetectorError
from tui_monitor.store import FeatureStore, WindowRecord


def _rows(n: int, seed: int = 0) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [{"cpu": 20 + rng.gauss(0, 2), "mem": 50 + rng.gauss(0, 1)} for _ in range(n)]


def test_batch_fit_exposes_sklearn_estimator() -> None:
    model = IsolationForestModel.fit(_rows(200), n_estimators=20)
    assert isinstance(model.estimator, IsolationForest)


def test_batch_fit_orders_features_by_name() -> None:
    assert IsolationForestModel.fit(_rows(50), n_estimators=5).feature_names == ("cpu", "mem")


def test_batch_matrix_follows_feature_names() -> None:
    model = IsolationForestModel.fit(_rows(50), n_estimators=5)
    assert model.matrix([{"mem": 2.0, "cpu": 1.0}]).tolist() == [[1.0, 2.0]]


def test_batch_matrix_fills_missing_and_nan_with_training_median() -> None:
    model = IsolationForestModel.fit(_rows(50), n_estimators=5)
    row = model.matrix([{"cpu": math.nan}])[0]
    assert row.tolist() == model.fill_values.tolist()


def test_batch_scores_outlier_higher() -> None:
    model = IsolationForestModel.fit(_rows(300), n_estimators=50)
    usual, outlier = model.score_many([{"cpu": 20.0, "mem": 50.0}, {"cpu": 95.0, "mem": 50.0}])
    assert outlier > usual


def test_batch_score_many_of_nothing_is_empty() -> None:
    assert len(IsolationForestModel.fit(_rows(20), n_estimators=5).score_many([])) == 0


def test_batch_fit_refuses_one_row() -> None:
    with pytest.raises(DetectorError, match="1"):
        IsolationForestModel.fit(_rows(1))


def test_batch_model_joins_the_stream_ensemble() -> None:
    detector = StreamDetector("host", config=DetectorConfig(batch=True))
    detector.set_batch_model(IsolationForestModel.fit(_rows(300), n_estimators=20))
    assert "iforest" in detector.process({"cpu": 20.0, "mem": 50.0}).model_scores


def _store_with_windows(path: Path, n: int) -> FeatureStore:
    store = FeatureStore(path)
    records = [
        WindowRecord("host", 1000.0 + 10 * i, 1010.0 + 10 * i, x, is_warmup=False, is_anomalous=(i == 5))
        for i, x in enumerate(_rows(n))
    ]
    store.write_window_batch([], records)
    return store


def test_store_training_windows_leave_out_anomalous(tmp_path: Path) -> None:
    store = _store_with_windows(tmp_path / "m.db", 50)
    assert len(store.training_windows("host")) == 49


def test_trainer_fits_on_a_worker_thread_and_swaps_model(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    _store_with_windows(path, 400).close()
    detectors = {"host": StreamDetector("host", config=DetectorConfig())}
    threads: list[str] = []

    def load(stream: str) -> list[dict[str, float]]:
        threads.append(threading.current_thread().name)
        reader = FeatureStore(path, readonly=True)
        try:
            return [features for _, features in reader.training_windows(stream)]
        finally:
            reader.close()

    fitted = threading.Event()
    trainer = BatchTrainer(detectors, load, interval_s=0.05, min_windows=100, on_fitted=lambda s, m: fitted.set())
    trainer.start()
    try:
        assert fitted.wait(timeout=20)
    finally:
        trainer.stop()
    assert threads[0] == "batch-trainer"
    assert detectors["host"].batch is not None


def test_trainer_skips_streams_with_too_few_windows() -> None:
    detectors = {"host": StreamDetector("host")}
    trainer = BatchTrainer(detectors, lambda stream: _rows(10), min_windows=100)
    assert trainer.train_once() == 0


def test_trainer_skips_streams_with_batch_off() -> None:
    detectors = {"host": StreamDetector("host", config=DetectorConfig(batch=False))}
    trainer = BatchTrainer(detectors, lambda stream: _rows(200), min_windows=100)
    assert trainer.train_once() == 0
