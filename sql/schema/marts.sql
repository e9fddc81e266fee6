-- The published tables (DESIGN.md "What it publishes"). Every table and column carries
-- a COMMENT so SQL tools show what it holds. Money is DECIMAL(38,9), seconds DECIMAL(38,6).
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.resource_hourly (
    hour TIMESTAMPTZ NOT NULL, resource_id VARCHAR NOT NULL, tier VARCHAR NOT NULL,
    gpu_type VARCHAR, price_model VARCHAR,
    running_s DECIMAL(38,6) NOT NULL, busy_s DECIMAL(38,6) NOT NULL, idle_s DECIMAL(38,6) NOT NULL,
    waking_s DECIMAL(38,6) NOT NULL, parked_s DECIMAL(38,6) NOT NULL,
    spend DECIMAL(38,9) NOT NULL, spend_serving DECIMAL(38,9) NOT NULL, spend_idle DECIMAL(38,9) NOT NULL,
    spend_waking DECIMAL(38,9) NOT NULL, spend_parked DECIMAL(38,9) NOT NULL,
    completion_tokens BIGINT NOT NULL, prompt_tokens BIGINT NOT NULL, requests BIGINT NOT NULL,
    idle_fraction DECIMAL(38,9), mean_concurrency DECIMAL(38,9), billing_complete BOOLEAN NOT NULL,
    spend_resolution_s BIGINT,
    PRIMARY KEY (hour, resource_id)
);
-- a warehouse created before rule 11 gains the column
ALTER TABLE marts.resource_hourly ADD COLUMN IF NOT EXISTS spend_resolution_s BIGINT;
CREATE TABLE IF NOT EXISTS marts.cost_per_mtok_daily (
    day DATE NOT NULL, tier VARCHAR NOT NULL, model VARCHAR NOT NULL,
    spend DECIMAL(38,9) NOT NULL, completion_tokens BIGINT NOT NULL, prompt_tokens BIGINT NOT NULL,
    requests BIGINT NOT NULL, usd_per_mtok DECIMAL(38,9), idle_fraction DECIMAL(38,9),
    billing_complete BOOLEAN NOT NULL,
    PRIMARY KEY (day, tier, model)
);
CREATE TABLE IF NOT EXISTS marts.cost_by_idle_fraction (
    tier VARCHAR NOT NULL, idle_bucket VARCHAR NOT NULL, resource_hours BIGINT NOT NULL,
    spend DECIMAL(38,9) NOT NULL, completion_tokens BIGINT NOT NULL, usd_per_mtok DECIMAL(38,9),
    PRIMARY KEY (tier, idle_bucket)
);
CREATE TABLE IF NOT EXISTS marts.band_check (
    day DATE NOT NULL, tier VARCHAR NOT NULL, usd_per_mtok DECIMAL(38,9), idle_fraction DECIMAL(38,9),
    completion_tokens BIGINT NOT NULL, billing_complete BOOLEAN NOT NULL, verdict VARCHAR NOT NULL,
    PRIMARY KEY (day, tier)
);
CREATE TABLE IF NOT EXISTS marts.observability_gaps (
    resource_id VARCHAR NOT NULL, gap_start TIMESTAMPTZ NOT NULL, gap_end TIMESTAMPTZ, seconds DECIMAL(38,6),
    PRIMARY KEY (resource_id, gap_start)
);
CREATE TABLE IF NOT EXISTS marts.billing_resets (
    resource_id VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, previous_cumulative DECIMAL(38,9) NOT NULL,
    cumulative DECIMAL(38,9) NOT NULL, reason VARCHAR NOT NULL,
    PRIMARY KEY (resource_id, "at")
);

