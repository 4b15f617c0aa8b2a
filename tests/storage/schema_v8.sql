-- The schema exactly as migrations 1 to 8 leave it (the newest schema before migration 9 moved the run-expiry
-- timers into the schedule and dropped the timers table). Frozen: tests build a version-8 database from it and
-- check that migrating brings it, its pending timers included, to the current schema.

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
    provider_id VARCHAR(200),
    delivery_status VARCHAR(32),
    delivery_detail TEXT,
    not_before VARCHAR(32),
    given_up_at VARCHAR(32),
    priority INTEGER DEFAULT 1 NOT NULL,
    undelivered_told_at VARCHAR(32),
    CONSTRAINT pk_outbox PRIMARY KEY (id),
    CONSTRAINT fk_outbox_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_outbox_deferred ON outbox (participant_id, channel, id) WHERE sent_at IS NULL AND given_up_at IS NULL AND not_before IS NOT NULL;

CREATE UNIQUE INDEX ux_outbox_provider_id ON outbox (provider_id);

CREATE INDEX ix_outbox_urgent ON outbox (created_at) WHERE priority = 0 AND undelivered_told_at IS NULL;

CREATE INDEX ix_outbox_unsent ON outbox (channel, priority, id) WHERE sent_at IS NULL AND given_up_at IS NULL;

