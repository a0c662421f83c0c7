"""The config file: find it, parse it (TOML or YAML) and check every key.

The file is looked for in this order: the ``--config`` path, then
``tui-monitor.toml``, ``tui-monitor.yaml`` or ``tui-monitor.yml`` in the
working folder, then ``config.toml`` or ``config.yaml`` in the user's config
folder (``platformdirs.user_config_dir("tui-monitor")``). Running without
any file is fine: the defaults watch this machine.

Every error is a ``ConfigError`` that names the file, the key path (such as
``sources.endpoints[2].timeout_s``) and the fix. Unknown keys are errors with
a did-you-mean. Secrets (header values, tokens) may come from environment
variables, by ``${NAME}`` in the value or a ``token_env`` key. They are kept
as ``Secret`` objects, which print masked; notification URLs may contain
``${NAME}`` too. Every command-line option of the engine has a key here
(``FLAG_KEYS``), checked the same way; options override the file.
See ``docs/config.example.toml``.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from tui_monitor.errors import ConfigError
from tui_monitor.settings import EndpointSpec, Secret, Settings, sanitize_name
from tui_monitor.sources.process import ProcessSpec
from tui_monitor.sources.prometheus import ScrapeSpec

__all__ = ["CONFIG_NAMES", "FLAG_KEYS", "apply_config", "check_notify_urls", "duration_seconds", "find_config", "load_config"]

logger = logging.getLogger(__name__)

CONFIG_NAMES = ("tui-monitor.toml", "tui-monitor.yaml", "tui-monitor.yml")
_USER_CONFIG_NAMES = ("config.toml", "config.yaml", "config.yml")
_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# The config key of each engine option, by argparse ``dest``. ``--config``
# itself, ``--help`` and ``--version`` have none.
FLAG_KEYS = {
    "db": "db", "log": "sources.logs", "url": "sources.endpoints", "proc": "sources.processes",
    "scrape": "sources.scrapes", "window": "window_s", "interval": "sources.host.interval_s",
    "url_interval": "sources.endpoint_interval_s", "url_timeout": "sources.endpoint_timeout_s",
    "warmup": "warmup_windows", "threshold": "threshold", "headless": "headless", "duration": "duration",
    "log_file": "logging.file", "verbose": "logging.verbose", "plugins": "plugins.dirs",
    "no_plugin_entry_points": "plugins.entry_points", "plugin_option": "plugins.options",
    "keep_samples": "retention.samples_days", "keep_windows": "retention.windows_days",
    "keep_events": "retention.events_days", "retention_interval": "retention.interval_s",
    "rules": "rules_dir", "notify": "notify.urls", "db_reset_corrupt": "db_reset_corrupt",
}  # fmt: skip


def duration_seconds(text: str) -> float:
    """Parse ``90``, ``30s``, ``15m``, ``1h``, ``7d`` or ``2w`` into seconds.

    >>> duration_seconds("1h"), duration_seconds("90")
    (3600.0, 90.0)

    Raises:
        ValueError: ``text`` is not a time above 0; the message names it and gives an example.
    """
    match = _DURATION_RE.match(text)
    if match is None and _DURATION_RE.match(text.strip().removeprefix("-")) is not None:
        raise ValueError(f"invalid duration {text!r}: a duration cannot be negative; write e.g. {text.strip()[1:]!r}")
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected a number with an optional unit s, m, h, d or w, e.g. 15m or 1h")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: expected a time above 0, e.g. 15m or 1h")
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: too large; expected e.g. 15m or 7d")
    return seconds


class _Invalid(Exception):
    """A value is not of the expected form; the message states the expected form."""


# -- value checkers: each returns the converted value or raises _Invalid ----------


def _number(value: Any) -> float | None:
    """Return ``value`` as a finite float, or None when it is not a number (true and false are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _seconds(value: Any) -> float:
    number = _number(value)
    if number is None or not number > 0:
        raise _Invalid("expected a number of seconds above 0, e.g. 5 or 0.5")
    return number


def _seconds_from(minimum: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        number = _number(value)
        if number is None or number < minimum:
            raise _Invalid(f"expected a number of seconds of at least {minimum:g}")
        return number

    return check


def _days(value: Any) -> float:
    number = _number(value)
    if number is None or not number > 0:
        raise _Invalid("expected a number of days above 0, e.g. 2 or 0.5")
    return number


def _duration(value: Any) -> float:
    if isinstance(value, str):
        try:
            return duration_seconds(value)
        except ValueError:
            raise _Invalid('expected a time above 0 such as "15m", "1h" or "7d", or a number of seconds') from None
    number = _number(value)
    if number is None or not number > 0:
        raise _Invalid('expected a time above 0 such as "15m", "1h" or "7d", or a number of seconds')
    return number


def _count(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"expected a whole number of at least {minimum}")
        return value

    return check


def _fraction(value: Any) -> float:
    number = _number(value)
    if number is None or not 0.0 < number < 1.0:
        raise _Invalid("expected a number between 0 and 1, e.g. 0.98")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid('expected a non-empty string in quotes, e.g. "api"')
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("expected true or false")
    return value


def _bool_or_names(value: Any) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise _Invalid('expected true, false or a list of names, e.g. ["eth0"]')


def _regex(value: Any) -> str:
    text = _text(value)
    try:
        re.compile(text)
    except re.error as exc:
        raise _Invalid(f"invalid regular expression: {exc}") from None
    return text


def _url(value: Any) -> str:
    text = _text(value)
    if not re.match(r"^https?://[^/\s]+", text):
        raise _Invalid('expected an absolute http:// or https:// URL, e.g. "http://127.0.0.1:8080/health"')
    return text


def _method(value: Any) -> str:
    text = _text(value).upper()
    if text not in ("GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "PATCH"):
        raise _Invalid("expected an HTTP method such as GET, HEAD or POST")
    return text


def _statuses(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in items):
        raise _Invalid("expected a status code or a list of them, e.g. 200 or [200, 204]")
    return tuple(items)


def _scalar(value: Any) -> str | float | bool:
    if isinstance(value, str | bool | int | float):
        return value
    raise _Invalid('expected a string, number or true/false, e.g. "ok"')


def _path(value: Any) -> str:
    return os.path.expanduser(_text(value))


def _paths(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid('expected a list of paths or globs, e.g. ["/var/log/app/*.log"]')
    return list(value)


def _folders(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid('expected a list of folders, e.g. ["~/.config/tui-monitor/plugins"]')
    return [os.path.expanduser(v) for v in value]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _Invalid('expected a list of strings, e.g. ["json://127.0.0.1:8080/hook"]')
    return list(value)


# -- schemas: key -> checker --------------------------------------------------------

_TOP = {
    "db": _path, "window_s": _seconds, "warmup_windows": _count(1), "threshold": _fraction, "sources": None,
    "rules_dir": _path, "headless": _boolean, "duration": _duration, "db_reset_corrupt": _boolean,
    "logging": None, "retention": None, "plugins": None, "notify": None,
}  # fmt: skip
_LOGGING = {"file": _path, "verbose": _boolean}
_RETENTION = {"samples_days": _days, "windows_days": _days, "events_days": _days, "interval_s": _seconds}
_PLUGINS = {"dirs": _folders, "entry_points": _boolean, "options": None}
# Minimums as Settings.validate checks them.
_NOTIFY = {
    "urls": _strings, "repeat_s": _seconds_from(0.0), "rate_limit": _count(1), "rate_window_s": _seconds_from(1.0),
    "retries": _count(0), "backoff_s": _seconds_from(0.0), "timeout_s": _seconds_from(0.1),
}  # fmt: skip
# Settings field of each key of the tables above, by table.
_FIELDS = {
    "logging": {"file": "log_file", "verbose": "is_verbose"},
    "retention": {
        "samples_days": "samples_retention_days", "windows_days": "windows_retention_days",
        "events_days": "events_retention_days", "interval_s": "retention_interval_s",
    },
    "plugins": {"dirs": "plugin_dirs", "entry_points": "is_entry_point_plugins"},
    "notify": {
        "urls": "notify_urls", "repeat_s": "notify_repeat_s", "rate_limit": "notify_rate_limit",
        "rate_window_s": "notify_rate_window_s", "retries": "notify_retries", "backoff_s": "notify_backoff_s",
        "timeout_s": "notify_timeout_s",
    },
}  # fmt: skip
_SOURCES = {
    "host": None, "logs": _paths, "processes": None, "endpoints": None, "scrapes": None,
    "process_interval_s": _seconds, "endpoint_interval_s": _seconds, "endpoint_timeout_s": _seconds,
    "scrape_interval_s": _seconds,
}  # fmt: skip
_HOST = {
    "interval_s": _seconds, "filesystems": _boolean, "per_disk": _bool_or_names,
    "per_interface": _bool_or_names, "sensors": _boolean,
}  # fmt: skip
_PROCESS = {
    "name": _text, "match_name": _text, "match_cmdline": _regex, "pid_file": _path, "interval_s": _seconds,
}  # fmt: skip
_HTTP_COMMON = {
    "name": _text, "url": _url, "interval_s": _seconds, "timeout_s": _seconds, "headers": None,
    "token": None, "token_env": _text, "max_body_bytes": _count(1),
}  # fmt: skip
_ENDPOINT = {
    **_HTTP_COMMON, "method": _method, "expect_status": _statuses, "body_regex": _regex, "json_path": _text,
    "json_expect": _scalar, "connect_timeout_s": _seconds, "max_redirects": _count(0), "ca_file": _path,
    "verify_tls": _boolean,
}  # fmt: skip
_SCRAPE = {**_HTTP_COMMON, "max_series": _count(1), "include": _regex, "exclude": _regex}


@dataclass
class _Where:
    """The file and key path of a value, for messages."""

    file: Path
    path: str

    def key(self, name: str | int) -> _Where:
        if isinstance(name, int):
            return _Where(self.file, f"{self.path}[{name}]")
        return _Where(self.file, f"{self.path}.{name}" if self.path else name)

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.path or 'top level'}: {problem}")


# -- finding and parsing ----------------------------------------------------------


def find_config(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """Return the config file to use, or None when there is none.

    Raises:
        ConfigError: ``explicit`` was given but does not exist.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {str(explicit)!r} not found: check the --config path")
        return explicit
    folders = [(cwd or Path.cwd(), CONFIG_NAMES), (Path(platformdirs.user_config_dir("tui-monitor")), _USER_CONFIG_NAMES)]
    for folder, names in folders:
        present = [folder / name for name in names if (folder / name).is_file()]
        if len(present) > 1:
            logger.warning("several config files in %s; using %s", folder, present[0].name)
        if present:
            return present[0]
    return None


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}; fix the syntax there") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}; fix the syntax there") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _check_table(table: Any, schema: dict[str, Any], where: _Where) -> dict[str, Any]:
    """Check a table's keys against ``schema``; return checked values (nested tables as they are)."""
    if not isinstance(table, dict):
        raise where.error(f"expected a table of keys, got {table!r}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        key = str(key)
        if key not in schema:
            raise where.key(key).error(f"unknown key; {_unknown_key_hint(key, schema)}")
        check = schema[key]
        if check is None:
            values[key] = value
            continue
        try:
            values[key] = check(value)
        except _Invalid as exc:
            raise where.key(key).error(f"invalid value {value!r}: {exc}") from None
    return values


def _unknown_key_hint(key: str, schema: dict[str, Any]) -> str:
    """Suggest the key meant: a close spelling, the config key of an option's name, or the known keys."""
    close = difflib.get_close_matches(key, list(schema), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    flag = key.lstrip("-").replace("-", "_")
    if flag in FLAG_KEYS:
        return f"did you mean {FLAG_KEYS[flag]!r}? It is the config key of the option --{flag.replace('_', '-')}"
    return f"known keys: {', '.join(sorted(schema))}"


def _entries(value: Any, where: _Where) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error("expected a list of tables, e.g. [[sources.endpoints]] entries in TOML")
    return value


def _require(values: dict[str, Any], key: str, where: _Where, example: str) -> Any:
    if key not in values:
        raise where.key(key).error(f"missing; add {example}")
    return values[key]


# -- secrets ----------------------------------------------------------------------


def _expand(value: Any, where: _Where) -> Secret:
    """Expand ``${NAME}`` references from the environment; the result is a Secret."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise where.error(f"invalid value {value!r}: expected a string")

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise where.error(f"environment variable {name!r} is not set; export it or remove the reference")
        return os.environ[name]

    return Secret(_ENV_REF_RE.sub(substitute, str(value)))


def _headers(values: dict[str, Any], where: _Where) -> tuple[tuple[str, str | Secret], ...]:
    headers: list[tuple[str, str | Secret]] = []
    raw = values.get("headers", {})
    if not isinstance(raw, dict):
        raise where.key("headers").error('expected a table of header names and values, e.g. { "X-Api-Key" = "${API_KEY}" }')
    for name, value in raw.items():
        headers.append((str(name), _expand(value, where.key("headers").key(str(name)))))
    token: Secret | None = None
    if "token" in values:
        token = _expand(values["token"], where.key("token"))
    if "token_env" in values:
        env = values["token_env"]
        if env not in os.environ:
            raise where.key("token_env").error(f"environment variable {env!r} is not set; export it or remove token_env")
        token = Secret(os.environ[env])
    if token is not None:
        headers.append(("Authorization", Secret(f"Bearer {token.reveal()}")))
    return tuple(headers)


# -- building specs -----------------------------------------------------------------


def _endpoint(raw: Any, where: _Where) -> EndpointSpec:
    values = _check_table(raw, _ENDPOINT, where)
    url = _require(values, "url", where, 'url = "http://127.0.0.1:8080/health"')
    name = sanitize_name(values.get("name") or url.split("://", 1)[1].split("/", 1)[0])
    options = {k: v for k, v in values.items() if k not in ("name", "url", "headers", "token", "token_env")}
    return EndpointSpec(name=name, url=url, headers=_headers(values, where), **options)


def _scrape(raw: Any, where: _Where) -> ScrapeSpec:
    values = _check_table(raw, _SCRAPE, where)
    url = _require(values, "url", where, 'url = "http://127.0.0.1:9100/metrics"')
    name = values.get("name") or url.split("://", 1)[1].split("/", 1)[0]
    options = {k: v for k, v in values.items() if k not in ("name", "url", "headers", "token", "token_env")}
    return ScrapeSpec(name=name, url=url, headers=_headers(values, where), **options)


def _process(raw: Any, where: _Where) -> ProcessSpec:
    values = _check_table(raw, _PROCESS, where)
    _require(values, "name", where, 'name = "api"')
    selectors = [k for k in ("match_name", "match_cmdline", "pid_file") if k in values]
    if len(selectors) != 1:
        raise where.error(
            f"expected exactly one of match_name, match_cmdline or pid_file, got {selectors or 'none'}; "
            'e.g. match_name = "nginx"'
        )
    return ProcessSpec(**values)


def load_config(path: Path) -> dict[str, Any]:
    """Parse and check a config file; return Settings field values for the keys it sets.

    Raises:
        ConfigError: the file cannot be read or parsed, or a key or value is
            invalid; the message names the file, the key path and the fix.
    """
    top = _Where(path, "")
    values = _check_table(_parse(path), _TOP, top)
    result: dict[str, Any] = {"config_path": path}
    for key in ("window_s", "warmup_windows", "threshold"):
        if key in values:
            result[key] = values[key]
    if "db" in values:
        result["db_path"] = Path(values["db"])

    where = top.key("sources")
    sources = _check_table(values.get("sources", {}), _SOURCES, where)
    for key in ("process_interval_s", "endpoint_interval_s", "endpoint_timeout_s", "scrape_interval_s"):
        if key in sources:
            result[key] = sources[key]
    if "logs" in sources:
        result["log_paths"] = sources["logs"]
    if "host" in sources:
        host = _check_table(sources["host"], _HOST, where.key("host"))
        if "interval_s" in host:
            result["host_interval_s"] = host.pop("interval_s")
            window_s = result.get("window_s", Settings.window_s)
            if result["host_interval_s"] > window_s:
                raise where.key("host").key("interval_s").error(
                    f"invalid value {result['host_interval_s']!r}: the host poll interval must not exceed "
                    f"the window ({window_s!r} s); lower it or raise window_s"
                )
        result.update({f"host_{key}": value for key, value in host.items()})

    builders: list[tuple[str, Callable[[Any, _Where], Any]]] = [
        ("endpoints", _endpoint), ("scrapes", _scrape), ("processes", _process),
    ]  # fmt: skip
    for key, build in builders:
        entries = _entries(sources.get(key), where.key(key))
        if entries:
            result[key] = [build(entry, where.key(key).key(i)) for i, entry in enumerate(entries)]
    _check_unique(result, where)
    result.update(_engine_keys(values, top))
    logger.debug("config %s sets %s", path, ", ".join(sorted(result)))
    return result


def _engine_keys(values: dict[str, Any], top: _Where) -> dict[str, Any]:
    """Return Settings fields for the keys that match engine options: rules, logging, retention, plugins, notify."""
    result: dict[str, Any] = {}
    if "rules_dir" in values:
        result["rules_dir"] = Path(values["rules_dir"])
    if "duration" in values:
        result["duration_s"] = values["duration"]
    for key, field_name in (("headless", "is_headless"), ("db_reset_corrupt", "can_reset_corrupt_db")):
        if key in values:
            result[field_name] = values[key]

    schemas: dict[str, dict[str, Any]] = {"logging": _LOGGING, "retention": _RETENTION, "plugins": _PLUGINS, "notify": _NOTIFY}
    for table, schema in schemas.items():
        checked = _check_table(values.get(table, {}), schema, top.key(table))
        for key, value in checked.items():
            if key in _FIELDS[table]:
                result[_FIELDS[table][key]] = value
    if "log_file" in result:
        result["log_file"] = Path(result["log_file"])
    if "plugin_dirs" in result:
        result["plugin_dirs"] = [Path(folder) for folder in result["plugin_dirs"]]
    plugins = values.get("plugins", {})
    if "options" in plugins:
        result["plugin_options"] = _plugin_options(plugins["options"], top.key("plugins").key("options"))
    if "notify_urls" in result:
        where = top.key("notify").key("urls")
        result["notify_urls"] = [_expand(url, where.key(i)).reveal() for i, url in enumerate(result["notify_urls"])]
    return result


def _plugin_options(raw: Any, where: _Where) -> dict[str, dict[str, str]]:
    """Check ``[plugins.options.NAME]`` tables; values become text, as ``--plugin-option NAME.KEY=VALUE`` gives them."""
    example = '[plugins.options.command] command = "uptime"'
    if not isinstance(raw, dict):
        raise where.error(f"expected a table of plugin names, got {raw!r}; e.g. {example}")
    options: dict[str, dict[str, str]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise where.key(str(name)).error(f"expected a table of options, got {table!r}; e.g. {example}")
        for key, value in table.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str | int | float):
                text = str(value)
            else:
                raise where.key(str(name)).key(str(key)).error(f"invalid value {value!r}: expected a string, number or true/false")
            options.setdefault(str(name), {})[str(key)] = text
    return options


def check_notify_urls(path: Path, urls: list[str]) -> None:
    """Check that Apprise recognises each notification URL of the config file ``path``.

    An error names the URL's key path, such as ``notify.urls[1]``, and shows
    the URL masked. This check is not part of ``load_config`` because it
    imports Apprise, which commands that only read the store do not need.

    Raises:
        ConfigError: Apprise does not recognise a URL.
    """
    from tui_monitor.alerts import parse_target

    for i, url in enumerate(urls):
        parse_target(url, origin=f"URL at {path}: notify.urls[{i}]")


def _check_unique(result: dict[str, Any], where: _Where) -> None:
    for key in ("endpoints", "scrapes", "processes"):
        seen: dict[str, int] = {}
        for i, spec in enumerate(result.get(key, [])):
            stream = getattr(spec, "stream", None) or f"http.{spec.name}"
            if stream in seen:
                raise where.key(key).key(i).key("name").error(
                    f"duplicate stream name {stream!r} (also {key}[{seen[stream]}]); give each entry its own name"
                )
            seen[stream] = i


def apply_config(settings: Settings, values: dict[str, Any]) -> Settings:
    """Set the config file's values on ``settings``, which holds the defaults; return it."""
    for key, value in values.items():
        setattr(settings, key, value)
    return settings