COMMENT ON TABLE marts.resource_hourly IS 'One row per resource and UTC hour: invoice-true spend (differences of cumulative bills, split pro rata by time) and where the time and money went. Every cent of snapshot spend, and every BilledCost of a mapped FOCUS Usage row (rule 11), lands in exactly one row.';
COMMENT ON COLUMN marts.resource_hourly.hour IS 'Start of the UTC hour.';
COMMENT ON COLUMN marts.resource_hourly.resource_id IS 'The provider''s id of the instance or volume.';
COMMENT ON COLUMN marts.resource_hourly.tier IS 'The operator''s capacity tier, from billing snapshots (or, for cost rows, the resource map).';
COMMENT ON COLUMN marts.resource_hourly.gpu_type IS 'GPU model, e.g. H100-SXM-80GB; null for a volume or a resource never sampled.';
COMMENT ON COLUMN marts.resource_hourly.price_model IS 'spot, on_demand or reserved.';
COMMENT ON COLUMN marts.resource_hourly.running_s IS 'Seconds billed as running or terminated in this hour (busy + idle + waking).';
COMMENT ON COLUMN marts.resource_hourly.busy_s IS 'Seconds of running time inside at least one routed request, minus waking.';
COMMENT ON COLUMN marts.resource_hourly.idle_s IS 'Running seconds neither busy nor waking.';
COMMENT ON COLUMN marts.resource_hourly.waking_s IS 'Running seconds between wake_requested and engine_ready.';
COMMENT ON COLUMN marts.resource_hourly.parked_s IS 'Seconds billed as hibernated or stopped (storage cents, not GPU dollars).';
COMMENT ON COLUMN marts.resource_hourly.spend IS 'Billed spend in this hour, USD (billing currency), from differences of cumulative bills or from FOCUS cost rows (rule 11), split by time.';
COMMENT ON COLUMN marts.resource_hourly.spend_serving IS 'Part of spend over busy seconds.';
COMMENT ON COLUMN marts.resource_hourly.spend_idle IS 'Part of spend over idle seconds.';
COMMENT ON COLUMN marts.resource_hourly.spend_waking IS 'Part of spend over waking seconds: GPU minutes paid for zero tokens.';
COMMENT ON COLUMN marts.resource_hourly.spend_parked IS 'Part of spend over parked (hibernated or stopped) seconds.';
COMMENT ON COLUMN marts.resource_hourly.completion_tokens IS 'Output tokens of requests routed to this resource that finished in this hour, errored streams included.';
COMMENT ON COLUMN marts.resource_hourly.prompt_tokens IS 'Prompt tokens of the same requests.';
COMMENT ON COLUMN marts.resource_hourly.requests IS 'Requests routed to this resource that finished in this hour, deduplicated on request_id.';
COMMENT ON COLUMN marts.resource_hourly.idle_fraction IS 'idle_s / running_s; null where nothing ran.';
COMMENT ON COLUMN marts.resource_hourly.mean_concurrency IS 'Request-seconds inside busy time / busy_s; null where nothing was busy.';
COMMENT ON COLUMN marts.resource_hourly.billing_complete IS 'False when a billing gap or dark stretch overlaps this hour: the money shown is what was observed, not a clean figure.';
COMMENT ON COLUMN marts.resource_hourly.spend_resolution_s IS 'Whole seconds (rounded up) of the longest billing interval or cost row overlapping this hour: about 60 for sampled billing, 3600 for hourly cost rows, 86400 for daily ones (a daily row spreads its money over its hours by seconds). Null when nothing covers the hour.';

COMMENT ON TABLE marts.cost_per_mtok_daily IS 'Invoice-true cost per million output tokens per UTC day, tier and model; model ''*'' is the tier total, ''__unallocated__'' the spend of resource-days that served no token.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.day IS 'UTC day.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.tier IS 'Capacity tier.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.model IS 'Served model; ''*'' for the whole tier; ''__unallocated__'' for spend on resource-days without tokens.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.spend IS 'Spend allocated to this model by its completion-token share of each resource-day, USD.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.completion_tokens IS 'Output tokens of requests that finished this day.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.prompt_tokens IS 'Prompt tokens of requests that finished this day.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.requests IS 'Requests that finished this day, errors included.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.usd_per_mtok IS 'spend / completion_tokens x 1e6, rounded to 9 decimals; null where there are no completion tokens.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.idle_fraction IS 'Pooled idle seconds / running seconds of the resource-days funding the row, weighted by token share; null where nothing ran.';
COMMENT ON COLUMN marts.cost_per_mtok_daily.billing_complete IS 'False when any funding resource-hour has a billing gap or dark stretch: never a clean figure.';

