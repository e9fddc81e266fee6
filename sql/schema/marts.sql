-- The published tables (DESIGN.md "What it publishes"), each declared once: the `--` lines right
-- above a CREATE TABLE become its COMMENT, the `--` beside a column (and under it) the column's, so
-- SQL tools show what each holds (pipelines/sql_files.py declared_comments). Money is DECIMAL(38,9),
-- seconds DECIMAL(38,6).
CREATE SCHEMA IF NOT EXISTS marts;

-- One row per resource and UTC hour: invoice-true spend (differences of cumulative bills, split pro rata
-- by time) and where the time and money went. Every cent of snapshot spend, and every BilledCost of a
-- mapped FOCUS Usage row (rule 11), lands in exactly one row.
CREATE TABLE IF NOT EXISTS marts.resource_hourly (
    hour TIMESTAMPTZ NOT NULL,                  -- Start of the UTC hour.
    resource_id VARCHAR NOT NULL,               -- The provider's id of the instance or volume.
    tier VARCHAR NOT NULL,                      -- The operator's capacity tier, from billing snapshots (or, for cost
                                                -- rows, the resource map).
    gpu_type VARCHAR,                           -- GPU model, e.g. H100-SXM-80GB; null for a volume or a resource
                                                -- never sampled.
    price_model VARCHAR,                        -- spot, on_demand or reserved.
    running_s DECIMAL(38,6) NOT NULL,           -- Seconds billed as running or terminated in this hour (busy + idle +
                                                -- waking).
    busy_s DECIMAL(38,6) NOT NULL,              -- Seconds of running time inside at least one routed request, minus
                                                -- waking.
    idle_s DECIMAL(38,6) NOT NULL,              -- Running seconds neither busy nor waking.
    waking_s DECIMAL(38,6) NOT NULL,            -- Running seconds between wake_requested and engine_ready.
    parked_s DECIMAL(38,6) NOT NULL,            -- Seconds billed as hibernated or stopped (storage cents, not GPU
                                                -- dollars).
    spend DECIMAL(38,9) NOT NULL,               -- Billed spend in this hour, USD (billing currency), from differences
                                                -- of cumulative bills or from FOCUS cost rows (rule 11), split by
                                                -- time.
    spend_serving DECIMAL(38,9) NOT NULL,       -- Part of spend over busy seconds.
    spend_idle DECIMAL(38,9) NOT NULL,          -- Part of spend over idle seconds.
    spend_waking DECIMAL(38,9) NOT NULL,        -- Part of spend over waking seconds: GPU minutes paid for zero
                                                -- tokens.
    spend_parked DECIMAL(38,9) NOT NULL,        -- Part of spend over parked (hibernated or stopped) seconds.
    completion_tokens BIGINT NOT NULL,          -- Output tokens of requests routed to this resource that finished in
                                                -- this hour, errored streams included.
    prompt_tokens BIGINT NOT NULL,              -- Prompt tokens of the same requests.
    requests BIGINT NOT NULL,                   -- Requests routed to this resource that finished in this hour,
                                                -- deduplicated on request_id.
    idle_fraction DECIMAL(38,9),                -- idle_s / running_s; null where nothing ran.
    mean_concurrency DECIMAL(38,9),             -- Request-seconds inside busy time / busy_s; null where nothing was
                                                -- busy.
    billing_complete BOOLEAN NOT NULL,          -- False when a billing gap or dark stretch overlaps this hour: the
                                                -- money shown is what was observed, not a clean figure.
    spend_resolution_s BIGINT,                  -- Whole seconds (rounded up) of the longest billing interval or cost
                                                -- row overlapping this hour: about 60 for sampled billing, 3600 for
                                                -- hourly cost rows, 86400 for daily ones (a daily row spreads its
                                                -- money over its hours by seconds). Null when nothing covers the
                                                -- hour.
    PRIMARY KEY (hour, resource_id)
);

-- a warehouse created before rule 11 gains the column
ALTER TABLE marts.resource_hourly ADD COLUMN IF NOT EXISTS spend_resolution_s BIGINT;

-- Invoice-true cost per million output tokens per UTC day, tier and model; model '*' is the tier total,
-- '__unallocated__' the spend of resource-days that served no token.
CREATE TABLE IF NOT EXISTS marts.cost_per_mtok_daily (
    day DATE NOT NULL,                          -- UTC day.
    tier VARCHAR NOT NULL,                      -- Capacity tier.
    model VARCHAR NOT NULL,                     -- Served model; '*' for the whole tier; '__unallocated__' for spend
                                                -- on resource-days without tokens.
    spend DECIMAL(38,9) NOT NULL,               -- Spend allocated to this model by its completion-token share of each
                                                -- resource-day, USD.
    completion_tokens BIGINT NOT NULL,          -- Output tokens of requests that finished this day.
    prompt_tokens BIGINT NOT NULL,              -- Prompt tokens of requests that finished this day.
    requests BIGINT NOT NULL,                   -- Requests that finished this day, errors included.
    usd_per_mtok DECIMAL(38,9),                 -- spend / completion_tokens x 1e6, rounded to 9 decimals; null where
                                                -- there are no completion tokens.
    idle_fraction DECIMAL(38,9),                -- Pooled idle seconds / running seconds of the resource-days funding
                                                -- the row, weighted by token share; null where nothing ran.
    billing_complete BOOLEAN NOT NULL,          -- False when any funding resource-hour has a billing gap or dark
                                                -- stretch: never a clean figure.
    PRIMARY KEY (day, tier, model)
);

