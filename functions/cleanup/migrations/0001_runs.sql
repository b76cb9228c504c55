-- cleanup-worker's record of its runs (issue 14, docs/cleanup.md): who started each (the
-- nightly PingSource or a manual ping), when, what every step did in every schema, how
-- long it took and how it ended.
CREATE TABLE cleanup.runs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger     text NOT NULL CHECK (trigger IN ('ping', 'manual')),
    -- night is the Europe/Berlin date of a nightly run (the PingSource's zone); NULL for a
    -- manual one. At most one nightly run per night is running or succeeded: a second ping
    -- the same night (a retried delivery, a second replica) finds it and does nothing; a
    -- failed run leaves the night to the next ping.
    night       date CHECK ((trigger = 'ping') = (night IS NOT NULL)),
    event_id    text NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    duration_ms bigint CHECK (duration_ms >= 0),
    -- counts: {"<step>": {"<schema or folder>": n}}, e.g. {"outbox": {"payments": 120}}.
    counts      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counts) = 'object'),
    -- error: what failed, per step ("" when nothing did); never personal data.
    error       text NOT NULL DEFAULT '' CHECK (char_length(error) <= 4000),
    CONSTRAINT runs_finished CHECK ((status = 'running') = (finished_at IS NULL))
);

CREATE UNIQUE INDEX runs_one_per_night ON cleanup.runs (night) WHERE trigger = 'ping' AND status <> 'failed';
CREATE INDEX runs_started_idx ON cleanup.runs (started_at DESC, id);
