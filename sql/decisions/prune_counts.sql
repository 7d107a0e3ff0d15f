-- Decision counts go with the decisions they count (campaigns.keep_decisions_days).
delete from journeyflow.decision_counts where run_date < :oldest
