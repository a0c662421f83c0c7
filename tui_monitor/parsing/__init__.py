"""Log parsing: records from log lines, multi-line events, templates, window features.

The public face is ``LogPipeline`` (one log stream: ``feed`` lines and get
``LogRecord`` objects with template ids, or ``tag`` them and get each
line's level and template id; ``window_features`` per window) and
``LogPipelines`` (one pipeline per stream, fed with ``tag(stream, lines)``
by the engine).
"""

from __future__ import annotations

from tui_monitor.parsing.accuracy import grouping_accuracy, parsing_accuracy
from tui_monitor.parsing.features import LogWindowFeatures
from tui_monitor.parsing.formats import FORMATS, detect_format, get_parser
from tui_monitor.parsing.header import split_header, strip_header
from tui_monitor.parsing.masks import mask_message
from tui_monitor.parsing.pipeline import LineTags, LogPipeline, LogPipelines
from tui_monitor.parsing.records import LEVELS, LogRecord, normalize_level
from tui_monitor.parsing.templates import MinerSettings, TemplateMatch, TemplateMiner, shape_key
from tui_monitor.parsing.timestamps import TimeParser

__all__ = [
    "FORMATS",
    "LEVELS",
    "LineTags",
    "LogPipeline",
    "LogPipelines",
    "LogRecord",
    "LogWindowFeatures",
    "MinerSettings",
    "TemplateMatch",
    "TemplateMiner",
    "TimeParser",
    "detect_format",
    "get_parser",
    "grouping_accuracy",
    "mask_message",
    "normalize_level",
    "parsing_accuracy",
    "shape_key",
    "split_header",
    "strip_header",
]
