-- marts.band_check: each tier-day of the band's tiers against the published band. The
-- band is a claim about good utilisation, so only complete, well-used days with enough
-- tokens are judged; below band is told apart from above (it usually means missing
-- billing). Compared exactly: spend x 1e6 against the bound x tokens.
DELETE FROM marts.band_check;

INSERT INTO marts.band_check BY NAME
SELECT
    day, tier, usd_per_mtok, idle_fraction, completion_tokens, billing_complete,
    CASE
        WHEN NOT billing_complete
          OR completion_tokens < $band_min_completion_tokens
          OR idle_fraction IS NULL
          OR idle_fraction > $band_max_idle_fraction THEN 'not_applicable'
        WHEN spend * 1000000 < $band_low_usd_per_mtok * completion_tokens THEN 'below_band'
        WHEN spend * 1000000 > $band_high_usd_per_mtok * completion_tokens THEN 'above_band'
        ELSE 'in_band'
    END AS verdict
FROM marts.cost_per_mtok_daily
WHERE model = '*'
  AND list_contains($band_tiers, tier)
