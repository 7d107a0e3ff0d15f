-- Postal mailings: one exported file per campaign and run date, and the rows address quality
-- held back (with the reason: a field, a postal code, a household duplicate; never the address).

-- One mailing per campaign and run date. run_id is fixed by the first build of the date so that
-- a rerun renders byte-identical files; delivered_at is the first successful delivery.
create table if not exists journeyflow.postal_exports (
    run_date      date not null,
    campaign      text not null,
    run_id        text not null,
    file_name     text not null,                -- <campaign>/<D>/mailing_<campaign>_<D>.csv
    rows          integer not null,
    sha256        text not null,                -- of the mailing CSV
    delivered_at  timestamptz,                  -- null: built, not (yet) delivered
    primary key (run_date, campaign)
);

-- Outbox rows the mailing left out, replaced by every export of the date.
create table if not exists journeyflow.postal_rejects (
    run_date    date not null,
    campaign    text not null,
    contact_id  text collate "C" not null,
    reason      text not null,
    primary key (run_date, campaign, contact_id)
);
