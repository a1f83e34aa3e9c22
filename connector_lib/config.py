"""The one typed configuration object of the connector.

It is built once, from pipeline configuration (``pi.*`` Spark confs) or from a YAML file, and validated
once: every wrong or missing setting raises :class:`ConfigError` with one line that names the key.
Secrets may be given as ``env:VARIABLE`` (local runs) or arrive already resolved from a Databricks
secret reference (``{{secrets/scope/key}}`` in the pipeline configuration); they are kept out of
``repr`` and out of every message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .logs import LEVELS as LOG_LEVELS
from .settings import DEFAULTS, KNOWN_KEYS, PREFIX, SECRET_KEYS
from .timeutil import parse_duration, parse_time

AUTH_TYPES = ("basic", "bearer", "kerberos", "anonymous")
KERBEROS_MUTUAL = ("required", "optional", "disabled")
READ_MODES = ("recorded", "updates", "auto")


class ConfigError(ValueError):
    """A wrong or missing setting; the message is one readable line naming the key."""


#: settings that belong to some authentication modes only
MODE_SETTINGS = {
    "pi.auth.username": ("basic", "kerberos"),
    "pi.auth.password": ("basic", "kerberos"),
    **{f"pi.auth.{name}": ("bearer",) for name in ("token", "token_url", "client_id", "client_secret", "scope")},
    **{f"pi.auth.kerberos_{name}": ("kerberos",) for name in ("keytab", "config", "mutual", "hostname")},
}
#: config fields that are secrets -> the data source option that carries each to the executors: the
#: setting's own key, which Spark's default redaction pattern (``secret|password|token``) hides
SECRET_OPTIONS = {key.rsplit(".", 1)[1]: key for key in sorted(SECRET_KEYS)}


def _text(raw: Mapping[str, str], key: str) -> str:
    """The setting as given, else its default (connector_lib/settings.py)."""
    value = raw.get(key)
    if value is None:
        value = DEFAULTS[key]
    return "" if value is None else str(value).strip()


def _text_or_default(raw: Mapping[str, str], key: str) -> str:
    """The setting as given, its default when missing or blank (a name that cannot be empty)."""
    return _text(raw, key) or str(DEFAULTS[key] or "")


def _resolve_env(key: str, value: str) -> str:
    if value.startswith("env:"):
        var = value[4:]
        if var not in os.environ:
            raise ConfigError(f"{key}: environment variable {var} is not set")
        return os.environ[var]
    return value


def _int(raw, key: str, lo: int, hi: int | None = None) -> int:
    text = _text(raw, key)
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{key}: must be an integer, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"{key}: must be {bound}, got {value}")
    return value


def _duration(raw, key: str, allow_zero: bool = True) -> float:
    text = _text(raw, key)
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{key}: must be a positive duration, got {text!r}")
    return seconds


def _rate(raw, key: str) -> float:
    text = _text(raw, key)
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{key}: must be a number of requests per second, got {text!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{key}: must be >= 0 (0 = no limit), got {text!r}")
    return value


def _bool(raw, key: str) -> bool:
    text = _text(raw, key).lower()
    if text not in ("true", "false"):
        raise ConfigError(f"{key}: must be true or false, got {text!r}")
    return text == "true"


def _names(raw, key: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(t.strip() for t in _text(raw, key).split(",") if t.strip())


_TABLE_NAME = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)){0,2}")


def _table_name(raw, key: str) -> str:
    value = _text(raw, key)
    if not _TABLE_NAME.fullmatch(value):
        raise ConfigError(f"{key}: must be a table name (table, schema.table or catalog.schema.table), got {value!r}")
    return value


def _past_time(key: str, text: str, now: dt.datetime) -> str:
    """A ``*-2h`` or ISO 8601 time that is not in the future, kept as written (it is relative to each
    update's start)."""
    try:
        when = parse_time(text, now)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if when > now:
        raise ConfigError(f"{key}: must not be in the future, got {text!r}")
    return text


def _kerberos_files(flat: Mapping[str, str], auth_type: str, username: str, password: str) -> tuple[str, str]:
    """The keytab and krb5.conf paths, checked: a keytab or a password logs in as pi.auth.username."""
    keytab, krb5_conf = _text(flat, "pi.auth.kerberos_keytab"), _text(flat, "pi.auth.kerberos_config")
    for key, path in (("pi.auth.kerberos_keytab", keytab), ("pi.auth.kerberos_config", krb5_conf)):
        if path and not os.path.isfile(path):
            raise ConfigError(f"{key}: file not found: {path}")
    if auth_type == "kerberos":
        if keytab and password:
            raise ConfigError("pi.auth.kerberos_keytab: give either a keytab or pi.auth.password, not both")
        if (keytab or password) and not username:
            raise ConfigError(
                "pi.auth.username: required with a kerberos password or keytab (the principal, user@REALM)"
            )
    return keytab, krb5_conf


def _host_name(flat: Mapping[str, str], key: str) -> str:
    text = _text(flat, key)
    if text and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", text):
        raise ConfigError(f"{key}: a host name only (no scheme, port or path), got {text!r}")
    return text


def _choice(raw, key: str, choices: tuple[str, ...]) -> str:
    text = _text(raw, key).lower()
    if text not in choices:
        raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got {text!r}")
    return text


@dataclass(frozen=True)
class PIConfig:
    """The connector's settings, typed and checked: built by :meth:`from_mapping` (the defaults are those of
    connector_lib/settings.py), carried to Spark's Python workers by :meth:`to_options`."""

    url: str
    auth_type: str
    username: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    #: secret fields given as ``env:VAR``: (field, VAR) pairs. They travel to executors as the reference,
    #: which each process resolves in its own environment, so the value never enters a plan or a log
    env_secrets: tuple[tuple[str, str], ...]
    kerberos_keytab: str
    kerberos_config: str
    kerberos_mutual: str
    kerberos_hostname: str
    verify_tls: bool
    ca_bundle: str
    data_server: str
    tags: tuple[str, ...]
    tag_filter: str
    max_tags: int
    discovery_interval_s: float
    shard_count: int
    shard_index: int
    backfill_start: str
    lookback_s: float
    settle_lag_s: float
    reread_table: str
    max_window_s: float
    read_mode: str
    markers_per_request: int
    tags_per_request: int
    page_size: int
    max_items_per_call: int
    values_per_call: int
    max_requests_per_second: float
    max_concurrent_requests: int
    partitions: int
    timeout_s: float
    max_retries: int
    backoff_s: float
    keep_value_errors: bool
    verify_tag_hours: int
    log_level: str
    af_databases: tuple[str, ...]
    af_server: str
    af_root: str
    af_element_templates: tuple[str, ...]
    af_page_size: int
    af_refresh_s: float
    ef_enabled: bool
    ef_templates: tuple[str, ...]
    ef_backfill_start: str
    ef_lookback_s: float
    ef_interval_s: float
    ef_page_size: int
    ef_downtime_template: str
    ef_batch_template: str
    ef_product_attribute: str

    @property
    def reads_event_frames(self) -> bool:
        """Event frames are read from the AF databases, so only when some are configured."""
        return bool(self.af_databases) and self.ef_enabled

    @property
    def requests_per_second(self) -> float:
        """This pipeline's share of the PI server's request-rate limit: the shards of one server run side
        by side, so each takes an equal part and together they stay within the limit (0 = none)."""
        return self.max_requests_per_second / self.shard_count

    def owns_point(self, point_id: int) -> bool:
        """Whether this pipeline's shard reads the PI point: its point ID modulo the shard count. The ID
        never changes while the point exists (a rename keeps it), so each tag, a new one included, is read
        by exactly one shard for as long as the count stays the same."""
        return point_id % self.shard_count == self.shard_index

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, strict: bool = True) -> PIConfig:
        """Build from ``pi.*`` keys (nested dicts are flattened with dots). Unknown ``pi.*`` keys are
        errors when ``strict`` (typos must not silently fall back to defaults). Each section of settings
        is read and checked by its own builder below, in the order of docs/configuration.md."""
        flat = setting_strings(raw)
        if strict:
            unknown = sorted(k for k in flat if k.startswith(PREFIX) and k not in KNOWN_KEYS)
            if unknown:
                close = difflib.get_close_matches(unknown[0], sorted(KNOWN_KEYS), n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise ConfigError(f"{unknown[0]}: unknown setting ({hint}known: see docs/configuration.md)")
        now = dt.datetime.now(dt.UTC)
        fields: dict[str, Any] = {"url": _server_url(flat)}
        fields |= _authentication(flat)
        fields |= _tls(flat)
        fields |= _reading(flat, now)
        fields |= _selection(flat)
        fields |= _asset_framework(flat, fields["shard_index"])
        fields |= _event_frames(flat, fields["af_databases"], fields["backfill_start"], now)
        fields |= _http(flat)
        return cls(**fields)

    @classmethod
    def from_yaml(cls, path: str) -> PIConfig:
        return cls.from_mapping(read_settings_file(path))

    @classmethod
    def from_spark_conf(cls, conf: Mapping[str, str]) -> PIConfig:
        """From the pipeline configuration as the session shows it (``spark.conf.getAll``): Spark's own
        keys are ignored, and every ``pi.*`` key must be a known setting, so a misspelt one in the
        pipeline settings fails the update instead of silently leaving its default in place."""
        return cls.from_mapping({k: v for k, v in conf.items() if k.startswith(PREFIX)})

    # ---- hand-over to executors -------------------------------------------------------------
    def __getstate__(self) -> dict:
        """A secret given as ``env:VAR`` stays out of the pickle: Spark pickles the data source reader,
        configuration included, into every task it sends executors; the executor reads VAR instead."""
        state = dict(self.__dict__)
        for name, _ in self.env_secrets:
            state[name] = ""
        return state

    def __setstate__(self, state: dict) -> None:
        for name, var in state.get("env_secrets", ()):
            state[name] = _env_secret(name, var)
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def to_options(self) -> dict[str, str]:
        """Data source options: the configuration as JSON without its secrets, and each secret under its
        own option (:data:`SECRET_OPTIONS`, names Spark redacts in ``explain()``). A secret given as
        ``env:VAR`` travels as that reference and each executor reads its own environment: data source
        options are part of the plan, and open-source Spark Declarative Pipelines logs a flow's plan, options
        included, at INFO (docs/security.md)."""
        data = dataclasses.asdict(self)
        secrets = {option: data.pop(name) for name, option in SECRET_OPTIONS.items()}
        for name, _ in self.env_secrets:
            secrets.pop(SECRET_OPTIONS[name])
        return {"config": json.dumps(data, separators=(",", ":")), **{k: v for k, v in secrets.items() if v}}

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> PIConfig:
        data: dict[str, Any] = json.loads(options["config"])
        for name in ("tags", "af_databases", "af_element_templates", "ef_templates"):  # JSON has lists
            data[name] = tuple(data.get(name) or ())
        data["env_secrets"] = tuple(tuple(pair) for pair in data.get("env_secrets") or ())
        for name, option in SECRET_OPTIONS.items():
            data[name] = options.get(option, "")
        for name, var in data["env_secrets"]:
            data[name] = _env_secret(name, var)
        return cls(**data)


def _server_url(flat: Mapping[str, str]) -> str:
    url = _text(flat, "pi.url")
    if not url:
        raise ConfigError("pi.url: required, e.g. https://pi.example.com/piwebapi")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # never echo it: it may hold a password
        raise ConfigError("pi.url: must not carry credentials; use pi.auth.username and pi.auth.password")
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"pi.url: must start with http:// or https://, got {url!r}")
    if not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"pi.url: not a valid URL (host missing or spaces), got {url!r}")
    return url.rstrip("/")


