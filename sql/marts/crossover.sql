-- marts.crossover: build or buy, per tier, from the invoice (DESIGN.md "What it publishes").
-- Over the trailing crossover_window_days (30) UTC days ending at the latest published day: spend S
-- and completion tokens T (the tier rows of marts.cost_per_mtok_daily), running hours R and busy
-- hours B (marts.resource_hourly); u = B / R. Scaled to a month of crossover_month_days (30) days by
-- month_days / days_observed, beside a configured gateway price p ($/Mtok) and monthly ops
-- labour L: self-hosted = S scaled + L; gateway = T scaled x p / 1e6; with k = T / B,
-- u* = (S + L) / (k x R x p / 1e6), S and R scaled. Money is exact (integer nanodollars,
-- rounded half up once); u* is the one ratio too large for integers and goes through DOUBLE.
DELETE FROM marts.crossover;

INSERT INTO marts.crossover BY NAME
WITH bounds AS (
    SELECT max(day) - ($crossover_window_days - 1) AS first_day, max(day) AS last_day
    FROM marts.cost_per_mtok_daily
),
observed AS (
    SELECT count(DISTINCT d.day)::INTEGER AS days_observed
    FROM marts.cost_per_mtok_daily AS d, bounds AS b
    WHERE d.day BETWEEN b.first_day AND b.last_day
),
tier_money AS (
    SELECT d.tier,
        CAST(sum(d.spend) * 1000000000 AS HUGEINT) AS spend_nanos,
        sum(d.completion_tokens)::HUGEINT AS tokens,
        bool_and(d.billing_complete) AS money_complete
    FROM marts.cost_per_mtok_daily AS d, bounds AS b
    WHERE d.model = '*' AND d.day BETWEEN b.first_day AND b.last_day
    GROUP BY d.tier
),
tier_time AS (
    SELECT h.tier,
        CAST(sum(h.running_s) * 1000000 AS HUGEINT) AS running_us,
        CAST(sum(h.busy_s) * 1000000 AS HUGEINT) AS busy_us,
        bool_and(h.billing_complete) AS time_complete
    FROM marts.resource_hourly AS h, bounds AS b
    WHERE h.hour >= b.first_day::TIMESTAMPTZ AND h.hour < (b.last_day + 1)::TIMESTAMPTZ
    GROUP BY h.tier
),
gateway_prices AS (
    SELECT unnest($gateway_tiers::VARCHAR[]) AS tier,
           CAST(unnest($gateway_usd_per_mtok::VARCHAR[]) AS DECIMAL(38, 9)) AS price
),
ops_hours AS (
    SELECT unnest($ops_tiers::VARCHAR[]) AS tier,
           CAST(unnest($ops_hours_per_month::VARCHAR[]) AS DECIMAL(38, 9)) AS hours
),
configured AS (
    SELECT m.tier,
        coalesce(g.price, CAST($gateway_default_usd_per_mtok AS DECIMAL(38, 9))) AS gateway_usd_per_mtok,
        coalesce(o.hours, CAST($ops_default_hours_per_month AS DECIMAL(38, 9))) AS ops_hours_per_month,
        CAST($ops_usd_per_hour AS DECIMAL(38, 9)) AS ops_usd_per_hour
    FROM tier_money AS m
    LEFT JOIN gateway_prices AS g USING (tier)
    LEFT JOIN ops_hours AS o USING (tier)
),
inputs AS (
    SELECT
        m.tier, b.first_day, b.last_day, o.days_observed, $crossover_month_days::INTEGER AS month_days,
        m.spend_nanos, m.tokens,
        coalesce(t.running_us, 0) AS running_us, coalesce(t.busy_us, 0) AS busy_us,
        m.money_complete AND coalesce(t.time_complete, true) AS billing_complete,
        c.gateway_usd_per_mtok, c.ops_hours_per_month, c.ops_usd_per_hour,
        CAST(c.gateway_usd_per_mtok * 1000000000 AS HUGEINT) AS price_nanos,
        -- L in nanodollars: nano-hours x nanodollars per hour / 1e9, half up
        (CAST(c.ops_hours_per_month * 1000000000 AS HUGEINT) * CAST(c.ops_usd_per_hour * 1000000000 AS HUGEINT)
            * 2 + 1000000000) // 2000000000 AS labour_nanos
    FROM tier_money AS m
    CROSS JOIN bounds AS b
    CROSS JOIN observed AS o
    JOIN configured AS c USING (tier)
    LEFT JOIN tier_time AS t USING (tier)
),
monthly AS (
    SELECT *,
        (spend_nanos * month_days * 2 + days_observed) // (2 * days_observed) AS spend_monthly_nanos,
        (tokens * month_days * 2 + days_observed) // (2 * days_observed) AS tokens_monthly,
        (tokens * month_days * price_nanos * 2 + days_observed * 1000000)
            // (2 * days_observed * 1000000) AS gateway_monthly_nanos
    FROM inputs
)
SELECT
    tier,
    first_day AS window_first_day,
    last_day AS window_last_day,
    days_observed,
    month_days,
    spend_nanos::DECIMAL(38, 0) * 0.000000001 AS spend,
    tokens::BIGINT AS completion_tokens,
    ((running_us * 2000000000 + 3600000000) // 7200000000)::DECIMAL(38, 0) * 0.000000001 AS running_hours,
    ((busy_us * 2000000000 + 3600000000) // 7200000000)::DECIMAL(38, 0) * 0.000000001 AS busy_hours,
    CASE WHEN running_us > 0 THEN
        ((busy_us * 2000000000 + running_us) // (2 * running_us))::DECIMAL(38, 0) * 0.000000001
    END AS utilisation,
    CASE WHEN tokens > 0 THEN
        ((spend_nanos * 2000000 + tokens) // (2 * tokens))::DECIMAL(38, 0) * 0.000000001
    END AS usd_per_mtok,
    CASE WHEN busy_us > 0 THEN
        ((tokens * 7200000000000000000 + busy_us) // (2 * busy_us))::DECIMAL(38, 0) * 0.000000001
    END AS tokens_per_busy_hour,
    gateway_usd_per_mtok,
    ops_hours_per_month,
    ops_usd_per_hour,
    labour_nanos::DECIMAL(38, 0) * 0.000000001 AS ops_labour_monthly,
    spend_monthly_nanos::DECIMAL(38, 0) * 0.000000001 AS spend_monthly,
    tokens_monthly::BIGINT AS completion_tokens_monthly,
    (spend_monthly_nanos + labour_nanos)::DECIMAL(38, 0) * 0.000000001 AS self_hosted_monthly,
    gateway_monthly_nanos::DECIMAL(38, 0) * 0.000000001 AS gateway_monthly,
    -- u* = (S x M / D + L) x B x 1e6 / (T x R x M / D x p), every term exact before the division
    CASE WHEN tokens > 0 AND busy_us > 0 AND running_us > 0 AND price_nanos > 0 THEN
        round(
            (spend_nanos * month_days + labour_nanos * days_observed)::DOUBLE * busy_us::DOUBLE * 1000000
            / (tokens::DOUBLE * running_us::DOUBLE * month_days * price_nanos::DOUBLE),
            9)::DECIMAL(38, 9)
    END AS breakeven_utilisation,
    billing_complete,
    CASE
        WHEN tokens = 0 OR busy_us = 0 OR running_us = 0 THEN 'not_enough_data'
        WHEN spend_monthly_nanos + labour_nanos < gateway_monthly_nanos THEN 'self_host_cheaper'
        ELSE 'gateway_cheaper'
    END AS verdict,
    CASE
        WHEN days_observed < month_days THEN
            printf('scaled from %d day(s) observed to a %d-day month', days_observed, month_days)
        WHEN days_observed = month_days THEN printf('a full %d-day window, not scaled', month_days)
        ELSE printf('scaled down from %d days observed to a %d-day month', days_observed, month_days)
    END
    || CASE WHEN billing_complete THEN '' ELSE '; billing incomplete: spend is what was observed, not a clean figure' END
    AS note
FROM monthly
