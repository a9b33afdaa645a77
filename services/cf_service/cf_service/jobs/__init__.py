"""Batch jobs that run outside the service: training on Spark (``python -m cf_service spark-train``)."""
