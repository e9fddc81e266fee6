-- The raw layer: typed, deduplicated source rows, exactly as fetched.
-- Keys (DESIGN.md rule 9): samples (resource_id, sampled_at); requests request_id;
-- events (resource_id, at, event). A run replaces the window it fetched
-- (delete then insert in one transaction), so re-running a day leaves the same rows.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;

CREATE TABLE IF NOT EXISTS raw.billing_snapshots (
    sampled_at           TIMESTAMPTZ   NOT NULL,
    resource_id          VARCHAR       NOT NULL,
    tier                 VARCHAR       NOT NULL,
    gpu_type             VARCHAR,
    gpu_count            INTEGER       NOT NULL,
    price_model          VARCHAR       NOT NULL,
    state                VARCHAR       NOT NULL,
    rate_per_hour        DECIMAL(38,9) NOT NULL,
    cumulative_cost      DECIMAL(38,9) NOT NULL,
    billing_period_start TIMESTAMPTZ   NOT NULL,
    currency             VARCHAR       NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.requests (
    request_id        VARCHAR     NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    first_token_at    TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ NOT NULL,
    model             VARCHAR     NOT NULL,
    tier              VARCHAR     NOT NULL,
    resource_id       VARCHAR,
    status            INTEGER     NOT NULL,
    error             VARCHAR,
    prompt_tokens     BIGINT      NOT NULL,
    completion_tokens BIGINT      NOT NULL,
    cached_tokens     BIGINT      NOT NULL,
    api_key_id        VARCHAR
);

CREATE TABLE IF NOT EXISTS raw.fleet_events (
    "at"        TIMESTAMPTZ NOT NULL,
    resource_id VARCHAR     NOT NULL,
    tier        VARCHAR     NOT NULL,
    event       VARCHAR     NOT NULL
);

-- One table per source for rejected rows: nothing fetched is lost.
CREATE TABLE IF NOT EXISTS quarantine.billing_snapshots (
    source VARCHAR, day DATE, row_number BIGINT, field VARCHAR, reason VARCHAR, raw_payload VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.requests (
    source VARCHAR, day DATE, row_number BIGINT, field VARCHAR, reason VARCHAR, raw_payload VARCHAR
);
CREATE TABLE IF NOT EXISTS quarantine.fleet_events (
    source VARCHAR, day DATE, row_number BIGINT, field VARCHAR, reason VARCHAR, raw_payload VARCHAR
);