def _authentication(flat: Mapping[str, str]) -> dict[str, Any]:
    """``pi.auth.*``: the mode and the settings it needs (those of another mode are refused)."""
    auth_type = _choice(flat, "pi.auth.type", AUTH_TYPES)
    for key, modes in MODE_SETTINGS.items():  # a setting of another mode is a mistake, not a fallback
        if _text(flat, key) and key in flat and auth_type not in modes:
            raise ConfigError(f"{key}: used only when pi.auth.type is {' or '.join(modes)} (it is {auth_type})")
    username = _resolve_env("pi.auth.username", _text(flat, "pi.auth.username"))
    password = _resolve_env("pi.auth.password", _text(flat, "pi.auth.password"))
    if auth_type == "basic" and not username:
        raise ConfigError("pi.auth.username: required when pi.auth.type is basic")
    if auth_type == "basic" and not password:
        raise ConfigError("pi.auth.password: required when pi.auth.type is basic")
    token = _resolve_env("pi.auth.token", _text(flat, "pi.auth.token"))
    token_url = _text(flat, "pi.auth.token_url")
    client_id = _resolve_env("pi.auth.client_id", _text(flat, "pi.auth.client_id"))
    client_secret = _resolve_env("pi.auth.client_secret", _text(flat, "pi.auth.client_secret"))
    if auth_type == "bearer":
        if token and token_url:
            raise ConfigError("pi.auth.token: give either a static token or pi.auth.token_url, not both")
        if not token and not token_url:
            raise ConfigError("pi.auth.token_url: required when pi.auth.type is bearer (or a static pi.auth.token)")
        if token_url:
            if urlsplit(token_url).scheme.lower() not in ("http", "https") or not urlsplit(token_url).hostname:
                raise ConfigError(f"pi.auth.token_url: not an http(s) URL, got {token_url!r}")
            if not client_id:
                raise ConfigError("pi.auth.client_id: required with pi.auth.token_url")
            if not client_secret:
                raise ConfigError("pi.auth.client_secret: required with pi.auth.token_url")
    kerberos_keytab, kerberos_config = _kerberos_files(flat, auth_type, username, password)
    return dict(
        auth_type=auth_type,
        username=username,
        password=password,
        token=token,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        scope=_text(flat, "pi.auth.scope"),
        env_secrets=tuple(
            (key.rsplit(".", 1)[1], _text(flat, key)[4:])
            for key in sorted(SECRET_KEYS)
            if _text(flat, key).startswith("env:") and auth_type in MODE_SETTINGS[key]
        ),
        kerberos_keytab=kerberos_keytab,
        kerberos_config=kerberos_config,
        kerberos_mutual=_choice(flat, "pi.auth.kerberos_mutual", KERBEROS_MUTUAL),
        kerberos_hostname=_host_name(flat, "pi.auth.kerberos_hostname"),
    )


