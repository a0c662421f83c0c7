"""Generic header stripping: find where the message of a plain-text line starts.

Plain-text logs put a header before the message: dates, clock times, a host,
a process id, a level, a component ending in a colon, bracketed context.
``strip_header`` removes such a header with one set of rules for every
layout, so the template miner receives only the message. It knows no particular
product's layout; it reads tokens:

1. Leading header tokens are skipped: date and time shapes, numbers, month
   and weekday names, tokens with digits and no lower-case word (hosts such
   as ``dn228``, node ids), bracketed groups and a lone ``-``.
2. A level word (``INFO``, ``[error]``, ``W``) among the first tokens ends the
   header with everything before it.
3. After that, bracketed context, a ``-``, and one component token ending in
   a colon (``sshd[42]:``, ``org.example.Main:``) are skipped; so is a dotted
   logger name followed by bracketed context, and ``name -`` after a time.
4. Fields joined with ``|`` (``time|component|pid|message``) are split, and
   the message is the first field that contains a space.
"""

from __future__ import annotations

import re

__all__ = ["split_header", "strip_header"]

_LEVEL_WORDS = frozenset(
    "fatal critical crit emerg emergency alert severe error err warning warn notice info debug trace".split()
)
_SHORT_LEVELS = frozenset("VDIWEF")
_CALENDAR_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep oct nov dec mon tue wed thu fri sat sun".split()
)
# Dates, clock times, epoch numbers, ids: digits with separators, no letters
# except the T and Z of ISO 8601.
_TIMEISH_RE = re.compile(r"[\d][\d:.,/\-_+TZ]*,?")
# Host, node and file names carrying digits: dn228, R02-M1-N0-C:J12-U11,
# nova-api.log.1.2017-05-16_13:53:08.
_IDISH_RE = re.compile(r"(?=[^\s]*\d)[\w.:/\-]+")
# glog and klog put the level letter before the date: I0501, E1231.
_GLOG_LEVEL_RE = re.compile(r"[IWEF]\d{4}")
_COMPONENT_RE = re.compile(r"[\w.$\-/@<>(),\[\]]{1,100}:|[\w.\-/]{1,100}:\d+\]")
_PROGRAMISH_RE = re.compile(r"[\[(.@$/\d]")
# 12:01:01, 12:01:01.123, or a 9-10 digit epoch number.
_CLOCK_OR_EPOCH_RE = re.compile(r"\d\d:\d\d:\d\d(?:[.,]\d+)?|\d{9,10}")
_DOTTED_RE = re.compile(r"[A-Za-z_][\w\-]*(?:\.[\w\-]+)+")
_BRACKET_RE = re.compile(r"\[[^\]]*\]")

# A header never spans more tokens than this.
_MAX_HEADER_TOKENS = 12
# The last token index where a clock time still counts as part of the header.
_MAX_TIME_AT = 7


def _is_level(token: str) -> bool:
    """Return True for a level word written as headers write it.

    Upper case (``INFO``, ``W``), title case (``Info``) or bracketed
    (``[notice]``); a bare lower-case ``error`` is more often message text.
    """
    if _GLOG_LEVEL_RE.fullmatch(token):
        return True
    word = token.strip("[]<>():,")
    if word.lower() not in _LEVEL_WORDS and not (len(word) == 1 and word in _SHORT_LEVELS):
        return False
    return word.isupper() or word.istitle() or token[0] in "[<"


def _is_headerish(token: str) -> bool:
    if token == "-" or token.lower().strip(",") in _CALENDAR_WORDS:
        return True
    if _TIMEISH_RE.fullmatch(token):
        return True
    # An id with digits but no lower-case word of three letters or more, and
    # no dotted name part (360AP.exe, p5.example.com:443 are message text).
    return (
        _IDISH_RE.fullmatch(token) is not None
        and re.search(r"[a-z]{3,}", token.split(".")[0]) is None
        and re.search(r"\.[A-Za-z]{2}", token) is None
    )


