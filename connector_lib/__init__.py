"""osipi-lakeflow connector library: PI Web API client, paging, value normalisation, planning and the
``pi`` Spark data source. No pipeline code lives here."""

__version__ = "0.1.0"
