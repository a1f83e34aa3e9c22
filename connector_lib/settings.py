"""Every setting the connector reads: its key, its default and what it means, in one place.

:class:`connector_lib.config.PIConfig` takes its defaults from here, and the table of
docs/configuration.md is generated from here (``make docs``; a test checks the two agree). A new setting is
one entry below, one field of ``PIConfig`` and one line of the section of ``PIConfig.from_mapping`` that
reads it (CONTRIBUTING.md).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "pi."


@dataclass(frozen=True)
class Setting:
    key: str
    default: str | None  # as written in a configuration; None: required
    doc: str  # Markdown, one paragraph: the meaning column of the documentation's table
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "pi.url",
        None,
        "PI Web API base URL, e.g. https://pi.example.com/piwebapi (required)",
    ),
    Setting(
        "pi.auth.type",
        "anonymous",
        "`basic`, `bearer`, `kerberos` or `anonymous`",
    ),
    Setting(
        "pi.auth.username",
        "",
        "basic: the user; kerberos: the principal (`user@REALM`) to log in as with `pi.auth.password` or "
        "`pi.auth.kerberos_keytab` (empty: the process's ticket cache, `kinit`); `env:VAR` reads an "
        "environment variable",
    ),
    Setting(
        "pi.auth.password",
        "",
        "basic or kerberos: the password (secret; a Databricks secret reference or `env:VAR`)",
        secret=True,
    ),
    Setting(
        "pi.auth.token",
        "",
        "bearer: a static access token (secret; a Databricks secret reference or `env:VAR`); or use the "
        "client-credentials flow below",
        secret=True,
    ),
    Setting(
        "pi.auth.token_url",
        "",
        "bearer: the OAuth 2.0 token endpoint; the connector asks it for a token with the client-credentials "
        "grant (client authenticated with HTTP Basic), renews it a tenth of its lifetime (at most 60 s) "
        "before it expires, and on a 401 gets one new token and retries once",
    ),
    Setting(
        "pi.auth.client_id",
        "",
        "bearer: the OAuth 2.0 client id (`env:VAR` reads an environment variable)",
    ),
    Setting(
        "pi.auth.client_secret",
        "",
        "bearer: the OAuth 2.0 client secret (secret; a Databricks secret reference or `env:VAR`)",
        secret=True,
    ),
    Setting(
        "pi.auth.scope",
        "",
        "bearer: the scope sent with the token request, if your identity provider needs one",
    ),
    Setting(
        "pi.auth.kerberos_keytab",
        "",
        "kerberos: path of a keytab holding `pi.auth.username`'s key, instead of a password (readable on every node)",
    ),
    Setting(
        "pi.auth.kerberos_config",
        "",
        "kerberos: path of the `krb5.conf` naming the realm and its KDCs (empty: `KRB5_CONFIG` or "
        "`/etc/krb5.conf`); each process points its Kerberos library at it",
    ),
    Setting(
        "pi.auth.kerberos_mutual",
        "required",
        "kerberos: mutual authentication, the server proving itself with its answer: `required`, `optional` "
        "(a proxy drops the server's token) or `disabled`",
    ),
    Setting(
        "pi.auth.kerberos_hostname",
        "",
        "kerberos: the host of the server's service principal `HTTP/host` when `pi.url` names it otherwise (a "
        "DNS alias, a load balancer; empty: `pi.url`'s host)",
    ),
    Setting(
        "pi.tls.verify",
        "true",
        "verify the server certificate (true or false)",
    ),
    Setting(
        "pi.tls.ca_bundle",
        "",
        "path of a CA bundle for a private PKI",
    ),
    Setting(
        "pi.data_server",
        "",
        "PI Data Archive name; default: the first data server",
    ),
    Setting(
        "pi.tags",
        "",
        "comma-separated tag names to ingest; overrides pi.tag_filter",
    ),
    Setting(
        "pi.tag_filter",
        "*",
        "PI name filter (wildcards * and ?) used when pi.tags is empty",
    ),
    Setting(
        "pi.max_tags",
        "0",
        "ingest at most this many discovered tags (0 = all)",
    ),
    Setting(
        "pi.discovery_interval",
        "15m",
        "inside one long-running (continuous) update, look for new and removed tags this often; a triggered "
        "update looks once, when it starts",
    ),
    Setting(
        "pi.shard.count",
        "1",
        "pipelines the tags are shared out to (tag shards; docs/deploy.md): each reads the tags whose PI "
        "point ID modulo this count is its pi.shard.index",
    ),
    Setting(
        "pi.shard.index",
        "0",
        "this pipeline's shard, 0 to pi.shard.count - 1; only shard 0 may read the Asset Framework and event "
        "frames (pi.af.databases)",
    ),
    Setting(
        "pi.backfill_start",
        "*-2h",
        "where new tags start: *-2h style or ISO 8601 UTC",
    ),
    Setting(
        "pi.lookback",
        "10m",
        "re-read this much before each tag's watermark at every update (late data)",
    ),
    Setting(
        "pi.reread_table",
        "pi_reread_requests",
        "control table of re-read requests: chosen tags and time ranges read again at the next update, "
        "without a full refresh ([state.md](state.md#re-reading-chosen-tags-and-time-ranges)); read only if "
        "it exists",
    ),
    Setting(
        "pi.settle_lag",
        "30s",
        "do not read values newer than now minus this lag",
    ),
    Setting(
        "pi.read_mode",
        "recorded",
        "`recorded`: every micro-batch reads each tag's new window with `recorded`; `updates`: tags that "
        "caught up follow PI Web API Stream Updates (registered in batches, one marker per tag kept with "
        "the watermarks, many markers retrieved per call), and any loss of continuity falls back to a "
        "`recorded` read from the tag's watermark ([state.md](state.md#stream-updates)); `auto`: `updates` "
        "where the server offers it, `recorded` where it does not",
    ),
    Setting(
        "pi.updates.markers_per_request",
        "100",
        "Stream Updates: tags registered, or markers retrieved, per `streamsets/updates` sub-request of a "
        "batch-controller call (the markers travel in the URL)",
    ),
    Setting(
        "pi.max_window",
        "1d",
        "longest time range read for one tag in one micro-batch (backfill chunks)",
    ),
    Setting(
        "pi.tags_per_request",
        "100",
        "sub-requests (tags) per batch-controller call",
    ),
    Setting(
        "pi.page_size",
        "10000",
        "maxCount per sub-request; pages continue until a window is complete",
    ),
    Setting(
        "pi.max_items_per_call",
        "150000",
        "the server's MaxReturnedItemsPerCall",
    ),
    Setting(
        "pi.values_per_call",
        "20000",
        "values one batch call may return: each sub-request's maxCount is this shared over the call's tags, "
        "so an executor's memory does not grow with the window",
    ),
    Setting(
        "pi.max_requests_per_second",
        "0",
        "limit on PI Web API calls per second to the PI server (0 = none); with tag shards, shared evenly by "
        "the pi.shard.count pipelines",
    ),
    Setting(
        "pi.max_concurrent_requests",
        "4",
        "batch calls in flight at once inside one Spark task",
    ),
    Setting(
        "pi.partitions",
        "0",
        "Spark partitions per micro-batch (0 = one per tag batch, at most 64)",
    ),
    Setting(
        "pi.af.databases",
        "",
        "Asset Framework databases whose hierarchy (elements, attributes, tag mapping) is ingested, "
        "comma-separated names; empty: no AF",
    ),
    Setting(
        "pi.af.server",
        "",
        "AF (asset) server name; default: the first asset server the PI Web API lists",
    ),
    Setting(
        "pi.af.root",
        "",
        "element path inside each database to start at, e.g. `Sydney\\Unit 001`; empty: the whole database",
    ),
    Setting(
        "pi.af.element_templates",
        "",
        "ingest only elements of these templates, comma-separated (derived templates included); empty: all",
    ),
    Setting(
        "pi.af.page_size",
        "1000",
        "`maxCount` of each AF search page (elements, attributes); pages continue until a short one",
    ),
    Setting(
        "pi.af.refresh",
        "1h",
        "take a new AF snapshot at an update when the last complete one is at least this old (`0s`: at every "
        "update); inside one long-running (continuous) update, a new snapshot this long after the last",
    ),
    Setting(
        "pi.ef.enabled",
        "true",
        "read the event frames of the `pi.af.databases` at every update (`pi_event_frames_bronze` and the "
        "tables after it); `false`: AF only",
    ),
    Setting(
        "pi.ef.templates",
        "",
        "read only event frames of these templates, comma-separated (one search per template); empty: all. "
        "Needs `pi.af.databases`",
    ),
    Setting(
        "pi.ef.backfill_start",
        "",
        "where the first event frame read starts (`*-7d` or ISO 8601 UTC; frames active since then); empty: "
        "`pi.backfill_start`",
    ),
    Setting(
        "pi.ef.interval",
        "1m",
        "inside one long-running (continuous) update, search the event frames again this often; a triggered "
        "update searches once",
    ),
    Setting(
        "pi.ef.lookback",
        "4h",
        "each update reads the frames active since the previous ok read's end minus this: open frames are "
        "read again until they close (they overlap every range), and frames closed, acknowledged or edited (a "
        "downtime reason entered later) within it are read again with their new state. Changes made to a "
        "frame more than this after its close are not seen; it must also exceed the clock difference between "
        "the Spark driver and the PI Web API server",
    ),
    Setting(
        "pi.ef.page_size",
        "1000",
        "`maxCount` of each event frame search page",
    ),
    Setting(
        "pi.ef.downtime_template",
        "Downtime",
        "event frame template whose closed frames are downtime (`pi_downtime_daily_gold`)",
    ),
    Setting(
        "pi.ef.batch_template",
        "Batch",
        "event frame template whose closed frames are batches (`pi_batches_daily_gold`)",
    ),
    Setting(
        "pi.ef.product_attribute",
        "Product",
        "attribute of a batch frame that names its product (`pi_batches_daily_gold`)",
    ),
    Setting(
        "pi.http.timeout",
        "60s",
        "per-request timeout",
    ),
    Setting(
        "pi.http.max_retries",
        "5",
        "retries on 429, 5xx and connection errors",
    ),
    Setting(
        "pi.http.backoff",
        "0.5s",
        "first retry delay; doubles on each retry",
    ),
    Setting(
        "pi.log_level",
        "",
        "log level of the connector and of its HTTP and Kerberos libraries in every Spark Python process (the "
        "workers that plan and read): `debug` (each request by method and URL, query included), `info`, "
        "`warning` or `error`; empty leaves logging as the process has it (Spark's workers then drop the "
        "connector's messages), except on the driver at pipeline start, which logs at `info` what state it "
        "found (watermarks of how many tags, re-read requests). No level logs a secret",
    ),
    Setting(
        "pi.keep_value_errors",
        "false",
        "values the server still answers with per-value `Errors` after `pi.http.max_retries` re-reads: "
        "`false` fails the window (its watermark holds and the next update reads it again; the error is in "
        "`pi_extraction_log` and `pi_watermarks.last_error`), `true` keeps them as `error` rows in bronze and "
        "silver and moves on",
    ),
    Setting(
        "pi.verify.tag_hours",
        "0",
        "how many finished tag-hours of `pi_hourly_gold` each update compares with the PI server's own "
        "`summary` (TimeWeighted average and percent good), chosen at random from the last two days, into "
        "`pi_gold_verification` (one row each: both numbers, `matched`); `0` compares none. Each costs one "
        "small request (docs/gold.md)",
    ),
)
KNOWN_KEYS = frozenset(s.key for s in SETTINGS)
SECRET_KEYS = frozenset(s.key for s in SETTINGS if s.secret)
DEFAULTS: dict[str, str | None] = {s.key: s.default for s in SETTINGS}

TABLE_START = "<!-- the settings table is generated from connector_lib/settings.py by `make docs` -->"
TABLE_END = "<!-- end of the generated settings table -->"


def markdown_table() -> str:
    """The documentation's table of settings, as Markdown."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        shown = {None: "(required)", "": "(empty)"}.get(s.default, f"`{s.default}`")
        lines.append(f"| `{s.key}` | {shown} | {s.doc} |")
    return "\n".join(lines)


def with_table(document: str) -> str:
    """``document`` with the text between the table's markers replaced by :func:`markdown_table`."""
    start, end = document.index(TABLE_START) + len(TABLE_START), document.index(TABLE_END)
    return document[:start] + "\n" + markdown_table() + "\n" + document[end:]
