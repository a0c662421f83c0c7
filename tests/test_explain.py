"""SHAP explanations: sign convention, additivity, ranking of planted anomalies, reasons."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from tui_monitor.detectors import HalfSpaceTreesModel
from tui_monitor.errors import ExplanationError
from tui_monitor.explain import (
    Attribution,
    Explanation,
    ExplanationRequest,
    UsualRange,
    background_matrix,
    compute_explanation,
    explain_isolation_forest,
    explain_score_function,
    isolation_output,
    kind_for,
    reasons,
    score_function_of,
    usual_ranges,
)
from tui_monitor.store import FeatureStore, WindowRecord

N_FEATURES = 8
NAMES = [f"host.metric_{i}.mean" for i in range(N_FEATURES)]


def normal_rows(n: int, seed: int = 0) -> np.ndarray:
    """Rows with feature i around 10 * (i + 1), standard deviation i + 1."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, N_FEATURES + 1, dtype=float)
    return rng.normal(10.0 * scale, scale, size=(n, N_FEATURES))


def planted(row: np.ndarray, k: int, sigmas: float = 12.0) -> np.ndarray:
    x = row.copy()
    x[k] += sigmas * (k + 1)
    return x


def typical_row() -> np.ndarray:
    """The median of every feature of ``normal_rows``.

    The online tests plant into this row rather than into a noisy one.
    HalfSpaceTrees (15 trees of height 8) scores one out-of-range feature
    barely above ordinary noise in the other features. In a noisy row the
    attributions rank that noise, faithfully, beside the planted feature.
    """
    return 10.0 * np.arange(1, N_FEATURES + 1, dtype=float)


@pytest.fixture(scope="module")
def forest() -> IsolationForest:
    return IsolationForest(n_estimators=100, random_state=0).fit(normal_rows(1000))


@pytest.fixture(scope="module")
def online_model() -> HalfSpaceTreesModel:
    model = HalfSpaceTreesModel(window_size=30, seed=7)
    for row in normal_rows(300, seed=1):
        model.learn_one(dict(zip(NAMES, row, strict=True)))
    return model


# -- tree explainer ----------------------------------------------------------------


def test_tree_additivity_after_sign_conversion(forest: IsolationForest) -> None:
    for x in (normal_rows(3, seed=5)[0], planted(normal_rows(3, seed=5)[1], 2)):
        expected, output, values = explain_isolation_forest(forest, NAMES, x)
        assert math.isclose(values.sum(), output - expected, abs_tol=1e-6)


def test_tree_output_matches_score_samples(forest: IsolationForest) -> None:
    x = planted(normal_rows(1, seed=6)[0], 4)
    _, output, _ = explain_isolation_forest(forest, NAMES, x)
    assert math.isclose(output, float(isolation_output(forest, x[None, :])[0]), rel_tol=1e-9)


def test_tree_output_higher_when_more_anomalous(forest: IsolationForest) -> None:
    row = normal_rows(1, seed=8)[0]
    _, normal_output, _ = explain_isolation_forest(forest, NAMES, row)
    _, anomalous_output, _ = explain_isolation_forest(forest, NAMES, planted(row, 3))
    assert anomalous_output > normal_output


def test_tree_output_orders_like_score_samples(forest: IsolationForest) -> None:
    rows = np.vstack([normal_rows(20, seed=9), planted(normal_rows(1, seed=9)[0], 1)])
    outputs = isolation_output(forest, rows)
    scores = forest.score_samples(rows)
    assert list(np.argsort(outputs)) == list(np.argsort(-scores))


@pytest.mark.parametrize("k", [0, 3, 7])
def test_tree_planted_feature_ranks_first(forest: IsolationForest, k: int) -> None:
    x = planted(normal_rows(1, seed=10 + k)[0], k)
    _, _, values = explain_isolation_forest(forest, NAMES, x)
    assert int(np.argmax(values)) == k


def test_tree_planted_feature_pushes_towards_anomalous(forest: IsolationForest) -> None:
    x = planted(normal_rows(1, seed=11)[0], 5)
    _, _, values = explain_isolation_forest(forest, NAMES, x)
    assert values[5] > 0


def test_tree_rejects_wrong_width(forest: IsolationForest) -> None:
    with pytest.raises(ExplanationError, match="feature order"):
        explain_isolation_forest(forest, NAMES[:3], np.zeros(3))


def test_tree_rejects_unfitted_model() -> None:
    with pytest.raises(ExplanationError, match="fit"):
        explain_isolation_forest(IsolationForest(), NAMES, np.zeros(N_FEATURES))


# -- model-agnostic explainer -------------------------------------------------------


def test_kernel_additivity_on_online_model(online_model: HalfSpaceTreesModel) -> None:
    background = normal_rows(20, seed=12)
    x = planted(normal_rows(1, seed=13)[0], 6)
    score = score_function_of(online_model, NAMES)
    expected, output, values = explain_score_function(score, x, background)
    assert math.isclose(values.sum(), output - expected, abs_tol=1e-9)


