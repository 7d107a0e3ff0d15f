"""Local mode only: the embedded PostgreSQL, the demo shop and the local Airflow launcher.

Production code paths never import this package; ``make demo``, ``make up`` and the tests do.
"""
