-- Keep the facts of the run: contact_facts holds one row per contact as of T.
insert into journeyflow.contact_facts select * from facts
