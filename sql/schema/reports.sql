-- The two report marts behind the dashboard (DESIGN.md "What it publishes": marts.crossover and
-- marts.demand_profile). Both are rebuilt whole from the published marts resource_hourly and
-- cost_per_mtok_daily, so they are cheap. Money is DECIMAL(38,9) until the ratios.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.crossover (
    tier VARCHAR NOT NULL,
    window_first_day DATE NOT NULL, window_last_day DATE NOT NULL,
    days_observed INTEGER NOT NULL, month_days INTEGER NOT NULL,
    spend DECIMAL(38,9) NOT NULL, completion_tokens BIGINT NOT NULL,
    running_hours DECIMAL(38,9) NOT NULL, busy_hours DECIMAL(38,9) NOT NULL,
    utilisation DECIMAL(38,9), usd_per_mtok DECIMAL(38,9), tokens_per_busy_hour DECIMAL(38,9),
    gateway_usd_per_mtok DECIMAL(38,9) NOT NULL,
    ops_hours_per_month DECIMAL(38,9) NOT NULL, ops_usd_per_hour DECIMAL(38,9) NOT NULL,
    ops_labour_monthly DECIMAL(38,9) NOT NULL,
    spend_monthly DECIMAL(38,9) NOT NULL, completion_tokens_monthly BIGINT NOT NULL,
    self_hosted_monthly DECIMAL(38,9) NOT NULL, gateway_monthly DECIMAL(38,9) NOT NULL,
    breakeven_utilisation DECIMAL(38,9),
    billing_complete BOOLEAN NOT NULL, verdict VARCHAR NOT NULL, note VARCHAR NOT NULL,
    PRIMARY KEY (tier)
);
CREATE TABLE IF NOT EXISTS marts.demand_profile (
    day DATE NOT NULL, tier VARCHAR NOT NULL,
    completion_tokens BIGINT NOT NULL,
    median_hourly_tokens DECIMAL(38,3) NOT NULL, p95_hourly_tokens DECIMAL(38,3) NOT NULL,
    peak_hourly_tokens BIGINT NOT NULL, peak_hour TIMESTAMPTZ,
    peak_to_median DECIMAL(38,9),
    running_s DECIMAL(38,6) NOT NULL, busy_s DECIMAL(38,6) NOT NULL, busy_fraction DECIMAL(38,9),
    billing_complete BOOLEAN NOT NULL,
    PRIMARY KEY (day, tier)
);