-- The one place the buckets are defined: the mart buckets by these bounds, the ready query and the
-- dashboard read their order and labels from here.

-- The idle-fraction buckets of the utilisation curve (marts.cost_by_idle_fraction), in order.
CREATE TABLE IF NOT EXISTS marts.idle_buckets (
    position INTEGER NOT NULL,                  -- Order of the bucket, from least idle (1).
    idle_bucket VARCHAR NOT NULL,               -- The bucket as the curve names it: [from, below).
    idle_from DECIMAL(3,2) NOT NULL,            -- Lowest idle fraction in the bucket (the first bucket takes
                                                -- everything below its upper bound).
    idle_below DECIMAL(3,2),                    -- Idle fractions below this are in the bucket; null for the last,
                                                -- which holds up to 1.
    label VARCHAR NOT NULL,                     -- The bucket in words, as the dashboard shows it.
    PRIMARY KEY (position)
);
DELETE FROM marts.idle_buckets;
INSERT INTO marts.idle_buckets VALUES
    (1, '[0,.1)',   0.00, 0.10, '0–10 %'),
    (2, '[.1,.25)', 0.10, 0.25, '10–25 %'),
    (3, '[.25,.5)', 0.25, 0.50, '25–50 %'),
    (4, '[.5,.75)', 0.50, 0.75, '50–75 %'),
    (5, '[.75,1]',  0.75, NULL, '75–100 %');

-- The utilisation curve: resource-hours with running time grouped by idle fraction, per tier.
CREATE TABLE IF NOT EXISTS marts.cost_by_idle_fraction (
    tier VARCHAR NOT NULL,                      -- Capacity tier.
    idle_bucket VARCHAR NOT NULL,               -- Idle-fraction bucket, as marts.idle_buckets defines it.
    resource_hours BIGINT NOT NULL,             -- Resource-hours in the bucket.
    spend DECIMAL(38,9) NOT NULL,               -- Their spend, USD.
    completion_tokens BIGINT NOT NULL,          -- Their completion tokens.
    usd_per_mtok DECIMAL(38,9),                 -- spend / completion_tokens x 1e6; null where no tokens.
    PRIMARY KEY (tier, idle_bucket)
);

-- Each day of the band's tiers against the published $0.30-$0.70 per million output tokens band; only
-- well-used, completely billed days with enough tokens are judged.
CREATE TABLE IF NOT EXISTS marts.band_check (
    day DATE NOT NULL,                          -- UTC day.
    tier VARCHAR NOT NULL,                      -- Capacity tier the band applies to.
    usd_per_mtok DECIMAL(38,9),                 -- The tier-day's realised cost per million output tokens.
    idle_fraction DECIMAL(38,9),                -- The tier-day's pooled idle fraction.
    completion_tokens BIGINT NOT NULL,          -- The tier-day's completion tokens.
    billing_complete BOOLEAN NOT NULL,          -- False when the tier-day's billing is incomplete.
    verdict VARCHAR NOT NULL,                   -- in_band, above_band, below_band (usually missing billing, not a
                                                -- miracle) or not_applicable (idle, incomplete or too few tokens).
    PRIMARY KEY (day, tier)
);

-- Billing that went dark: intervals between samples longer than max_sample_gap (money counted, hours
-- flagged), and open stretches after a watched resource's last sample.
CREATE TABLE IF NOT EXISTS marts.observability_gaps (
    resource_id VARCHAR NOT NULL,               -- The resource whose billing went dark.
    gap_start TIMESTAMPTZ NOT NULL,             -- Last sample before the gap.
    gap_end TIMESTAMPTZ,                        -- First sample after the gap; null while the stretch is still open.
    seconds DECIMAL(38,6),                      -- Full length of the gap; null while open.
    PRIMARY KEY (resource_id, gap_start)
);

-- Every reset of a cumulative bill: a new billing period, or a cumulative that fell.
CREATE TABLE IF NOT EXISTS marts.billing_resets (
    resource_id VARCHAR NOT NULL,               -- The resource.
    "at" TIMESTAMPTZ NOT NULL,
    previous_cumulative DECIMAL(38,9) NOT NULL,  -- Cumulative bill of the sample before.
    cumulative DECIMAL(38,9) NOT NULL,          -- Cumulative bill at the reset; the interval's spend.
    reason VARCHAR NOT NULL,                    -- new_period (billing_period_start changed) or fell (cumulative
                                                -- decreased).
    PRIMARY KEY (resource_id, "at")
);


COMMENT ON COLUMN marts.billing_resets."at" IS 'The sample that showed the reset.';
