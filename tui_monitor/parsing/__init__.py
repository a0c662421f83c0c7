"""Log parsing: records from log lines, multi-line events, templates, window features."""

from __future__ import annotations

from tui_monitor.parsing.accuracy import grouping_accuracy, parsing_accuracy
from tui_monitor.parsing.header import split_header, strip_header
from tui_monitor.parsing.masks import mask_message
from tui_monitor.parsing.records import LEVELS, LogRecord, normalize_level
from tui_monitor.parsing.templates import MinerSettings, TemplateMatch, TemplateMiner

__all__ = [
    "LEVELS",
    "LogRecord",
    "MinerSettings",
    "TemplateMatch",
    "TemplateMiner",
    "grouping_accuracy",
    "mask_message",
    "normalize_level",
    "parsing_accuracy",
    "split_header",
    "strip_header",
]
