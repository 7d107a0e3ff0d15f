"""The data quality gate: suites for the staged batch, run by Great Expectations in SQL."""