def test_kernel_output_is_model_score(online_model: HalfSpaceTreesModel) -> None:
    x = planted(normal_rows(1, seed=14)[0], 2)
    score = score_function_of(online_model, NAMES)
    _, output, _ = explain_score_function(score, x, normal_rows(10, seed=15))
    assert output == online_model.score_one(dict(zip(NAMES, x, strict=True)))


@pytest.mark.parametrize("k", range(N_FEATURES))
def test_kernel_planted_feature_ranks_first(online_model: HalfSpaceTreesModel, k: int) -> None:
    x = planted(typical_row(), k)
    score = score_function_of(online_model, NAMES)
    _, _, values = explain_score_function(score, x, normal_rows(20, seed=30 + k))
    assert int(np.argmax(values)) == k


@pytest.mark.slow
def test_permutation_additivity_and_ranking(online_model: HalfSpaceTreesModel) -> None:
    x = planted(typical_row(), 5)
    score = score_function_of(online_model, NAMES)
    expected, output, values = explain_score_function(score, x, normal_rows(20, seed=41), method="permutation")
    assert math.isclose(values.sum(), output - expected, abs_tol=1e-9)
    assert int(np.argmax(values)) == 5


def test_agnostic_rejects_unknown_method(online_model: HalfSpaceTreesModel) -> None:
    score = score_function_of(online_model, NAMES)
    with pytest.raises(ExplanationError, match="'exact'"):
        explain_score_function(score, np.zeros(N_FEATURES), normal_rows(5), method="exact")


def test_agnostic_rejects_empty_background(online_model: HalfSpaceTreesModel) -> None:
    score = score_function_of(online_model, NAMES)
    with pytest.raises(ExplanationError, match="background"):
        explain_score_function(score, np.zeros(N_FEATURES), np.empty((0, N_FEATURES)))


# -- history ------------------------------------------------------------------------


def test_usual_ranges_percentiles() -> None:
    history = [{"a": float(v), "b": 1.0} for v in range(101)]
    ranges = usual_ranges(history, ["a", "b"])
    assert ranges["a"] == UsualRange(50.0, 5.0, 95.0, 101)
    assert ranges["b"].median == 1.0


def test_usual_ranges_skip_missing_and_nan() -> None:
    history = [{"a": 1.0}, {"a": math.nan}, {}, {"a": 3.0}]
    ranges = usual_ranges(history, ["a", "never"])
    assert ranges["a"].count == 2
    assert ranges["never"].count == 0
    assert math.isnan(ranges["never"].median)


def test_background_keeps_last_rows_and_fills() -> None:
    history = [{"a": float(v)} for v in range(10)] + [{"b": 4.0}]
    background = background_matrix(history, ["a", "b"], np.array([0.0, 9.0]), 3)
    assert background.shape == (3, 2)
    assert background[:, 0].tolist() == [8.0, 9.0, 4.5]
    assert background[:, 1].tolist() == [4.0, 4.0, 4.0]


# -- explanation, reasons, kind -------------------------------------------------------


def make_explanation(**shap_by_name: float) -> Explanation:
    usual = UsualRange(3.2, 1.0, 6.5, 100)
    attributions = [Attribution(name, 97.12 if i == 0 else 1.0, value, usual) for i, (name, value) in enumerate(shap_by_name.items())]
    output = sum(shap_by_name.values())
    return Explanation(1, "host", "tree", "test", 0.0, output, attributions)


def test_explanation_sorted_by_absolute_value() -> None:
    explanation = make_explanation(small=0.1, big_negative=-0.5, big=0.4)
    assert [a.name for a in explanation.attributions] == ["big_negative", "big", "small"]


def test_explanation_row_round_trip() -> None:
    explanation = make_explanation(a=0.3, b=-0.1)
    explanation.attributions.append(Attribution("nan", math.nan, 0.0, UsualRange(math.nan, math.nan, math.nan, 0)))
    restored = Explanation.from_row(explanation.to_row())
    assert restored.attributions[0] == explanation.attributions[0]
    assert math.isnan(restored.attributions[-1].value)
    assert restored.output == explanation.output


def test_reasons_name_value_and_usual_range() -> None:
    explanation = make_explanation(**{"host.cpu.total_pct.mean": 0.4, "host.mem.used_pct.mean": -0.2})
    assert reasons(explanation) == ["host.cpu.total_pct.mean = 97.1 (usual 3.2, 1.0-6.5)"]


def test_reasons_fall_back_to_negative() -> None:
    explanation = make_explanation(a=-0.4, b=-0.1)
    assert len(reasons(explanation, k=2)) == 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("http.api.failures", "functional"),
        ("log.app.level_error", "functional"),
        ("log.app.lines", "behavioural"),
        ("host.load.1m.mean", "performance"),
    ],
)
def test_kind_from_top_attribution(name: str, kind: str) -> None:
    assert kind_for(make_explanation(**{name: 0.5, "host.cpu.total_pct.mean": 0.1})) == kind


