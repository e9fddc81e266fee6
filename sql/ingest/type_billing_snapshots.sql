-- Billing samples typed by the BillingSnapshot contract; decimals exact (DECIMAL(38,9)).
-- Run once per batch of pages: the first creates typed_rows, the others insert into it.
-- `problem` is the first rule a row breaks, in the model's field order.
{{into_typed_rows}}
WITH typed AS (
    SELECT
        row_number,
        rfc3339_instant(sampled_at)           AS sampled_at,
        resource_id, tier, gpu_type,
        whole_number(gpu_count)               AS gpu_count,
        price_model, state,
        exact_decimal(rate_per_hour)          AS rate_per_hour,
        exact_decimal(cumulative_cost)        AS cumulative_cost,
        rfc3339_instant(billing_period_start) AS billing_period_start,
        currency
    FROM staged_rows
)
SELECT *,
    CASE
        WHEN sampled_at IS NULL THEN {'field': 'sampled_at', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN coalesce(resource_id, '') = '' THEN {'field': 'resource_id', 'reason': 'is missing or empty'}
        WHEN coalesce(tier, '') = '' THEN {'field': 'tier', 'reason': 'is missing or empty'}
        WHEN gpu_count IS NULL OR gpu_count < 0 THEN {'field': 'gpu_count', 'reason': 'is not a whole number >= 0'}
        WHEN NOT coalesce(list_contains($price_models, price_model), false)
            THEN {'field': 'price_model', 'reason': 'is not one of ' || array_to_string($price_models, ', ')}
        WHEN NOT coalesce(list_contains($states, state), false)
            THEN {'field': 'state', 'reason': 'is not one of ' || array_to_string($states, ', ')}
        WHEN rate_per_hour IS NULL THEN {'field': 'rate_per_hour', 'reason': 'is not a decimal number'}
        WHEN cumulative_cost IS NULL OR cumulative_cost < 0
            THEN {'field': 'cumulative_cost', 'reason': 'is not a decimal number >= 0'}
        WHEN billing_period_start IS NULL
            THEN {'field': 'billing_period_start', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN NOT coalesce(regexp_full_match(currency, '[A-Z]{3}'), false)
            THEN {'field': 'currency', 'reason': 'is not an ISO 4217 code'}
        WHEN currency <> coalesce(CAST($expected_currency AS VARCHAR), currency)
            THEN {'field': 'currency', 'reason': 'is ' || currency || ', expected ' || $expected_currency}
        WHEN NOT (sampled_at >= $window_start AND sampled_at < $window_end)
            THEN {'field': 'sampled_at', 'reason': 'is outside the fetched window'}
    END AS problem
FROM typed;
