"""Telling people: alerts when a night needs a person (``alerts``), the morning summary after a
good one (``morning``), both as email through ``journeyflow_smtp`` (``mail``) and alerts also to a
chat webhook (``webhook``). Never personal data: ids, counts, task names and commands."""
