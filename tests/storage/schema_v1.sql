-- The schema exactly as migration 1 created it (storage/ at commit bf82118), before migration 2 existed.
-- Frozen: tests build a version-1 database from it and check that migrating brings it to the current schema.

CREATE TABLE schema_migrations (
    version INTEGER NOT NULL,
    name VARCHAR(200) NOT NULL,
    applied_at VARCHAR(32) NOT NULL,
    PRIMARY KEY (version)
);

CREATE TABLE participants (
    id INTEGER NOT NULL,
    ref VARCHAR(64) NOT NULL,
    lang VARCHAR(16) NOT NULL,
    created_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_participants PRIMARY KEY (id),
    CONSTRAINT uq_participants_ref UNIQUE (ref)
);

CREATE TABLE flow_versions (
    flow_id VARCHAR(100) NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    sha256 VARCHAR(64) NOT NULL,
    first_seen_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_flow_versions PRIMARY KEY (flow_id, version)
);

CREATE TABLE audit_log (
    id INTEGER NOT NULL,
    at VARCHAR(32) NOT NULL,
    actor VARCHAR(200) NOT NULL,
    action VARCHAR(100) NOT NULL,
    subject VARCHAR(200) NOT NULL,
    detail TEXT NOT NULL,
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
);

CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE TABLE conversations (
    participant_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_conversations PRIMARY KEY (participant_id),
    CONSTRAINT fk_conversations_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE TABLE answers (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    run_seq INTEGER NOT NULL,
    flow_id VARCHAR(100) NOT NULL,
    flow_version INTEGER NOT NULL,
    item_id VARCHAR(100) NOT NULL,
    value_kind VARCHAR(8) NOT NULL,
    value_num FLOAT,
    value_text TEXT,
    raw_text TEXT NOT NULL,
    answered_at VARCHAR(32) NOT NULL,
    superseded BOOLEAN DEFAULT 0 NOT NULL,
    CONSTRAINT pk_answers PRIMARY KEY (id),
    CONSTRAINT ck_answers_value_kind CHECK (value_kind IN ('int', 'float', 'str')),
    CONSTRAINT fk_answers_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_answers_participant_id_run_seq_item_id ON answers (participant_id, run_seq, item_id);

CREATE TABLE scores (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    run_seq INTEGER NOT NULL,
    flow_id VARCHAR(100) NOT NULL,
    flow_version INTEGER NOT NULL,
    score_id VARCHAR(100) NOT NULL,
    value FLOAT NOT NULL,
    band VARCHAR(100),
    completed_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_scores PRIMARY KEY (id),
    CONSTRAINT fk_scores_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_scores_participant_id_run_seq ON scores (participant_id, run_seq);

CREATE TABLE outbox (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    channel VARCHAR(32) NOT NULL,
    payload TEXT NOT NULL,
    created_at VARCHAR(32) NOT NULL,
    sent_at VARCHAR(32),
    attempts INTEGER DEFAULT 0 NOT NULL,
    insert_sentinel INTEGER,
    CONSTRAINT pk_outbox PRIMARY KEY (id),
    CONSTRAINT fk_outbox_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_outbox_unsent ON outbox (channel, id) WHERE sent_at IS NULL;

CREATE TABLE inbox (
    id INTEGER NOT NULL,
    channel VARCHAR(32) NOT NULL,
    channel_message_id VARCHAR(200) NOT NULL,
    participant_id INTEGER NOT NULL,
    received_at VARCHAR(32) NOT NULL,
    processed_at VARCHAR(32),
    CONSTRAINT pk_inbox PRIMARY KEY (id),
    CONSTRAINT uq_inbox_channel_channel_message_id UNIQUE (channel, channel_message_id),
    CONSTRAINT fk_inbox_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE TABLE timers (
    participant_id INTEGER NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    due_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_timers PRIMARY KEY (participant_id, "key"),
    CONSTRAINT fk_timers_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_timers_due_at ON timers (due_at);
