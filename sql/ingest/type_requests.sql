-- The gateway usage log typed by the RequestLog contract. `problem` is the first rule a row
-- breaks, in the model's field order, so pydantic words the same field (ingest.py asks it).
-- Run once per batch of pages: the first creates typed_rows, the others insert into it.
{{into_typed_rows}}
WITH typed AS (
    SELECT
        row_number,
        request_id,
        rfc3339_instant(received_at)    AS received_at,
        first_token_at                  AS first_token_at_sent,
        rfc3339_instant(first_token_at) AS first_token_at,
        rfc3339_instant(finished_at)    AS finished_at,
        model, tier, resource_id,
        whole_number(status)            AS status,
        error,
        whole_number(prompt_tokens)     AS prompt_tokens,
        whole_number(completion_tokens) AS completion_tokens,
        cached_tokens                   AS cached_tokens_sent,
        coalesce(whole_number(cached_tokens), 0) AS cached_tokens,
        api_key_id
    FROM staged_rows
)
SELECT * EXCLUDE (first_token_at_sent, cached_tokens_sent),
    CASE
        WHEN coalesce(request_id, '') = '' THEN {'field': 'request_id', 'reason': 'is missing or empty'}
        WHEN received_at IS NULL THEN {'field': 'received_at', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN first_token_at_sent IS NOT NULL AND first_token_at IS NULL
            THEN {'field': 'first_token_at', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN finished_at IS NULL THEN {'field': 'finished_at', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN coalesce(model, '') = '' THEN {'field': 'model', 'reason': 'is missing or empty'}
        WHEN coalesce(tier, '') = '' THEN {'field': 'tier', 'reason': 'is missing or empty'}
        WHEN status IS NULL OR status NOT BETWEEN 100 AND 599
            THEN {'field': 'status', 'reason': 'is not an HTTP status (100-599)'}
        WHEN prompt_tokens IS NULL OR prompt_tokens < 0
            THEN {'field': 'prompt_tokens', 'reason': 'is not a whole number >= 0'}
        WHEN completion_tokens IS NULL OR completion_tokens < 0
            THEN {'field': 'completion_tokens', 'reason': 'is not a whole number >= 0'}
        WHEN (cached_tokens_sent IS NOT NULL AND whole_number(cached_tokens_sent) IS NULL) OR cached_tokens < 0
            THEN {'field': 'cached_tokens', 'reason': 'is not a whole number >= 0'}
        WHEN finished_at < received_at
            THEN {'field': 'finished_at', 'reason': 'finished_at is before received_at'}
        WHEN NOT (finished_at >= $window_start AND finished_at < $window_end)
            THEN {'field': 'finished_at', 'reason': 'is outside the fetched window'}
    END AS problem
FROM typed;
