-- The run ledger as published tables (pipelines/ledger.py): views over small Parquet files that
-- checks and runs write beside the lake, so a check that finishes after the publish step is
-- still in the published file. {{check_results_files}} and {{run_event_files}} are the ledger's
-- folders, chosen by code.
CREATE OR REPLACE VIEW marts.check_results AS
SELECT run_id, checked_at, asset, check_name, severity, passed, expectation, failing_rows, examples, query, finding
FROM read_parquet({{check_results_files}}, union_by_name = true);

CREATE OR REPLACE VIEW marts.runs AS
WITH events AS (
    SELECT * FROM read_parquet({{run_event_files}}, union_by_name = true)
),
runs AS (
    SELECT run_id,
        max(job) AS job,
        min(started_at) AS started_at,
        max("at") FILTER (WHERE event = 'published') AS published_at,
        max("at") FILTER (WHERE event = 'finished') AS finished_at,
        min(first_day) AS first_day,
        max(last_day) AS last_day,
        arg_max(exit_code, "at") FILTER (WHERE event = 'finished') AS exit_code_given,
        arg_max(failure, "at") FILTER (WHERE failure IS NOT NULL) AS failure,
        arg_max(note, "at") FILTER (WHERE note IS NOT NULL) AS note
    FROM events
    GROUP BY run_id
),
checks AS (
    SELECT run_id, count(*) AS checks, count(*) FILTER (WHERE NOT passed) AS failed_checks
    FROM marts.check_results
    GROUP BY run_id
)
SELECT r.run_id, r.job, r.started_at, r.finished_at, r.first_day, r.last_day, r.published_at,
    coalesce(c.checks, 0) AS checks, coalesce(c.failed_checks, 0) AS failed_checks, r.failure, r.note,
    -- as `invoice-true run` says it (0 published and clean, 2 published with findings, 1 nothing
    -- published); for a run launched from Dagster, from what its steps recorded so far
    coalesce(r.exit_code_given, CASE
        WHEN r.published_at IS NULL THEN (CASE WHEN r.failure IS NOT NULL THEN 1 END)
        WHEN r.failure IS NOT NULL OR c.failed_checks > 0 THEN 2
        ELSE 0 END) AS exit_code
FROM runs AS r
LEFT JOIN checks AS c USING (run_id);

COMMENT ON VIEW marts.check_results IS 'One row per check and run: what the check expected, whether it passed, how many rows failed it, up to three examples, and a query that lists the failing rows from this file. Each check writes its row when it has run (beside the lake, under _ledger/check_results).';
COMMENT ON COLUMN marts.check_results.run_id IS 'The Dagster run that ran the check.';
COMMENT ON COLUMN marts.check_results.checked_at IS 'When the check''s result was recorded (UTC).';
COMMENT ON COLUMN marts.check_results.asset IS 'The checked table, e.g. raw.billing_snapshots.';
COMMENT ON COLUMN marts.check_results.check_name IS 'The check: contract, quarantine_share, dark_billing, conservation, band, reconciliation, ...';
COMMENT ON COLUMN marts.check_results.severity IS 'ERROR or WARN: how serious a failure of this check is (a WARN contract row failed only warnings).';
COMMENT ON COLUMN marts.check_results.passed IS 'True when the check passed.';
COMMENT ON COLUMN marts.check_results.expectation IS 'What the check expects, in words; for a failed contract, the expectations it broke.';
COMMENT ON COLUMN marts.check_results.failing_rows IS 'How many rows query lists: the rows behind the finding (for quarantine_share, the quarantined rows of the days in scope, which fail only above the bound).';
COMMENT ON COLUMN marts.check_results.examples IS 'Up to three of those rows as JSON text: [{"key": {...}, "values": {...}}], instants in UTC, decimals as text.';
COMMENT ON COLUMN marts.check_results.query IS 'SQL that lists the failing rows from this published file, ready to run as written.';
COMMENT ON COLUMN marts.check_results.finding IS 'The line(s) invoice-true run printed for the failure: the count, where, and where to look; null when passed.';

COMMENT ON VIEW marts.runs IS 'One row per Dagster run that published this file, failed, or was run by invoice-true run: when, which days, and how it ended.';
COMMENT ON COLUMN marts.runs.run_id IS 'The Dagster run id (as in the Dagster UI and marts.check_results).';
COMMENT ON COLUMN marts.runs.job IS 'invoice_true_daily (days) or invoice_reconciliation_monthly (a billing period).';
COMMENT ON COLUMN marts.runs.started_at IS 'When the run started (UTC).';
COMMENT ON COLUMN marts.runs.finished_at IS 'When invoice-true run saw it end; null for a run launched from Dagster (its last step is not known).';
COMMENT ON COLUMN marts.runs.first_day IS 'First UTC day of the run (first day of the billing period for a reconciliation).';
COMMENT ON COLUMN marts.runs.last_day IS 'Last UTC day of the run, inclusive.';
COMMENT ON COLUMN marts.runs.published_at IS 'When the run replaced the published file; null when it published nothing.';
COMMENT ON COLUMN marts.runs.checks IS 'Check results the run recorded in marts.check_results.';
COMMENT ON COLUMN marts.runs.failed_checks IS 'Of those, how many failed.';
COMMENT ON COLUMN marts.runs.failure IS 'The first failure: the step and day, and why, in one line; null when no step failed.';
COMMENT ON COLUMN marts.runs.note IS 'What invoice-true run said beside the checks, e.g. that no invoice was issued for a month yet (its reconciliation then fails every resource, and the run still exits 0).';
COMMENT ON COLUMN marts.runs.exit_code IS '0 published and every check passed, 2 published with failed checks (or a step after the publish failed), 1 nothing published: as invoice-true run exits. For a run launched from Dagster, judged from what it recorded so far.';
