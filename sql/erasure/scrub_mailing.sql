-- A recorded mailing without the lines of a forgotten person.
update journeyflow.postal_exports
set csv = :csv, manifest = :manifest, rejects_file = :rejects_file, done = :done, rows = :rows,
    sha256 = :sha256
where run_date = :run_date and campaign = :campaign
