-- ... and its transitions.
delete from journeyflow.phase_transitions where run_date = :d
