"""Mask notification URLs and keep their secrets out of every log line.

Apprise's ``url(privacy=True)`` (Apprise 2.3) masks passwords and the tokens
of service plugins such as ``discord://``, but for the generic ``json://``,
``form://`` and ``xml://`` targets it leaves the path, custom headers
(``+Header=value``) and payload fields (``:field=value``) in clear text.
``mask_url`` therefore also masks token-like path segments and every query
value, and shows no query string at all.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from types import ModuleType
from urllib.parse import unquote

__all__ = ["MASK", "SecretFilter", "load_apprise", "mask_text", "mask_url", "secrets_of", "secret_filter"]

MASK = "****"

_SPLIT_RE = re.compile(r"[/:@?&=,;#+\s]+")
_MIN_SECRET_LEN = 4
# Query keys whose values are settings, not secrets.
_PLAIN_KEYS = {"method", "cto", "rto", "format", "overflow", "retry", "wait", "optional", "verify", "to", "batch"}


def load_apprise() -> ModuleType:
    """Import Apprise and load its plugins once, without its import-time deprecation warning.

    Apprise 2.3 imports the standard ``imghdr`` module, deprecated since Python 3.11,
    while it loads its e-mail plugin; that warning is not ours to fix.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        import apprise

        apprise.Apprise.instantiate("json://127.0.0.1", suppress_exceptions=True)
    return apprise


def _looks_secret(segment: str) -> bool:
    """Whether a path segment looks like a token: long, or mixing letters and digits.

    >>> _looks_secret("hooks"), _looks_secret("AbCdEf123456789"), _looks_secret("a1")
    (False, True, False)
    """
    if len(segment) >= 20:
        return True
    return len(segment) >= 8 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _candidate_secrets(url: str) -> set[str]:
    """Return what our own rules hide in ``url``, found without Apprise: password, token-like path parts, query values.

    >>> sorted(_candidate_secrets("json://u:pw1234@h:81/hooks/AbCdEf123456789?rto=3&+X-Key=s3cr3t"))
    ['AbCdEf123456789', 'pw1234', 's3cr3t']
    """
    found: set[str] = set()
    body, _, query = url.partition("?")
    rest = body.partition("://")[2]
    authority, _, path = rest.partition("/")
    if "@" in authority:
        user, _, password = authority.rpartition("@")[0].partition(":")
        found.update(part for part in (unquote(password), unquote(user) if _looks_secret(unquote(user)) else "") if part)
    found.update(unquote(segment) for segment in path.split("/") if _looks_secret(unquote(segment)))
    for pair in query.split("&"):
        key, _, value = unquote(pair).partition("=")
        if key.lstrip("+-:").lower() not in _PLAIN_KEYS and value:
            found.add(value)
    return found


def mask_url(url: str) -> str:
    """Return ``url`` as it may be shown: scheme, host and port, with passwords and tokens masked.

    Before Apprise parses the URL (it logs what it loads at debug level), the
    parts our own rules hide are registered with the process-wide log filter.

    >>> mask_url("json://user:pw@127.0.0.1:8080/hooks/AbCdEf123456789?+X-Key=s3cr3t")
    'json://user:****@127.0.0.1:8080/hooks/****'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK
    secret_filter().add(_candidate_secrets(url))
    try:
        plugin = load_apprise().Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # an unusual URL must not stop the caller from showing something safe
        plugin = None
    if plugin is not None:
        private = plugin.url(privacy=True)
        scheme, _, rest = private.partition("://")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        user, _, host = authority.rpartition("@")
        name, colon, _password = user.partition(":")
        if colon:
            authority = f"{name}:{MASK}@{host}"
        elif _looks_secret(name):
            authority = f"{MASK}@{host}"
        else:
            authority = f"{name}@{host}"
    segments = [MASK if _looks_secret(unquote(s)) else s for s in path.split("/")]
    shown = f"{scheme}://{authority}{slash}{'/'.join(segments)}"
    return shown.rstrip("/")


def secrets_of(url: str) -> set[str]:
    """Return the parts of ``url`` that ``mask_url`` hides: what must never be logged.

    Query values count as secrets unless their key is a known setting such as ``cto``.

    >>> sorted(secrets_of("json://u:pw1234@127.0.0.1:81/h/AbCdEf123456789?rto=3"))
    ['AbCdEf123456789', 'pw1234']
    """
    shown = set(_SPLIT_RE.split(mask_url(url)))
    found = {secret for secret in _candidate_secrets(url) if len(secret) >= _MIN_SECRET_LEN}
    body = url.partition("?")[0]
    for token in _SPLIT_RE.split(unquote(body)):
        if len(token) >= _MIN_SECRET_LEN and token not in shown:
            found.add(token)
    scheme = url.partition("://")[0]
    found.discard(scheme)
    return found


def mask_text(text: str, secrets: set[str] | frozenset[str]) -> str:
    """Replace every secret in ``text`` with the mask, longest first.

    >>> mask_text("posting to /h/tok3n12345", {"tok3n12345"})
    'posting to /h/****'
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    """A logging filter that masks registered secrets in each record's message.

    It is attached to the loggers of the libraries that send notifications
    (``apprise``, ``urllib3``, ``requests``), whose debug output can contain
    request paths and headers.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secrets: set[str]) -> None:
        """Register more secrets to mask."""
        with self._lock:
            self._secrets = self._secrets | frozenset(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        message = record.getMessage()
        masked = mask_text(message, secrets)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info), secrets)
        return True


_FILTER = SecretFilter()
_FILTERED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "requests")
_installed = False
_install_lock = threading.Lock()


def secret_filter() -> SecretFilter:
    """Return the process-wide filter, attaching it to the notification libraries' loggers on first use."""
    global _installed
    with _install_lock:
        if not _installed:
            for name in _FILTERED_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _installed = True
    return _FILTER
