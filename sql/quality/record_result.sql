-- One check's verdict for D.
insert into journeyflow.validation_results
    (run_date, check_name, table_name, column_name, expectation, severity, verdict,
     element_count, unexpected_count, unexpected_percent, min_valid, observed_value,
     description)
values
    (:d, :check, :table, :column, :expectation, :severity, :verdict, :element_count,
     :unexpected_count, :unexpected_percent, :min_valid, :observed, :description)