def _tls(flat: Mapping[str, str]) -> dict[str, Any]:
    ca_bundle = _text(flat, "pi.tls.ca_bundle")
    if ca_bundle and not os.path.isfile(ca_bundle):
        raise ConfigError(f"pi.tls.ca_bundle: file not found: {ca_bundle}")
    return dict(verify_tls=_bool(flat, "pi.tls.verify"), ca_bundle=ca_bundle)


def _reading(flat: Mapping[str, str], now: dt.datetime) -> dict[str, Any]:
    """Where reads start, how far back they look, and how they are cut into windows, pages and calls."""
    backfill = _past_time("pi.backfill_start", _text(flat, "pi.backfill_start"), now)
    max_items = _int(flat, "pi.max_items_per_call", 1)
    page_size = _int(flat, "pi.page_size", 1)
    if page_size > max_items:
        raise ConfigError(f"pi.page_size: must be <= pi.max_items_per_call ({max_items}), got {page_size}")
    values_per_call = _int(flat, "pi.values_per_call", 1)
    if "pi.values_per_call" not in flat:
        values_per_call = min(values_per_call, max_items)
    elif values_per_call > max_items:
        raise ConfigError(f"pi.values_per_call: must be <= pi.max_items_per_call ({max_items}), got {values_per_call}")
    return dict(
        backfill_start=backfill,
        lookback_s=_duration(flat, "pi.lookback"),
        settle_lag_s=_duration(flat, "pi.settle_lag"),
        reread_table=_table_name(flat, "pi.reread_table"),
        max_window_s=_duration(flat, "pi.max_window", allow_zero=False),
        read_mode=_choice(flat, "pi.read_mode", READ_MODES),
        markers_per_request=_int(flat, "pi.updates.markers_per_request", 1, 1000),
        tags_per_request=_int(flat, "pi.tags_per_request", 1, 10000),
        page_size=page_size,
        max_items_per_call=max_items,
        values_per_call=values_per_call,
        max_requests_per_second=_rate(flat, "pi.max_requests_per_second"),
        max_concurrent_requests=_int(flat, "pi.max_concurrent_requests", 1, 64),
        partitions=_int(flat, "pi.partitions", 0, 4096),
        keep_value_errors=_bool(flat, "pi.keep_value_errors"),
        verify_tag_hours=_int(flat, "pi.verify.tag_hours", 0, 1000),
    )