def _tokens_with_bracket_groups(line: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of tokens; a bracketed group with spaces is one token."""
    spans: list[tuple[int, int]] = []
    pos = 0
    length = len(line)
    while pos < length and len(spans) < _MAX_HEADER_TOKENS + 6:
        while pos < length and line[pos] == " ":
            pos += 1
        if pos >= length:
            break
        if line[pos] == "[":
            close = line.find("]", pos)
            if close != -1 and close - pos < 200:
                end = close + 1
                # Keep "[x]:" or "[x]text" together with what follows.
                while end < length and line[end] != " ":
                    end += 1
                spans.append((pos, end))
                pos = end
                continue
        end = line.find(" ", pos)
        if end == -1:
            end = length
        spans.append((pos, end))
        pos = end
    return spans


def split_header(line: str) -> tuple[str, str]:
    """Split a plain-text log line into (header, message).

    >>> split_header("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating")
    ('081109 203615 148 INFO dfs.DataNode$PacketResponder:', 'PacketResponder 1 terminating')
    >>> split_header("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
    ('Jun 14 15:16:01 combo sshd(pam_unix)[19939]:', 'check pass; user unknown')
    >>> split_header("just a message")
    ('', 'just a message')
    """
    line = line.rstrip()
    # Tabs separate fields in some layouts (zap's console encoder); a space
    # has the same length, so spans found in the copy cut the original line.
    tokenized = line.replace("\t", " ") if "\t" in line else line
    if "|" in line[:120]:
        piped = _split_pipes(line)
        if piped is not None:
            return piped
    spans = _tokens_with_bracket_groups(tokenized)
    if not spans:
        return "", line
    tokens = [line[a:b] for a, b in spans]
    limit = min(len(tokens), _MAX_HEADER_TOKENS)

    index = 0
    while index < limit and (_is_headerish(tokens[index]) or tokens[index].startswith("[")):
        index += 1
    # A clock time or an epoch number a few tokens on (after a host name or
    # a node id) still belongs to the header, as does what follows it.
    for at in range(index, min(limit, _MAX_TIME_AT + 1)):
        if tokens[at].endswith(":"):
            break
        if _CLOCK_OR_EPOCH_RE.fullmatch(tokens[at]):
            index = at + 1
            while index < limit and _is_headerish(tokens[index]):
                index += 1
    had_header = index > 0

    # A level word ends the header, unless a component ("app:") comes first:
    # then the level word is part of the message.
    for level_at in range(min(limit, index + 6)):
        if level_at >= index and tokens[level_at].endswith(":"):
            break
        if _is_level(tokens[level_at]) and (level_at > 0 or had_header):
            index = max(index, level_at + 1)
            had_header = True
            break

    is_after_clock = had_header and _CLOCK_OR_EPOCH_RE.fullmatch(tokens[index - 1]) is not None
    index = _skip_context(tokens, index, had_header, is_after_clock)
    if index >= len(tokens):
        # Everything looked like a header: keep the last token as the message.
        index = len(tokens) - 1
    if index <= 0:
        return "", line
    start = spans[index][0]
    return line[: spans[index - 1][1]], line[start:]


def _skip_context(tokens: list[str], index: int, had_header: bool, is_after_clock: bool) -> int:
    """Skip bracketed context, dashes and one ``component:`` after a header."""
    for _ in range(4):
        if index >= len(tokens) or not had_header:
            return index
        token = tokens[index]
        if token.startswith("[") and _BRACKET_RE.match(token):
            index += 1
        elif token == "-":
            # "[context] - message": the dash is the end of the header.
            return index + 1
        else:
            break

    # A component ending in a colon, maybe after a host name. Past the first
    # token it must look like a program (brackets, dots, digits), so that a
    # message such as "Notification time out: 3200" stays whole, except in
    # the syslog layout "<time> host program:".
    for offset in range(3 if had_header else 1):
        at = index + offset
        if at >= len(tokens):
            break
        token = tokens[at]
        is_programish = offset == 0 or (offset == 1 and is_after_clock) or _PROGRAMISH_RE.search(token[:-1])
        if _COMPONENT_RE.fullmatch(token) and is_programish:
            return at + 1
        if token.endswith(":"):
            break

    if not had_header or index + 1 >= len(tokens):
        return index
    # "logger.name [context]", "program -" and "program *64 -".
    if _DOTTED_RE.fullmatch(tokens[index]) and tokens[index + 1].startswith("["):
        return index + 2
    if tokens[index + 1] == "-":
        return index + 2
    if index + 2 < len(tokens) and tokens[index + 2] == "-" and len(tokens[index + 1]) <= 4:
        return index + 3
    return index


def _split_pipes(line: str) -> tuple[str, str] | None:
    fields = line.split("|")
    if len(fields) < 3 or not _TIMEISH_RE.match(fields[0]):
        return None
    for at, text in enumerate(fields[1:], 1):
        if " " in text.strip() or at == len(fields) - 1:
            header = "|".join(fields[:at])
            return header, "|".join(fields[at:])
    return None


def strip_header(line: str) -> str:
    """Return the message part of a plain-text log line (see ``split_header``)."""
    return split_header(line)[1]