COMMENT ON TABLE marts.cost_by_idle_fraction IS 'The utilisation curve: resource-hours with running time grouped by idle fraction, per tier.';
COMMENT ON COLUMN marts.cost_by_idle_fraction.tier IS 'Capacity tier.';
COMMENT ON COLUMN marts.cost_by_idle_fraction.idle_bucket IS 'Idle-fraction bucket: [0,.1) [.1,.25) [.25,.5) [.5,.75) [.75,1].';
COMMENT ON COLUMN marts.cost_by_idle_fraction.resource_hours IS 'Resource-hours in the bucket.';
COMMENT ON COLUMN marts.cost_by_idle_fraction.spend IS 'Their spend, USD.';
COMMENT ON COLUMN marts.cost_by_idle_fraction.completion_tokens IS 'Their completion tokens.';
COMMENT ON COLUMN marts.cost_by_idle_fraction.usd_per_mtok IS 'spend / completion_tokens x 1e6; null where no tokens.';

COMMENT ON TABLE marts.band_check IS 'Each day of the band''s tiers against the published $0.30-$0.70 per million output tokens band; only well-used, completely billed days with enough tokens are judged.';
COMMENT ON COLUMN marts.band_check.day IS 'UTC day.';
COMMENT ON COLUMN marts.band_check.tier IS 'Capacity tier the band applies to.';
COMMENT ON COLUMN marts.band_check.usd_per_mtok IS 'The tier-day''s realised cost per million output tokens.';
COMMENT ON COLUMN marts.band_check.idle_fraction IS 'The tier-day''s pooled idle fraction.';
COMMENT ON COLUMN marts.band_check.completion_tokens IS 'The tier-day''s completion tokens.';
COMMENT ON COLUMN marts.band_check.billing_complete IS 'False when the tier-day''s billing is incomplete.';
COMMENT ON COLUMN marts.band_check.verdict IS 'in_band, above_band, below_band (usually missing billing, not a miracle) or not_applicable (idle, incomplete or too few tokens).';

COMMENT ON TABLE marts.observability_gaps IS 'Billing that went dark: intervals between samples longer than max_sample_gap (money counted, hours flagged), and open stretches after a watched resource''s last sample.';
COMMENT ON COLUMN marts.observability_gaps.resource_id IS 'The resource whose billing went dark.';
COMMENT ON COLUMN marts.observability_gaps.gap_start IS 'Last sample before the gap.';
COMMENT ON COLUMN marts.observability_gaps.gap_end IS 'First sample after the gap; null while the stretch is still open.';
COMMENT ON COLUMN marts.observability_gaps.seconds IS 'Full length of the gap; null while open.';

COMMENT ON TABLE marts.billing_resets IS 'Every reset of a cumulative bill: a new billing period, or a cumulative that fell.';
COMMENT ON COLUMN marts.billing_resets.resource_id IS 'The resource.';
COMMENT ON COLUMN marts.billing_resets."at" IS 'The sample that showed the reset.';
COMMENT ON COLUMN marts.billing_resets.previous_cumulative IS 'Cumulative bill of the sample before.';
COMMENT ON COLUMN marts.billing_resets.cumulative IS 'Cumulative bill at the reset; the interval''s spend.';
COMMENT ON COLUMN marts.billing_resets.reason IS 'new_period (billing_period_start changed) or fell (cumulative decreased).';
