-- A built mailing is recorded with its files' bytes before it is delivered.
insert into journeyflow.postal_exports
    (run_date, campaign, run_id, file_name, rows, sha256, csv, manifest, rejects_file, done,
     pieces, households)
values
    (:run_date, :campaign, :run_id, :file_name, :rows, :sha256, :csv, :manifest,
     :rejects_file, :done, :pieces, :households)
