-- A rerun of D replaces its decision counts.
delete from journeyflow.decision_counts where run_date = :d
