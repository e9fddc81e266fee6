-- FOCUS invoice rows staged as text (`invoice_staged`) typed exactly into `invoice_typed`, with
-- `problem` ({field, reason}) naming the first FOCUS rule a row breaks, in FOCUS column order.
CREATE OR REPLACE TEMP TABLE invoice_typed AS
WITH cleaned AS (
    SELECT source, row_number, problem AS staged_problem, raw_payload,
        nullif(trim("InvoiceId"), '')          AS invoice_id,
        nullif(trim("BillingPeriodStart"), '') AS bps,
        nullif(trim("BillingPeriodEnd"), '')   AS bpe,
        nullif(trim("ChargePeriodStart"), '')  AS cps,
        nullif(trim("ChargePeriodEnd"), '')    AS cpe,
        nullif(trim("ChargeCategory"), '')     AS category,
        nullif(trim("ResourceId"), '')         AS resource_id,
        nullif(trim("SkuId"), '')              AS sku_id,
        nullif(trim("BilledCost"), '')         AS billed,
        nullif(trim("EffectiveCost"), '')      AS effective,
        nullif(trim("ListCost"), '')           AS list_text,
        nullif(trim("BillingCurrency"), '')    AS currency,
        nullif(trim("PricingQuantity"), '')    AS quantity,
        nullif(trim("PricingUnit"), '')        AS pricing_unit
    FROM invoice_staged
),
typed AS (
    SELECT *,
        focus_instant(bps) AS billing_period_start,
        focus_instant(bpe) AS billing_period_end,
        focus_instant(cps) AS charge_period_start,
        focus_instant(cpe) AS charge_period_end,
        list_filter($categories, lambda c: lower(c) = lower(category))[1] AS charge_category,
        focus_decimal(billed)    AS billed_cost,
        focus_decimal(effective) AS effective_cost,
        focus_decimal(list_text) AS list_cost,
        focus_decimal(quantity)  AS pricing_quantity,
        upper(currency)          AS billing_currency,
        strftime(focus_instant(bps), '%Y-%m') AS billing_period
    FROM cleaned
)
SELECT *,
    CASE
        WHEN staged_problem IS NOT NULL THEN {'field': 'row', 'reason': staged_problem}
        WHEN bps IS NULL THEN {'field': 'BillingPeriodStart', 'reason': 'is missing'}
        WHEN billing_period_start IS NULL THEN {'field': 'BillingPeriodStart', 'reason': 'is not a timestamp: ' || bps}
        WHEN bpe IS NULL THEN {'field': 'BillingPeriodEnd', 'reason': 'is missing'}
        WHEN billing_period_end IS NULL THEN {'field': 'BillingPeriodEnd', 'reason': 'is not a timestamp: ' || bpe}
        WHEN billing_period_end <= billing_period_start
            THEN {'field': 'BillingPeriodEnd', 'reason': 'is not after BillingPeriodStart'}
        WHEN cps IS NULL THEN {'field': 'ChargePeriodStart', 'reason': 'is missing'}
        WHEN charge_period_start IS NULL THEN {'field': 'ChargePeriodStart', 'reason': 'is not a timestamp: ' || cps}
        WHEN cpe IS NULL THEN {'field': 'ChargePeriodEnd', 'reason': 'is missing'}
        WHEN charge_period_end IS NULL THEN {'field': 'ChargePeriodEnd', 'reason': 'is not a timestamp: ' || cpe}
        WHEN charge_period_end < charge_period_start
            THEN {'field': 'ChargePeriodEnd', 'reason': 'is before ChargePeriodStart'}
        WHEN category IS NULL THEN {'field': 'ChargeCategory', 'reason': 'is missing'}
        WHEN charge_category IS NULL THEN {'field': 'ChargeCategory',
            'reason': 'is not one of ' || array_to_string($categories, ', ') || ': ' || category}
        WHEN billed IS NULL THEN {'field': 'BilledCost', 'reason': 'is missing'}
        WHEN billed_cost IS NULL THEN {'field': 'BilledCost', 'reason': focus_decimal_problem(billed)}
        WHEN effective IS NOT NULL AND effective_cost IS NULL
            THEN {'field': 'EffectiveCost', 'reason': focus_decimal_problem(effective)}
        WHEN list_text IS NOT NULL AND list_cost IS NULL
            THEN {'field': 'ListCost', 'reason': focus_decimal_problem(list_text)}
        WHEN currency IS NULL THEN {'field': 'BillingCurrency', 'reason': 'is missing'}
        WHEN NOT regexp_full_match(billing_currency, '[A-Z]{3}')
            THEN {'field': 'BillingCurrency', 'reason': 'is not an ISO 4217 code: ' || currency}
        WHEN billing_currency <> coalesce(CAST($expected_currency AS VARCHAR), billing_currency)
            THEN {'field': 'BillingCurrency', 'reason': 'is ' || billing_currency || ', expected ' || $expected_currency}
        WHEN quantity IS NOT NULL AND pricing_quantity IS NULL
            THEN {'field': 'PricingQuantity', 'reason': focus_decimal_problem(quantity)}
        WHEN source = $api AND billing_period <> coalesce(CAST($requested_period AS VARCHAR), billing_period)
            THEN {'field': 'BillingPeriodStart',
                  'reason': 'is in ' || billing_period || ', not the requested billing period ' || $requested_period}
    END AS problem
FROM typed