# -- worker -----------------------------------------------------------------------------


def seeded_store(path: Path, n_windows: int) -> FeatureStore:
    store = FeatureStore(path)
    rows = normal_rows(n_windows, seed=50)
    windows = [
        WindowRecord("host", 1000.0 + 10 * i, 1010.0 + 10 * i, dict(zip(NAMES, row, strict=True)), is_warmup=False)
        for i, row in enumerate(rows)
    ]
    store.write_window_batch([], windows)
    return store


def test_compute_online_ranks_planted_feature(tmp_path: Path, online_model: HalfSpaceTreesModel) -> None:
    store = seeded_store(tmp_path / "m.db", 40)
    x = planted(typical_row(), 3)
    request = ExplanationRequest(
        event_id=1, stream="host", window_start=2000.0, features=dict(zip(NAMES, x, strict=True)),
        db_path=store.path, online_model=pickle.dumps(online_model),
    )  # fmt: skip
    explanation = compute_explanation(request)
    assert explanation.attributions[0].name == NAMES[3]
    assert explanation.history_windows == 40
    assert explanation.attributions[0].usual.count == 40
    assert abs(explanation.additivity_gap) < 1e-9


def test_compute_tree_uses_forest_order(tmp_path: Path, forest: IsolationForest) -> None:
    store = seeded_store(tmp_path / "m.db", 10)
    x = planted(normal_rows(1, seed=52)[0], 6)
    features = dict(zip(NAMES, x, strict=True))
    request = ExplanationRequest(
        event_id=2, stream="host", window_start=2000.0, features=features,
        db_path=store.path, forest=forest, forest_features=tuple(NAMES),
    )  # fmt: skip
    explanation = compute_explanation(request)
    assert explanation.method == "tree"
    assert explanation.attributions[0].name == NAMES[6]
    assert abs(explanation.additivity_gap) < 1e-6


def test_compute_tree_fills_missing_feature(tmp_path: Path, forest: IsolationForest) -> None:
    store = seeded_store(tmp_path / "m.db", 30)
    features = dict(zip(NAMES, planted(normal_rows(1, seed=53)[0], 1), strict=True))
    del features[NAMES[4]]
    features[NAMES[5]] = math.nan
    request = ExplanationRequest(
        event_id=5, stream="host", window_start=2000.0, features=features,
        db_path=store.path, forest=forest, forest_features=tuple(NAMES),
    )  # fmt: skip
    explanation = compute_explanation(request)
    by_name = {a.name: a for a in explanation.attributions}
    assert explanation.attributions[0].name == NAMES[1]
    assert math.isnan(by_name[NAMES[4]].value)
    assert math.isnan(by_name[NAMES[5]].value)
    assert abs(explanation.additivity_gap) < 1e-6


def test_compute_tree_rejects_unknown_missing(tmp_path: Path, forest: IsolationForest) -> None:
    store = seeded_store(tmp_path / "m.db", 0)
    request = ExplanationRequest(
        event_id=6, stream="host", window_start=2000.0, features={NAMES[0]: 1.0},
        db_path=store.path, forest=forest, forest_features=tuple(NAMES),
    )  # fmt: skip
    with pytest.raises(ExplanationError, match="refit"):
        compute_explanation(request)


def test_compute_rejects_short_history(tmp_path: Path, online_model: HalfSpaceTreesModel) -> None:
    store = seeded_store(tmp_path / "m.db", 2)
    request = ExplanationRequest(
        event_id=3, stream="host", window_start=2000.0, features=dict(zip(NAMES, normal_rows(1)[0], strict=True)),
        db_path=store.path, online_model=pickle.dumps(online_model),
    )  # fmt: skip
    with pytest.raises(ExplanationError, match="2 normal windows"):
        compute_explanation(request)


def test_compute_rejects_request_without_model(tmp_path: Path) -> None:
    store = seeded_store(tmp_path / "m.db", 10)
    request = ExplanationRequest(event_id=4, stream="host", window_start=2000.0, features={"a": 1.0}, db_path=store.path)
    with pytest.raises(ExplanationError, match="neither"):
        compute_explanation(request)


# -- lazy import ------------------------------------------------------------------------


def test_engine_and_ui_import_without_shap() -> None:
    code = (
        "import sys\n"
        "import tui_monitor.engine, tui_monitor.ui, tui_monitor.explain\n"
        "print(sorted(name for name in ('shap', 'numba') if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[1], check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


# -- doctests ---------------------------------------------------------------------------


@pytest.mark.parametrize("module_name", ["_explanation", "_history", "_reasons", "_tree"])
def test_doctests_pass(module_name: str) -> None:
    import doctest
    import importlib

    module = importlib.import_module(f"tui_monitor.explain.{module_name}")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
