"""The Spark-facing part of the connector: the ``pi`` data source, pipeline helpers and transforms."""
