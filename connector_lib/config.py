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
from .timeutil import parse_duration, parse_time

PREFIX = "pi."
AUTH_TYPES = ("basic", "bearer", "kerberos", "anonymous")
KERBEROS_MUTUAL = ("required", "optional", "disabled")


class ConfigError(ValueError):
    """A wrong or missing setting; the message is one readable line naming the key."""


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    doc: str
    secret: bool = False


# Every key the connector reads, with its default and meaning (docs/configuration.md mirrors this).
SETTINGS: tuple[Setting, ...] = (
    Setting("pi.url", None, "PI Web API base URL, e.g. https://pi.example.com/piwebapi (required)"),
    Setting("pi.auth.type", "anonymous", "basic, bearer, kerberos or anonymous"),
    Setting(
        "pi.auth.username",
        "",
        "basic: the user; kerberos: the principal (user@REALM) to log in as with "
        "pi.auth.password or pi.auth.kerberos_keytab (empty: the ticket cache); env:VAR reads a variable",
    ),
    Setting("pi.auth.password", "", "basic or kerberos: the password; a Databricks secret reference or env:VAR", True),
    Setting("pi.auth.token", "", "bearer: a static access token; a Databricks secret reference or env:VAR", True),
    Setting("pi.auth.token_url", "", "bearer: the OAuth 2.0 token endpoint of the client-credentials flow"),
    Setting("pi.auth.client_id", "", "bearer: the OAuth 2.0 client id; env:VAR reads an environment variable"),
    Setting(
        "pi.auth.client_secret",
        "",
        "bearer: the OAuth 2.0 client secret; a Databricks secret reference or env:VAR",
        True,
    ),
    Setting("pi.auth.scope", "", "bearer: the scope requested with the client-credentials flow (optional)"),
    Setting(
        "pi.auth.kerberos_keytab",
        "",
        "kerberos: path of a keytab holding pi.auth.username's key (instead of a password)",
    ),
    Setting(
        "pi.auth.kerberos_config",
        "",
        "kerberos: path of the krb5.conf naming the realm and its KDCs (empty: KRB5_CONFIG or /etc/krb5.conf)",
    ),
    Setting(
        "pi.auth.kerberos_mutual",
        "required",
        "kerberos: mutual authentication of the server: required, "
        "optional or disabled (a proxy that drops the server's answer needs optional)",
    ),
    Setting(
        "pi.auth.kerberos_hostname",
        "",
        "kerberos: the host of the server's service principal HTTP/host "
        "when it differs from pi.url's host (a DNS alias or load balancer; empty: pi.url's host)",
    ),
    Setting("pi.tls.verify", "true", "verify the server certificate (true or false)"),
    Setting("pi.tls.ca_bundle", "", "path of a CA bundle for a private PKI"),
    Setting("pi.data_server", "", "PI Data Archive name; default: the first data server"),
    Setting("pi.tags", "", "comma-separated tag names to ingest; overrides pi.tag_filter"),
    Setting("pi.tag_filter", "*", "PI name filter (wildcards * and ?) used when pi.tags is empty"),
    Setting("pi.max_tags", "0", "ingest at most this many discovered tags (0 = all)"),
    Setting(
        "pi.shard.count",
        "1",
        "pipelines the tags are shared out to (tag shards; docs/deploy.md): each "
        "reads the tags whose PI point ID modulo this count is its pi.shard.index",
    ),
    Setting(
        "pi.shard.index",
        "0",
        "this pipeline's shard, 0 to pi.shard.count - 1; only shard 0 may read the "
        "Asset Framework and event frames (pi.af.databases)",
    ),
    Setting("pi.backfill_start", "*-2h", "where new tags start: *-2h style or ISO 8601 UTC"),
    Setting("pi.lookback", "10m", "re-read this much before each tag's watermark at every update (late data)"),
    Setting(
        "pi.reread_table",
        "pi_reread_requests",
        "control table of re-read requests (tags and time ranges "
        "read again at the next update; docs/state.md); read if it exists",
    ),
    Setting("pi.settle_lag", "30s", "do not read values newer than now minus this lag"),
    Setting("pi.max_window", "1d", "longest time range read for one tag in one micro-batch (backfill chunks)"),
    Setting("pi.tags_per_request", "100", "sub-requests (tags) per batch-controller call"),
    Setting("pi.page_size", "10000", "maxCount per sub-request; pages continue until a window is complete"),
    Setting("pi.max_items_per_call", "150000", "the server's MaxReturnedItemsPerCall"),
    Setting(
        "pi.values_per_call",
        "20000",
        "values one batch call may return: each sub-request's maxCount is "
        "this shared over the call's tags, so an executor's memory does not grow with the window",
    ),
    Setting(
        "pi.max_requests_per_second",
        "0",
        "limit on PI Web API calls per second to the PI server (0 = none); "
        "with tag shards, shared evenly by the pi.shard.count pipelines",
    ),
    Setting("pi.max_concurrent_requests", "4", "batch calls in flight at once inside one Spark task"),
    Setting("pi.partitions", "0", "Spark partitions per micro-batch (0 = one per tag batch, at most 64)"),
    Setting("pi.af.databases", "", "AF databases whose hierarchy is ingested, comma-separated names (empty: no AF)"),
    Setting("pi.af.server", "", "AF (asset) server name; default: the first asset server"),
    Setting(
        "pi.af.root",
        "",
        "element path inside each database to start at, e.g. Sydney\\Unit 001 (empty: the whole database)",
    ),
    Setting(
        "pi.af.element_templates",
        "",
        "ingest only elements of these templates, comma-separated (derived templates included; empty: all)",
    ),
    Setting("pi.af.page_size", "1000", "maxCount of each AF search page (elements, attributes)"),
    Setting("pi.af.refresh", "1h", "take a new AF snapshot at an update when the last one is at least this old"),
    Setting("pi.ef.enabled", "true", "read the event frames of the pi.af.databases (true or false)"),
    Setting("pi.ef.templates", "", "read only event frames of these templates, comma-separated (empty: all)"),
    Setting(
        "pi.ef.backfill_start",
        "",
        "where the first event frame read starts: *-7d style or ISO 8601 UTC (empty: pi.backfill_start)",
    ),
    Setting(
        "pi.ef.lookback",
        "4h",
        "each update reads the frames active since the previous read's end minus "
        "this: frames closed, acknowledged or edited within it are read again",
    ),
    Setting("pi.ef.page_size", "1000", "maxCount of each event frame search page"),
    Setting("pi.ef.downtime_template", "Downtime", "event frame template whose frames are downtime (gold KPIs)"),
    Setting("pi.ef.batch_template", "Batch", "event frame template whose frames are batches (gold KPIs)"),
    Setting("pi.ef.product_attribute", "Product", "batch frame attribute that names the product (gold KPIs)"),
    Setting("pi.http.timeout", "60s", "per-request timeout"),
    Setting("pi.http.max_retries", "5", "retries on 429, 5xx and connection errors"),
    Setting("pi.http.backoff", "0.5s", "first retry delay; doubles on each retry"),
    Setting(
        "pi.log_level",
        "",
        "log level of the connector (and its HTTP and Kerberos libraries) in every Spark "
        "Python process: debug, info, warning or error (empty: leave logging as the process has it)",
    ),
    Setting(
        "pi.keep_value_errors",
        "false",
        "values the server still answers with Errors after the retries: "
        "false fails the window (its watermark holds; the next update reads it again), true keeps them as "
        "error rows and moves on",
    ),
)
KNOWN_KEYS = {s.key for s in SETTINGS}
SECRET_KEYS = {s.key for s in SETTINGS if s.secret}
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
    value = raw.get(key)
    if value is None:
        value = next(s.default for s in SETTINGS if s.key == key)
    return "" if value is None else str(value).strip()


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
    url: str
    auth_type: str = "anonymous"
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    token_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    scope: str = ""
    #: secret fields given as ``env:VAR``: (field, VAR) pairs. They travel to executors as the reference,
    #: which each process resolves in its own environment, so the value never enters a plan or a log
    env_secrets: tuple[tuple[str, str], ...] = ()
    kerberos_keytab: str = ""
    kerberos_config: str = ""
    kerberos_mutual: str = "required"
    kerberos_hostname: str = ""
    verify_tls: bool = True
    ca_bundle: str = ""
    data_server: str = ""
    tags: tuple[str, ...] = ()
    tag_filter: str = "*"
    max_tags: int = 0
    shard_count: int = 1
    shard_index: int = 0
    backfill_start: str = "*-2h"
    lookback_s: float = 600.0
    settle_lag_s: float = 30.0
    reread_table: str = "pi_reread_requests"
    max_window_s: float = 86400.0
    tags_per_request: int = 100
    page_size: int = 10000
    max_items_per_call: int = 150000
    values_per_call: int = 20000
    max_requests_per_second: float = 0.0
    max_concurrent_requests: int = 4
    partitions: int = 0
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 0.5
    keep_value_errors: bool = False
    log_level: str = ""
    af_databases: tuple[str, ...] = ()
    af_server: str = ""
    af_root: str = ""
    af_element_templates: tuple[str, ...] = ()
    af_page_size: int = 1000
    af_refresh_s: float = 3600.0
    ef_enabled: bool = True
    ef_templates: tuple[str, ...] = ()
    ef_backfill_start: str = "*-2h"
    ef_lookback_s: float = 4 * 3600.0
    ef_page_size: int = 1000
    ef_downtime_template: str = "Downtime"
    ef_batch_template: str = "Batch"
    ef_product_attribute: str = "Product"

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
        errors when ``strict`` (typos must not silently fall back to defaults)."""
        flat = setting_strings(raw)
        if strict:
            unknown = sorted(k for k in flat if k.startswith(PREFIX) and k not in KNOWN_KEYS)
            if unknown:
                close = difflib.get_close_matches(unknown[0], sorted(KNOWN_KEYS), n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise ConfigError(f"{unknown[0]}: unknown setting ({hint}known: see docs/configuration.md)")
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
        ca_bundle = _text(flat, "pi.tls.ca_bundle")
        if ca_bundle and not os.path.isfile(ca_bundle):
            raise ConfigError(f"pi.tls.ca_bundle: file not found: {ca_bundle}")
        now = dt.datetime.now(dt.UTC)
        backfill = _past_time("pi.backfill_start", _text(flat, "pi.backfill_start"), now)
        max_items = _int(flat, "pi.max_items_per_call", 1)
        page_size = _int(flat, "pi.page_size", 1)
        if page_size > max_items:
            raise ConfigError(f"pi.page_size: must be <= pi.max_items_per_call ({max_items}), got {page_size}")
        values_per_call = _int(flat, "pi.values_per_call", 1)
        if "pi.values_per_call" not in flat:
            values_per_call = min(values_per_call, max_items)
        elif values_per_call > max_items:
            raise ConfigError(
                f"pi.values_per_call: must be <= pi.max_items_per_call ({max_items}), got {values_per_call}"
            )
        tags = _names(flat, "pi.tags")
        af_databases = _names(flat, "pi.af.databases")
        af_root = _text(flat, "pi.af.root").strip("\\")
        if af_root and not af_databases:
            raise ConfigError("pi.af.root: needs pi.af.databases (the databases the root is looked up in)")
        if any(c in af_root for c in "*?|"):
            raise ConfigError(f"pi.af.root: an element path without wildcards or '|', got {af_root!r}")
        tag_filter = _text(flat, "pi.tag_filter") or "*"
        shard_count = _int(flat, "pi.shard.count", 1, 4096)
        shard_index = _int(flat, "pi.shard.index", 0)
        if shard_index >= shard_count:
            raise ConfigError(f"pi.shard.index: must be below pi.shard.count ({shard_count}), got {shard_index}")
        if af_databases and shard_index:
            raise ConfigError(
                "pi.af.databases: set it on shard 0 only (this is pi.shard.index "
                f"{shard_index}): the Asset Framework and event frames are not shared out by tag"
            )
        ef_backfill = _past_time("pi.ef.backfill_start", _text(flat, "pi.ef.backfill_start") or backfill, now)
        ef_templates = _names(flat, "pi.ef.templates")
        if ef_templates and not af_databases:
            raise ConfigError("pi.ef.templates: needs pi.af.databases (event frames are read from AF databases)")
        return cls(
            url=url.rstrip("/"),
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
            verify_tls=_bool(flat, "pi.tls.verify"),
            ca_bundle=ca_bundle,
            data_server=_text(flat, "pi.data_server"),
            tags=tags,
            tag_filter=tag_filter,
            max_tags=_int(flat, "pi.max_tags", 0),
            shard_count=shard_count,
            shard_index=shard_index,
            backfill_start=backfill,
            lookback_s=_duration(flat, "pi.lookback"),
            settle_lag_s=_duration(flat, "pi.settle_lag"),
            reread_table=_table_name(flat, "pi.reread_table"),
            max_window_s=_duration(flat, "pi.max_window", allow_zero=False),
            tags_per_request=_int(flat, "pi.tags_per_request", 1, 10000),
            page_size=page_size,
            max_items_per_call=max_items,
            values_per_call=values_per_call,
            max_requests_per_second=_rate(flat, "pi.max_requests_per_second"),
            max_concurrent_requests=_int(flat, "pi.max_concurrent_requests", 1, 64),
            partitions=_int(flat, "pi.partitions", 0, 4096),
            timeout_s=_duration(flat, "pi.http.timeout", allow_zero=False),
            max_retries=_int(flat, "pi.http.max_retries", 0, 100),
            backoff_s=_duration(flat, "pi.http.backoff"),
            keep_value_errors=_bool(flat, "pi.keep_value_errors"),
            log_level=_choice(flat, "pi.log_level", LOG_LEVELS) if _text(flat, "pi.log_level") else "",
            af_databases=af_databases,
            af_server=_text(flat, "pi.af.server"),
            af_root=af_root,
            af_element_templates=_names(flat, "pi.af.element_templates"),
            af_page_size=_int(flat, "pi.af.page_size", 1, 10000),
            af_refresh_s=_duration(flat, "pi.af.refresh"),
            ef_enabled=_bool(flat, "pi.ef.enabled"),
            ef_templates=ef_templates,
            ef_backfill_start=ef_backfill,
            ef_lookback_s=_duration(flat, "pi.ef.lookback"),
            ef_page_size=_int(flat, "pi.ef.page_size", 1, 10000),
            ef_downtime_template=_text(flat, "pi.ef.downtime_template") or "Downtime",
            ef_batch_template=_text(flat, "pi.ef.batch_template") or "Batch",
            ef_product_attribute=_text(flat, "pi.ef.product_attribute") or "Product",
        )

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
        data = json.loads(options["config"])
        for name in ("tags", "af_databases", "af_element_templates", "ef_templates"):  # JSON has lists
            data[name] = tuple(data.get(name) or ())
        data["env_secrets"] = tuple(tuple(pair) for pair in data.get("env_secrets") or ())
        secrets = {name: options.get(option, "") for name, option in SECRET_OPTIONS.items()}
        for name, var in data["env_secrets"]:
            secrets[name] = _env_secret(name, var)
        return cls(**data, **secrets)  # type: ignore[arg-type]


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
