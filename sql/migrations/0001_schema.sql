-- 0001: the contract tables (see README "Database"). Everything lives in schema
-- callbridge. Natural keys are unique; timestamps are timestamptz.

CREATE SCHEMA IF NOT EXISTS callbridge;

-- An UPDATE that would change nothing is skipped (no new row version, updated_at kept),
-- so a replayed delivery leaves every mapped row exactly as it was.
CREATE FUNCTION callbridge.skip_noop_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NULL;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Every accepted delivery, raw.
CREATE TABLE callbridge.webhook_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform         text        NOT NULL,
    event_type       text,
    dedupe_key       text        NOT NULL,
    occurred_at      timestamptz,
    received_at      timestamptz NOT NULL DEFAULT now(),
    payload          jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('mapped', 'unmapped', 'failed')),
    error            text,
    delivery_count   integer     NOT NULL DEFAULT 1,
    last_received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, dedupe_key)
);
CREATE INDEX webhook_events_received_at ON callbridge.webhook_events (received_at);
CREATE INDEX webhook_events_platform_type ON callbridge.webhook_events (platform, event_type, received_at);
CREATE INDEX webhook_events_not_mapped ON callbridge.webhook_events (platform, received_at)
    WHERE status <> 'mapped';

-- One row per call per platform.
CREATE TABLE callbridge.calls (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform             text        NOT NULL,
    external_id          text        NOT NULL,
    account_id           text,
    agent_id             text,
    agent_name           text,
    direction            text CHECK (direction IN ('inbound', 'outbound')),
    from_number          text,
    from_name            text,
    to_number            text,
    to_name              text,
    customer_number      text,
    customer_name        text,
    status               text,
    disposition          text,
    successful           boolean,
    started_at           timestamptz,
    answered_at          timestamptz,
    ended_at             timestamptz,
    duration_seconds     numeric,
    billed_minutes       numeric,
    recording_url        text,
    summary              text,
    sentiment            text,
    disconnection_reason text,
    cost                 numeric,
    transcript_text      text,
    metadata             jsonb,
    last_event_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, external_id)
);
CREATE INDEX calls_started_at ON callbridge.calls (started_at);
-- Not led by platform: otherwise, before the table is first analysed, the planner may
-- look a call up by (platform, external_id) through this index with platform alone,
-- scanning the platform's every call, and cache that plan.
CREATE INDEX calls_agent ON callbridge.calls (agent_id, started_at);
CREATE INDEX calls_customer_number ON callbridge.calls (customer_number);
CREATE INDEX calls_updated_at ON callbridge.calls (updated_at);
CREATE TRIGGER calls_skip_noop BEFORE UPDATE ON callbridge.calls
    FOR EACH ROW EXECUTE FUNCTION callbridge.skip_noop_update();

-- Ordered transcript of a call; seq is 0-based.
CREATE TABLE callbridge.transcript_segments (
    call_id    bigint      NOT NULL REFERENCES callbridge.calls (id) ON DELETE CASCADE,
    seq        integer     NOT NULL CHECK (seq >= 0),
    role       text        NOT NULL CHECK (role IN ('agent', 'customer', 'system', 'unknown')),
    speaker    text,
    content    text        NOT NULL,
    spoken_at  timestamptz,
    event_at   timestamptz NOT NULL, -- time of the event whose transcript this is
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, seq)
);
CREATE TRIGGER transcript_segments_skip_noop BEFORE UPDATE ON callbridge.transcript_segments
    FOR EACH ROW EXECUTE FUNCTION callbridge.skip_noop_update();

-- Post-call audits and analytics, one per call and kind.
CREATE TABLE callbridge.call_audits (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id     bigint      NOT NULL REFERENCES callbridge.calls (id) ON DELETE CASCADE,
    platform    text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('audit', 'analytics')),
    status      text,
    qualified   boolean,
    reason      text,
    summary     text,
    results     jsonb,
    occurred_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_id, kind)
);
CREATE INDEX call_audits_platform_time ON callbridge.call_audits (platform, occurred_at);
CREATE TRIGGER call_audits_skip_noop BEFORE UPDATE ON callbridge.call_audits
    FOR EACH ROW EXECUTE FUNCTION callbridge.skip_noop_update();

CREATE TABLE callbridge.sms_messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform      text        NOT NULL,
    external_id   text        NOT NULL,
    direction     text CHECK (direction IN ('inbound', 'outbound')),
    message_type  text CHECK (message_type IN ('sms', 'mms')),
    content       text,
    sent_at       timestamptz,
    from_number   text,
    from_name     text,
    to_number     text,
    to_name       text,
    last_event_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, external_id)
);
CREATE INDEX sms_messages_sent_at ON callbridge.sms_messages (sent_at);
CREATE TRIGGER sms_messages_skip_noop BEFORE UPDATE ON callbridge.sms_messages
    FOR EACH ROW EXECUTE FUNCTION callbridge.skip_noop_update();

CREATE TABLE callbridge.contacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform      text        NOT NULL,
    external_id   text        NOT NULL,
    first_name    text,
    last_name     text,
    company       text,
    emails        text[],
    phone_numbers text[],
    last_event_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, external_id)
);
CREATE INDEX contacts_phone_numbers ON callbridge.contacts USING gin (phone_numbers);
CREATE TRIGGER contacts_skip_noop BEFORE UPDATE ON callbridge.contacts
    FOR EACH ROW EXECUTE FUNCTION callbridge.skip_noop_update();

-- Replaces a call's transcript with the one an event carries, unless the stored one
-- comes from a newer event (its event_at). segments is a JSON array of {role, speaker,
-- content, spoken_at}; seq is the array index. Tail rows of a longer, older transcript
-- go. Re-applying the same event changes nothing. The call row is locked, not updated,
-- so two transcripts of one call are applied one after the other.
CREATE FUNCTION callbridge.put_transcript(p_platform text, p_call text, p_at timestamptz,
                                          p_segments jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_call bigint;
    v_at   timestamptz;
BEGIN
    SELECT id INTO v_call
      FROM callbridge.calls WHERE platform = p_platform AND external_id = p_call
       FOR UPDATE; -- subsumes the KEY SHARE of the segments' foreign key: no MultiXact
    IF v_call IS NULL THEN
        RETURN;
    END IF;
    SELECT event_at INTO v_at FROM callbridge.transcript_segments WHERE call_id = v_call AND seq = 0;
    IF v_at > p_at THEN
        RETURN;
    END IF;
    INSERT INTO callbridge.transcript_segments AS t (call_id, seq, role, speaker, content, spoken_at, event_at)
    SELECT v_call, (e.ord - 1)::integer, e.seg->>'role', e.seg->>'speaker',
           coalesce(e.seg->>'content', ''), (e.seg->>'spoken_at')::timestamptz, p_at
      FROM jsonb_array_elements(p_segments) WITH ORDINALITY AS e(seg, ord)
    ON CONFLICT (call_id, seq) DO UPDATE
       SET role = EXCLUDED.role, speaker = EXCLUDED.speaker, content = EXCLUDED.content,
           spoken_at = EXCLUDED.spoken_at, event_at = EXCLUDED.event_at;
    DELETE FROM callbridge.transcript_segments
     WHERE call_id = v_call AND seq >= jsonb_array_length(p_segments);
END
$$;
