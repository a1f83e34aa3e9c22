"""Bronze: the raw extraction log of the PI Web API, append-only, with its completion records and
quarantine as streaming tables (each update appends what it read; the watermarks are kept by silver's
micro-batch merge)."""

import connector_lib.runtime  # noqa: F401 - first: an older runtime stops here, in one line

# isort: split
from pyspark import pipelines as dp

from connector_lib.spark import transforms
from connector_lib.spark.af_source import af_snapshots_stream
from connector_lib.spark.ef_source import event_frames_stream
from connector_lib.spark.pipeline import bronze_layout, bronze_start, pipeline_session, recorded_values_stream
from connector_lib.spark.verify_source import gold_verification_stream

spark = pipeline_session(globals())
start = bronze_start(spark)  # the configuration, and the state each source starts from, as of pipeline start


@dp.table(
    name="pi_recorded_bronze",
    comment="Recorded values as read from the PI Web API, one completion record per tag window; "
    "may hold re-read duplicates",
    **bronze_layout(spark),
)
def pi_recorded_bronze():
    return recorded_values_stream(spark, start.values)


@dp.table(name="pi_extraction_log", comment="Every tag window read, with its status, error and re-read request")
def pi_extraction_log():
    return transforms.extraction_log(spark.readStream.table("pi_recorded_bronze"))


@dp.table(name="pi_quarantine", comment="Payloads that could not be parsed, with their context")
def pi_quarantine():
    return transforms.quarantine(spark.readStream.table("pi_recorded_bronze"))


if start.af is not None:  # the Asset Framework, when databases are configured
    af_options = start.af

    @dp.table(
        name="pi_af_bronze",
        comment="AF snapshots as read: elements, attributes (PI Point references resolved), static values, "
        "one snapshot record per database",
    )
    def pi_af_bronze():
        return af_snapshots_stream(spark, af_options)


if start.ef is not None:  # event frames of the AF databases, read at every update
    ef_options = start.ef

    @dp.table(
        name="pi_event_frames_bronze",
        comment="Event frames as read: every read of a frame (open ones again until they close), "
        "one read record per database and update, quarantined frames",
    )
    def pi_event_frames_bronze():
        return event_frames_stream(spark, ef_options)


if start.verify is not None:  # gold checked against the PI server's own summary (pi.verify.tag_hours)
    verify_options = start.verify

    @dp.table(
        name="pi_gold_verification",
        comment="Finished gold tag-hours compared with the PI server's own summary: both numbers and whether "
        "they match",
    )
    def pi_gold_verification():
        return gold_verification_stream(spark, verify_options)
