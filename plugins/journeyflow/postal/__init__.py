"""Postal mailings: vendor profiles, address quality, the mailing file set and its delivery.

``export.export_mailing(run_date, campaign, run_id)`` is the entry point for the DAG.
"""
