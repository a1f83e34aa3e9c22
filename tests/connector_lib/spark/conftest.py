"""Shared by the tests of the Spark layer (the row builders the pipeline graph test also uses are in
tests/conftest.py)."""

from tests.conftest import at, value, window


def value_reads():
    """Four micro-batches of two tags: on-time values, a lookback re-read with an edit and a late value, a
    per-value error then its real value, a failed window that stops a watermark until it is read again."""
    return [
        [
            value("A", 1, 10.0, read_at=5),
            value("A", 4, 11.0, read_at=5),
            value("B", 2, 1.0, read_at=5),
            window("A", 0, 5, "ok", 5, 2),
            window("B", 0, 5, "ok", 5, 1),
        ],
        [
            value("A", 4, 11.5, read_at=65, prior=at(5)),  # edited in the lookback
            value("A", 3, 9.0, read_at=65, prior=at(5)),  # late: arrived after its time was read
            value("A", 62, 12.0, read_at=65, prior=at(5)),  # next hour
            value("B", 61, None, read_at=65, prior=at(5), vtype="error", good=False, errors="[busy]"),
            window("A", 0, 64, "ok", 65, 3),
            window("B", 0, 30, "failed", 65),
            window("B", 30, 64, "ok", 65, 1),
        ],
        [
            value("B", 61, 2.0, read_at=125, prior=at(5)),  # the real value after the error
            value("B", 20, 1.5, read_at=125, prior=at(5)),
            value("A", 62, 12.0, read_at=125, prior=at(64)),  # unchanged re-read
            value("A", 118, 13.0, read_at=125, prior=at(64)),
            window("B", 0, 124, "ok", 125, 3),
            window("A", 54, 124, "ok", 125, 2),
        ],
        [
            value("A", 118, None, read_at=185, prior=at(124), vtype="error", good=False, errors="[busy]"),
            window("A", 114, 184, "failed", 185),
        ],
    ]