def _selection(flat: Mapping[str, str]) -> dict[str, Any]:
    """Which points: the data server, the tags or the filter, and this pipeline's tag shard."""
    shard_count = _int(flat, "pi.shard.count", 1, 4096)
    shard_index = _int(flat, "pi.shard.index", 0)
    if shard_index >= shard_count:
        raise ConfigError(f"pi.shard.index: must be below pi.shard.count ({shard_count}), got {shard_index}")
    return dict(
        data_server=_text(flat, "pi.data_server"),
        tags=_names(flat, "pi.tags"),
        tag_filter=_text_or_default(flat, "pi.tag_filter"),
        max_tags=_int(flat, "pi.max_tags", 0),
        discovery_interval_s=_duration(flat, "pi.discovery_interval", allow_zero=False),
        shard_count=shard_count,
        shard_index=shard_index,
    )


def _asset_framework(flat: Mapping[str, str], shard_index: int) -> dict[str, Any]:
    af_databases = _names(flat, "pi.af.databases")
    af_root = _text(flat, "pi.af.root").strip("\\")
    if af_root and not af_databases:
        raise ConfigError("pi.af.root: needs pi.af.databases (the databases the root is looked up in)")
    if any(c in af_root for c in "*?|"):
        raise ConfigError(f"pi.af.root: an element path without wildcards or '|', got {af_root!r}")
    if af_databases and shard_index:
        raise ConfigError(
            "pi.af.databases: set it on shard 0 only (this is pi.shard.index "
            f"{shard_index}): the Asset Framework and event frames are not shared out by tag"
        )
    return dict(
        af_databases=af_databases,
        af_server=_text(flat, "pi.af.server"),
        af_root=af_root,
        af_element_templates=_names(flat, "pi.af.element_templates"),
        af_page_size=_int(flat, "pi.af.page_size", 1, 10000),
        af_refresh_s=_duration(flat, "pi.af.refresh"),
    )