COMMENT ON TABLE marts.crossover IS 'Build or buy, per tier, from the invoice: the trailing 30 days ending at the latest published UTC day, scaled to a 30-day month, against a configured per-token gateway price p and monthly ops labour L. Self-hosting breaks even at utilisation u* = (S + L) / (k x R x p / 1e6), k = T / B. p and L are configured examples (pipelines settings), not facts: replace them with your own quote and staffing.';
COMMENT ON COLUMN marts.crossover.tier IS 'Capacity tier.';
COMMENT ON COLUMN marts.crossover.window_first_day IS 'First UTC day of the trailing window (latest published day - 29).';
COMMENT ON COLUMN marts.crossover.window_last_day IS 'Latest published UTC day (the window''s last day, inclusive).';
COMMENT ON COLUMN marts.crossover.days_observed IS 'Published UTC days inside the window (any tier); when fewer than month_days, the window''s figures are scaled by month_days / days_observed (see note).';
COMMENT ON COLUMN marts.crossover.month_days IS 'Days of the month the figures are scaled to (30).';
COMMENT ON COLUMN marts.crossover.spend IS 'S: the tier''s spend over the window''s observed days, USD (sum of marts.cost_per_mtok_daily tier rows).';
COMMENT ON COLUMN marts.crossover.completion_tokens IS 'T: the tier''s completion tokens over the window''s observed days.';
COMMENT ON COLUMN marts.crossover.running_hours IS 'R: running hours (busy + idle + waking) of the tier''s resources over the window (marts.resource_hourly), rounded to 9 decimals.';
COMMENT ON COLUMN marts.crossover.busy_hours IS 'B: busy hours of the tier''s resources over the window, rounded to 9 decimals.';
COMMENT ON COLUMN marts.crossover.utilisation IS 'u = B / R, today''s utilisation (from the exact seconds); null where nothing ran.';
COMMENT ON COLUMN marts.crossover.usd_per_mtok IS 'Realised cost per million output tokens over the window: S / T x 1e6; null where T is 0.';
COMMENT ON COLUMN marts.crossover.tokens_per_busy_hour IS 'k = T / B: completion tokens served per busy hour; null where B is 0.';
COMMENT ON COLUMN marts.crossover.gateway_usd_per_mtok IS 'p: the configured per-token gateway price for this tier''s traffic, USD per million output tokens (an example to replace with a real quote).';
COMMENT ON COLUMN marts.crossover.ops_hours_per_month IS 'Configured monthly ops labour hours to run this tier self-hosted (an example to replace).';
COMMENT ON COLUMN marts.crossover.ops_usd_per_hour IS 'Configured loaded cost of one ops hour, USD (an example to replace).';
COMMENT ON COLUMN marts.crossover.ops_labour_monthly IS 'L = ops_hours_per_month x ops_usd_per_hour, USD per month.';
COMMENT ON COLUMN marts.crossover.spend_monthly IS 'S scaled to a month: S x month_days / days_observed, USD, rounded half up to 9 decimals.';
COMMENT ON COLUMN marts.crossover.completion_tokens_monthly IS 'T scaled to a month: T x month_days / days_observed, rounded to a whole token.';
COMMENT ON COLUMN marts.crossover.self_hosted_monthly IS 'Monthly cost self-hosted at today''s volume: spend_monthly + L, USD.';
COMMENT ON COLUMN marts.crossover.gateway_monthly IS 'Monthly cost on the gateway at today''s volume: T x month_days / days_observed x p / 1e6, USD, rounded half up to 9 decimals.';
COMMENT ON COLUMN marts.crossover.breakeven_utilisation IS 'u* = (S + L) / (k x R x p / 1e6) with S and R scaled to the month: the utilisation at which self-hosting costs what the gateway would. Above 1 means no utilisation makes self-hosting cheaper. Null where it cannot be computed (no tokens, no busy or running time, p = 0).';
COMMENT ON COLUMN marts.crossover.billing_complete IS 'False when any of the tier''s resource-hours in the window has a billing gap or dark stretch: S is what was observed, not a clean figure.';
COMMENT ON COLUMN marts.crossover.verdict IS 'self_host_cheaper (self_hosted_monthly < gateway_monthly, i.e. u > u*), gateway_cheaper, or not_enough_data (no completion tokens, no busy or no running time in the window).';
COMMENT ON COLUMN marts.crossover.note IS 'How the figures were scaled (e.g. ''scaled from 7 days observed to a 30-day month'') and whether billing was incomplete.';

COMMENT ON TABLE marts.demand_profile IS 'Demand shape per UTC day and tier: the distribution of the 24 hourly completion-token totals (hours with no token count as 0), and the share of running time that was busy.';
COMMENT ON COLUMN marts.demand_profile.day IS 'UTC day.';
COMMENT ON COLUMN marts.demand_profile.tier IS 'Capacity tier.';
COMMENT ON COLUMN marts.demand_profile.completion_tokens IS 'Completion tokens of requests routed to the tier''s resources that finished this day (marts.resource_hourly).';
COMMENT ON COLUMN marts.demand_profile.median_hourly_tokens IS 'Median of the day''s 24 hourly completion-token totals (linear interpolation, as quantile_cont / percentile_cont).';
COMMENT ON COLUMN marts.demand_profile.p95_hourly_tokens IS '95th percentile of the day''s 24 hourly completion-token totals (linear interpolation).';
COMMENT ON COLUMN marts.demand_profile.peak_hourly_tokens IS 'The largest hourly completion-token total of the day.';
COMMENT ON COLUMN marts.demand_profile.peak_hour IS 'Start of the UTC hour of the peak (the earliest on a tie); null when the day had no token.';
COMMENT ON COLUMN marts.demand_profile.peak_to_median IS 'peak_hourly_tokens / median_hourly_tokens, rounded to 9 decimals; null where the median is 0.';
COMMENT ON COLUMN marts.demand_profile.running_s IS 'Running seconds of the tier''s resources this day.';
COMMENT ON COLUMN marts.demand_profile.busy_s IS 'Busy seconds of the tier''s resources this day.';
COMMENT ON COLUMN marts.demand_profile.busy_fraction IS 'busy_s / running_s, rounded to 9 decimals; null where nothing ran.';
COMMENT ON COLUMN marts.demand_profile.billing_complete IS 'False when any of the tier''s resource-hours this day has a billing gap or dark stretch.';
