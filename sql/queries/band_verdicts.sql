-- Each H100-class day against the published $0.30-$0.70/Mtok band. Below band usually means
-- missing billing, not a miracle; not_applicable days were idle, incomplete or too small to judge.
SELECT day, tier, round(usd_per_mtok, 4) AS usd_per_mtok, round(idle_fraction, 3) AS idle_fraction,
       completion_tokens, billing_complete, verdict
FROM marts.band_check
ORDER BY tier, day;
