-- The two report marts behind the dashboard (DESIGN.md "What it publishes": marts.crossover and
-- marts.demand_profile). Both are rebuilt whole from the published marts resource_hourly and
-- cost_per_mtok_daily, so they are cheap. Money is DECIMAL(38,9) until the ratios.
CREATE SCHEMA IF NOT EXISTS marts;

-- Build or buy, per tier, from the invoice: the trailing 30 days ending at the latest published UTC day,
-- scaled to a 30-day month, against a configured per-token gateway price p and monthly ops labour L. Self-hosting
-- breaks even at utilisation u* = (S + L) / (k x R x p / 1e6), k = T / B. p and L are configured
-- examples (pipelines settings), not facts: replace them with your own quote and staffing.
CREATE TABLE IF NOT EXISTS marts.crossover (
    tier VARCHAR NOT NULL,                      -- Capacity tier.
    window_first_day DATE NOT NULL,             -- First UTC day of the trailing window (latest published day - 29).
    window_last_day DATE NOT NULL,              -- Latest published UTC day (the window's last day, inclusive).
    days_observed INTEGER NOT NULL,             -- Published UTC days inside the window (any tier); when fewer than
                                                -- month_days, the window's figures are scaled by month_days /
                                                -- days_observed (see note).
    month_days INTEGER NOT NULL,                -- Days of the month the figures are scaled to (30).
    spend DECIMAL(38,9) NOT NULL,               -- S: the tier's spend over the window's observed days, USD (sum of
                                                -- marts.cost_per_mtok_daily tier rows).
    completion_tokens BIGINT NOT NULL,          -- T: the tier's completion tokens over the window's observed days.
    running_hours DECIMAL(38,9) NOT NULL,       -- R: running hours (busy + idle + waking) of the tier's resources
                                                -- over the window (marts.resource_hourly), rounded to 9 decimals.
    busy_hours DECIMAL(38,9) NOT NULL,          -- B: busy hours of the tier's resources over the window, rounded to 9
                                                -- decimals.
    utilisation DECIMAL(38,9),                  -- u = B / R, today's utilisation (from the exact seconds); null where
                                                -- nothing ran.
    usd_per_mtok DECIMAL(38,9),                 -- Realised cost per million output tokens over the window: S / T x
                                                -- 1e6; null where T is 0.
    tokens_per_busy_hour DECIMAL(38,9),         -- k = T / B: completion tokens served per busy hour; null where B is
                                                -- 0.
    gateway_usd_per_mtok DECIMAL(38,9) NOT NULL,  -- p: the configured per-token gateway price for this tier's
                                                  -- traffic, USD per million output tokens (an example to replace
                                                  -- with a real quote).
    ops_hours_per_month DECIMAL(38,9) NOT NULL,  -- Configured monthly ops labour hours to run this tier self-hosted
                                                 -- (an example to replace).
    ops_usd_per_hour DECIMAL(38,9) NOT NULL,    -- Configured loaded cost of one ops hour, USD (an example to
                                                -- replace).
    ops_labour_monthly DECIMAL(38,9) NOT NULL,  -- L = ops_hours_per_month x ops_usd_per_hour, USD per month.
    spend_monthly DECIMAL(38,9) NOT NULL,       -- S scaled to a month: S x month_days / days_observed, USD, rounded
                                                -- half up to 9 decimals.
    completion_tokens_monthly BIGINT NOT NULL,  -- T scaled to a month: T x month_days / days_observed, rounded to a
                                                -- whole token.
    self_hosted_monthly DECIMAL(38,9) NOT NULL,  -- Monthly cost self-hosted at today's volume: spend_monthly + L,
                                                 -- USD.
    gateway_monthly DECIMAL(38,9) NOT NULL,     -- Monthly cost on the gateway at today's volume: T x month_days /
                                                -- days_observed x p / 1e6, USD, rounded half up to 9 decimals.
    breakeven_utilisation DECIMAL(38,9),        -- u* = (S + L) / (k x R x p / 1e6) with S and R scaled to the month:
                                                -- the utilisation at which self-hosting costs what the gateway would.
                                                -- Above 1 means no utilisation makes self-hosting cheaper. Null where
                                                -- it cannot be computed (no tokens, no busy or running time, p = 0).
    billing_complete BOOLEAN NOT NULL,          -- False when any of the tier's resource-hours in the window has a
                                                -- billing gap or dark stretch: S is what was observed, not a clean
                                                -- figure.
    verdict VARCHAR NOT NULL,                   -- self_host_cheaper (self_hosted_monthly < gateway_monthly, i.e. u >
                                                -- u*), gateway_cheaper, or not_enough_data (no completion tokens, no
                                                -- busy or no running time in the window).
    note VARCHAR NOT NULL,                      -- How the figures were scaled (e.g. 'scaled from 7 days observed to a
                                                -- 30-day month') and whether billing was incomplete.
    PRIMARY KEY (tier)
);
-- Demand shape per UTC day and tier: the distribution of the 24 hourly completion-token totals (hours with
-- no token count as 0), and the share of running time that was busy.
CREATE TABLE IF NOT EXISTS marts.demand_profile (
    day DATE NOT NULL,                          -- UTC day.
    tier VARCHAR NOT NULL,                      -- Capacity tier.
    completion_tokens BIGINT NOT NULL,          -- Completion tokens of requests routed to the tier's resources that
                                                -- finished this day (marts.resource_hourly).
    median_hourly_tokens DECIMAL(38,3) NOT NULL,  -- Median of the day's 24 hourly completion-token totals (linear
                                                  -- interpolation, as quantile_cont / percentile_cont).
    p95_hourly_tokens DECIMAL(38,3) NOT NULL,   -- 95th percentile of the day's 24 hourly completion-token totals
                                                -- (linear interpolation).
    peak_hourly_tokens BIGINT NOT NULL,         -- The largest hourly completion-token total of the day.
    peak_hour TIMESTAMPTZ,                      -- Start of the UTC hour of the peak (the earliest on a tie); null
                                                -- when the day had no token.
    peak_to_median DECIMAL(38,9),               -- peak_hourly_tokens / median_hourly_tokens, rounded to 9 decimals;
                                                -- null where the median is 0.
    running_s DECIMAL(38,6) NOT NULL,           -- Running seconds of the tier's resources this day.
    busy_s DECIMAL(38,6) NOT NULL,              -- Busy seconds of the tier's resources this day.
    busy_fraction DECIMAL(38,9),                -- busy_s / running_s, rounded to 9 decimals; null where nothing ran.
    billing_complete BOOLEAN NOT NULL,          -- False when any of the tier's resource-hours this day has a billing
                                                -- gap or dark stretch.
    PRIMARY KEY (day, tier)
);

