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
as ``Secret`` objects, which print masked. See ``docs/config.example.toml``.
"""

from __future__ import annotations

import difflib
import logging
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

__all__ = ["CONFIG_NAMES", "apply_config", "find_config", "load_config"]

logger = logging.getLogger(__name__)

CONFIG_NAMES = ("tui-monitor.toml", "tui-monitor.yaml", "tui-monitor.yml")
_USER_CONFIG_NAMES = ("config.toml", "config.yaml", "config.yml")
_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Invalid(Exception):
    """A value is not of the expected form; the message states the expected form."""


# -- value checkers: each returns the converted value or raises _Invalid ----------


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _Invalid("expected a number of seconds above 0, e.g. 5 or 0.5")
    return float(value)


def _count(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"expected a whole number of at least {minimum}")
        return value

    return check


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise _Invalid("expected a number between 0 and 1, e.g. 0.98")
    return float(value)


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


# -- schemas: key -> checker --------------------------------------------------------

_TOP = {
    "db": _path, "window_s": _seconds, "warmup_windows": _count(1), "threshold": _fraction, "sources": None,
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
            close = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(schema))}"
            raise where.key(key).error(f"unknown key; {hint}")
        check = schema[key]
        if check is None:
            values[key] = value
            continue
        try:
            values[key] = check(value)
        except _Invalid as exc:
            raise where.key(key).error(f"invalid value {value!r}: {exc}") from None
    return values


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
    logger.debug("config %s sets %s", path, ", ".join(sorted(result)))
    return result


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
