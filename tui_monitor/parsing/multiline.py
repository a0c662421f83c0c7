"""Recognise the continuation lines of multi-line events.

A Python traceback, a Java stack trace ("\\tat ...", "Caused by: ...",
"... 12 more") or an indented continuation belongs to the record before it.
"""

from __future__ import annotations

import re

__all__ = ["looks_like_continuation"]

_CONTINUATION_RE = re.compile(
    r"[ \t]"  # indented: traceback frames, "\tat com.example...", wrapped text
    r"|Traceback \(most recent call last\):"
    r"|During handling of the above exception"
    r"|The above exception was the direct cause"
    r"|Caused by: "
    r"|Suppressed: "
    r"|\.\.\. \d+ (?:more|common frames omitted)"
    # A Java exception line, named with its package: "java.io.IOException: closed".
    r"|(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Error|Exception|Throwable)(?::|$)"
    r"|[}\])]+,?$"  # the closing brackets of a pretty-printed value
)
# The last line of a Python traceback: "ValueError: bad", "KeyError". Alone it
# is an ordinary message, so it joins only a record that is already multi-line.
_EXCEPTION_LINE_RE = re.compile(r"[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure)(?::|$)")


def looks_like_continuation(line: str, *, is_after_multiline: bool = False) -> bool:
    """Return True when ``line`` continues the event on the line before it.

    Args:
        line: one physical line without its newline.
        is_after_multiline: the event before already spans several lines (a
            traceback), so a bare exception line such as ``KeyError: 'x'``
            ends it rather than starting a new event.

    >>> looks_like_continuation("\\tat com.example.Main.run(Main.java:10)")
    True
    >>> looks_like_continuation("ValueError: invalid literal", is_after_multiline=True)
    True
    >>> looks_like_continuation("ValueError: invalid literal")
    False
    >>> looks_like_continuation("2024-05-01 12:00:00 INFO ok")
    False
    """
    if not line:
        return False
    if _CONTINUATION_RE.match(line) is not None:
        return True
    return is_after_multiline and _EXCEPTION_LINE_RE.match(line) is not None