def _event_frames(
    flat: Mapping[str, str], af_databases: tuple[str, ...], backfill: str, now: dt.datetime
) -> dict[str, Any]:
    """``pi.ef.*``; the first read starts at ``pi.backfill_start`` unless ``pi.ef.backfill_start`` says."""
    ef_backfill = _past_time("pi.ef.backfill_start", _text(flat, "pi.ef.backfill_start") or backfill, now)
    ef_templates = _names(flat, "pi.ef.templates")
    if ef_templates and not af_databases:
        raise ConfigError("pi.ef.templates: needs pi.af.databases (event frames are read from AF databases)")
    return dict(
        ef_enabled=_bool(flat, "pi.ef.enabled"),
        ef_templates=ef_templates,
        ef_backfill_start=ef_backfill,
        ef_lookback_s=_duration(flat, "pi.ef.lookback"),
        ef_interval_s=_duration(flat, "pi.ef.interval", allow_zero=False),
        ef_page_size=_int(flat, "pi.ef.page_size", 1, 10000),
        ef_downtime_template=_text_or_default(flat, "pi.ef.downtime_template"),
        ef_batch_template=_text_or_default(flat, "pi.ef.batch_template"),
        ef_product_attribute=_text_or_default(flat, "pi.ef.product_attribute"),
    )


def _http(flat: Mapping[str, str]) -> dict[str, Any]:
    return dict(
        timeout_s=_duration(flat, "pi.http.timeout", allow_zero=False),
        max_retries=_int(flat, "pi.http.max_retries", 0, 100),
        backoff_s=_duration(flat, "pi.http.backoff"),
        log_level=_choice(flat, "pi.log_level", LOG_LEVELS) if _text(flat, "pi.log_level") else "",
    )


def _env_secret(name: str, var: str) -> str:
    """A secret a Spark Python worker reads from its own environment (``env:VAR``)."""
    if var not in os.environ:  # the driver's notebook had it, the cluster's processes do not
        raise ConfigError(
            f"{SECRET_OPTIONS[name]}: environment variable {var} is not set in this Spark "
            f"Python worker (set it in the cluster's environment, for every node)"
        )
    return os.environ[var]


def read_settings_file(path: str) -> dict[str, str]:
    """A YAML file of ``pi.*`` settings (flat or nested) as the string map a pipeline configuration is."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must be a mapping of pi.* settings")
    settings = setting_strings(data)
    stray = sorted(k for k in settings if not k.startswith(PREFIX))
    if stray:  # e.g. "url:" for "pi.url:": silently ignoring it would report a misleading missing pi.url
        raise ConfigError(
            f"{stray[0]}: unknown setting in {path} (every setting starts with pi., see docs/configuration.md)"
        )
    return settings


def setting_strings(raw: Mapping[str, Any]) -> dict[str, str]:
    """Flatten nested keys with dots and render values as pipeline configuration strings
    (booleans as ``true``/``false``, null as empty)."""

    def text(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, (list, tuple)):  # YAML lists, e.g. pi.tags: [A, B]
            return ",".join(text(x) for x in v)
        return str(v)

    return {k: text(v) for k, v in _flatten(raw).items()}


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