CREATE TABLE inbox (
    id INTEGER NOT NULL,
    channel VARCHAR(32) NOT NULL,
    channel_message_id VARCHAR(200) NOT NULL,
    participant_id INTEGER NOT NULL,
    received_at VARCHAR(32) NOT NULL,
    processed_at VARCHAR(32),
    body_enc TEXT,
    outcome VARCHAR(100),
    outcome_detail TEXT,
    for_coach BOOLEAN DEFAULT 0 NOT NULL,
    read_by VARCHAR(200),
    read_at VARCHAR(32),
    task_id INTEGER,
    CONSTRAINT pk_inbox PRIMARY KEY (id),
    CONSTRAINT uq_inbox_channel_channel_message_id UNIQUE (channel, channel_message_id),
    CONSTRAINT fk_inbox_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_inbox_for_coach ON inbox (received_at) WHERE for_coach = 1;

CREATE TABLE timers (
    participant_id INTEGER NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    due_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_timers PRIMARY KEY (participant_id, "key"),
    CONSTRAINT fk_timers_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_timers_due_at ON timers (due_at);

CREATE TABLE escalations (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    level VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    opened_at VARCHAR(32) NOT NULL,
    deadline_at VARCHAR(32),
    tier INTEGER DEFAULT 0 NOT NULL,
    acknowledged_by VARCHAR(200),
    acknowledged_at VARCHAR(32),
    closed_by VARCHAR(200),
    closed_at VARCHAR(32),
    outcome_note TEXT,
    CONSTRAINT pk_escalations PRIMARY KEY (id),
    CONSTRAINT ck_escalations_level CHECK (level IN ('low', 'moderate', 'high')),
    CONSTRAINT ck_escalations_status CHECK (status IN ('open', 'acknowledged', 'closed')),
    CONSTRAINT fk_escalations_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_escalations_status_deadline_at ON escalations (status, deadline_at);

CREATE UNIQUE INDEX ux_escalations_active_participant ON escalations (participant_id) WHERE status != 'closed';

CREATE TABLE profiles (
    participant_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_date DATE,
    coach_id VARCHAR(200),
    consent_version VARCHAR(100),
    consent_at VARCHAR(32),
    cohort VARCHAR(100),
    consent_channel VARCHAR(32),
    CONSTRAINT pk_profiles PRIMARY KEY (participant_id),
    CONSTRAINT fk_profiles_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE TABLE addresses (
    participant_id INTEGER NOT NULL,
    channel VARCHAR(32) NOT NULL,
    address_hash VARCHAR(64) NOT NULL,
    address_enc TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    updated_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_addresses PRIMARY KEY (participant_id, channel),
    CONSTRAINT uq_addresses_channel_address_hash UNIQUE (channel, address_hash),
    CONSTRAINT ck_addresses_status CHECK (status IN ('active', 'opted_out', 'unreachable')),
    CONSTRAINT fk_addresses_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE TABLE link_codes (
    code_digest VARCHAR(128) NOT NULL,
    participant_id INTEGER NOT NULL,
    expires_at VARCHAR(32) NOT NULL,
    used_at VARCHAR(32),
    created_at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_link_codes PRIMARY KEY (code_digest),
    CONSTRAINT fk_link_codes_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_link_codes_participant_id ON link_codes (participant_id);

CREATE TABLE schedule (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    "key" VARCHAR(200) NOT NULL,
    kind VARCHAR(40) NOT NULL,
    due_at VARCHAR(32) NOT NULL,
    data TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    reason TEXT DEFAULT '' NOT NULL,
    claimed_until VARCHAR(32),
    created_at VARCHAR(32) NOT NULL,
    updated_at VARCHAR(32),
    CONSTRAINT pk_schedule PRIMARY KEY (id),
    CONSTRAINT uq_schedule_participant_id_key UNIQUE (participant_id, "key"),
    CONSTRAINT ck_schedule_status CHECK (status = 'pending' OR status = 'sent' OR status = 'skipped' OR status = 'cancelled'),
    CONSTRAINT fk_schedule_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_schedule_pending_due_at ON schedule (due_at) WHERE status = 'pending';

CREATE TABLE coach_tasks (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    kind VARCHAR(40) NOT NULL,
    detail TEXT NOT NULL,
    created_at VARCHAR(32) NOT NULL,
    due_at VARCHAR(32),
    done_at VARCHAR(32),
    done_by VARCHAR(200),
    CONSTRAINT pk_coach_tasks PRIMARY KEY (id),
    CONSTRAINT fk_coach_tasks_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_coach_tasks_participant_id ON coach_tasks (participant_id);

CREATE INDEX ix_coach_tasks_open ON coach_tasks (created_at) WHERE done_at IS NULL;

CREATE TABLE programme_marks (
    id INTEGER NOT NULL,
    participant_id INTEGER NOT NULL,
    kind VARCHAR(40) NOT NULL,
    "key" VARCHAR(200) NOT NULL,
    detail TEXT NOT NULL,
    at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_programme_marks PRIMARY KEY (id),
    CONSTRAINT fk_programme_marks_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);

CREATE INDEX ix_programme_marks_participant_id ON programme_marks (participant_id);

CREATE TABLE escalation_triggers (
    id INTEGER NOT NULL,
    escalation_id INTEGER NOT NULL,
    level VARCHAR(16) NOT NULL,
    trigger_kind VARCHAR(32) NOT NULL,
    "trigger" TEXT NOT NULL,
    at VARCHAR(32) NOT NULL,
    CONSTRAINT pk_escalation_triggers PRIMARY KEY (id),
    CONSTRAINT fk_escalation_triggers_escalation_id_escalations FOREIGN KEY(escalation_id) REFERENCES escalations (id)
);

CREATE INDEX ix_escalation_triggers_escalation_id ON escalation_triggers (escalation_id);

CREATE TABLE notifications (
    id INTEGER NOT NULL,
    escalation_id INTEGER NOT NULL,
    coach_id VARCHAR(200) NOT NULL,
    channel VARCHAR(32) NOT NULL,
    tier INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts INTEGER DEFAULT 0 NOT NULL,
    detail TEXT DEFAULT '' NOT NULL,
    created_at VARCHAR(32) NOT NULL,
    updated_at VARCHAR(32),
    CONSTRAINT pk_notifications PRIMARY KEY (id),
    CONSTRAINT ck_notifications_status CHECK (status IN ('pending', 'sent', 'failed')),
    CONSTRAINT fk_notifications_escalation_id_escalations FOREIGN KEY(escalation_id) REFERENCES escalations (id)
);

CREATE INDEX ix_notifications_escalation_id ON notifications (escalation_id);

CREATE INDEX ix_notifications_status ON notifications (status);
