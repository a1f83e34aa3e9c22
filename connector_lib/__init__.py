"""osipi-lakeflow connector library: PI Web API client, paging, value normalisation, planning and the
``pi`` Spark data source. No pipeline code lives here."""

from importlib import metadata

try:  # the version is kept in pyproject.toml only
    __version__ = metadata.version("osipi-lakeflow")
except metadata.PackageNotFoundError:  # imported from a source tree that is not installed (Spark workers)
    __version__ = "0+unknown"
