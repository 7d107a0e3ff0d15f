-- The kept behaviour is of no run any more (a first bulk load of events went in without the
-- triggers noting its contacts): the next score step recomputes everyone.
delete from journeyflow.behaviour_state
