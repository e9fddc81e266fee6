-- $/Mtok per tier and UTC day (the tier's '*' row), with the band's verdict where the tier is judged.
-- A day with incomplete billing shows what was observed, never a clean figure.
SELECT d.day, d.tier, d.spend, d.completion_tokens, d.usd_per_mtok, d.idle_fraction, d.billing_complete,
       b.verdict
FROM marts.cost_per_mtok_daily AS d
LEFT JOIN marts.band_check AS b USING (day, tier)
WHERE d.model = '*'
ORDER BY d.tier, d.day;
