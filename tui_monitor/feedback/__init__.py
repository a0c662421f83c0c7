"""Feedback: labels, the active-learning queue, drift, the model registry, the gate and retraining."""

from __future__ import annotations

from tui_monitor.feedback.drift import DriftFound, DriftMonitor
from tui_monitor.feedback.gate import GateResult, Metrics, baseline_metrics, evaluate, gate, labelled_history
from tui_monitor.feedback.labels import (
    FALSE_POSITIVE,
    INVESTIGATE,
    LABEL_VALUES,
    TRUE_ANOMALY,
    Label,
    add_label,
    latest_labels,
    undo_last_label,
)
from tui_monitor.feedback.loop import DriftDetected, Feedback, FeedbackUpdate, LabelChanged, ModelChanged, Review
from tui_monitor.feedback.queue import informativeness, labelling_order
from tui_monitor.feedback.registry import ModelVersion, current_version, list_versions, load_model, promote, rollback
from tui_monitor.feedback.retrain import RetrainPolicy, RetrainRequest, run_retrain
from tui_monitor.feedback.suppress import propose_rule, save_rule, validate_rule_text
from tui_monitor.feedback.trainer import TrainedModel, train_isolation_forest, train_supervised

__all__ = [
    "FALSE_POSITIVE",
    "INVESTIGATE",
    "LABEL_VALUES",
    "TRUE_ANOMALY",
    "DriftDetected",
    "DriftFound",
    "DriftMonitor",
    "Feedback",
    "FeedbackUpdate",
    "GateResult",
    "Label",
    "LabelChanged",
    "Metrics",
    "ModelChanged",
    "ModelVersion",
    "RetrainPolicy",
    "RetrainRequest",
    "Review",
    "TrainedModel",
    "add_label",
    "baseline_metrics",
    "current_version",
    "evaluate",
    "gate",
    "informativeness",
    "labelled_history",
    "labelling_order",
    "latest_labels",
    "list_versions",
    "load_model",
    "promote",
    "propose_rule",
    "rollback",
    "run_retrain",
    "save_rule",
    "train_isolation_forest",
    "train_supervised",
    "undo_last_label",
    "validate_rule_text",
]
