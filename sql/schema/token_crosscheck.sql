-- The token cross-check (DESIGN.md "Token cross-check"): the published table. The counter samples
-- (raw.engine_token_samples) and their quarantine are the lake's, declared in pipelines/sources/registry.py.
CREATE SCHEMA IF NOT EXISTS marts;

-- Per resource and UTC hour: completion tokens the request logs hold beside the tokens the replica's
-- engines counted (vllm:generation_tokens_total from Prometheus). A difference below zero means the logs
-- lost usage rows, and every $/Mtok of that hour is too high. Only resources the Prometheus reports in the
-- range have rows.
CREATE TABLE IF NOT EXISTS marts.token_crosscheck (
    hour TIMESTAMPTZ NOT NULL,                  -- Start of the UTC hour [hour, hour + 1 h).
    resource_id VARCHAR NOT NULL,               -- The replica, as billing names it (the counter's instance label
                                                -- mapped by the resource map).
    logged_tokens BIGINT NOT NULL,              -- Completion tokens of requests routed to this resource that finished
                                                -- in the hour (marts.resource_hourly.completion_tokens; 0 where it
                                                -- has no row).
    counted_tokens BIGINT,                      -- Tokens the engines counted in the hour: per counter series
                                                -- value(hour + 1 h) - value(hour), or value(hour + 1 h) where that is
                                                -- negative (a reset), summed over the series. Null where any series
                                                -- lacks a value at either end of the hour (no sample within 5 minutes
                                                -- before it).
    difference BIGINT,                          -- logged_tokens - counted_tokens; null where nothing could be
                                                -- counted.
    difference_pct DECIMAL(38,9),               -- 100 x difference / counted_tokens, rounded half away from zero to 9
                                                -- decimals; null where counted_tokens is null or 0.
    series_counted INTEGER NOT NULL,            -- Counter series (model_name, engine, instance) with a value at both
                                                -- ends of the hour.
    series_incomplete INTEGER NOT NULL,         -- Counter series seen in the hour that lack a value at one end
                                                -- (engine started, stopped or was not scraped); any makes
                                                -- counted_tokens null.
    counter_resets INTEGER NOT NULL,            -- Series whose counter fell inside the hour (an engine restart). The
                                                -- pinned rule cannot see the tokens counted before the restart, so
                                                -- counted_tokens is then a lower bound: the hour's difference can
                                                -- read high, never as lost logs.
    PRIMARY KEY (hour, resource_id)
);

