-- A version-10 database exactly as today's main (534843d, the last code with the numbered migrations of
-- storage/legacy_migrations.py) makes and fills it: created by SqliteStorage.migrate() and written through the
-- storage's API (two enrolled participants and a console one, answers, a score, outbox rows sent, delivered and
-- deferred, an escalation acknowledged with its notification, schedule rows, a task, a mark, a link code, a flow
-- version, a message seen outside any participant, audit entries), then dumped with sqlite3's iterdump. Frozen:
-- tests/storage/test_storage_upgrade.py upgrades it to Alembic's head and checks that no row changed. Sealed
-- values open with the keys in V10_KEYS there (test keys, made for this file only).
BEGIN TRANSACTION;
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
INSERT INTO "addresses" VALUES(1,'sms','f03a273fa941b28ce84aae351e1caa3b7580c483d939fdc6a2395190f20e9d6d','gAAAAABrFT1ixpBz5NXa3LhIeLbD60G54k55Cm7jtemVaj3kOgqG-a_ddLrAzptnugWkSgus0Y_IHvQT1yr7Ib0pwQks1sR3Mw==','active','2026-11-23T09:00:00.000000+00:00');
INSERT INTO "addresses" VALUES(2,'telegram','4899b75c03453e251258b295a547ab5e38f6ef407319a227f22b11046ce09fa2','gAAAAABrFT1iXZ1j3OmnF0biwSADajh1B7DWxACUnhTPryVdRWUzWRXd67mn7gsA_B2dBrZW8CAkK7275mfv0nxX49IuUSHb0w==','active','2026-11-23T09:00:00.000000+00:00');
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
INSERT INTO "answers" VALUES(1,1,1,'pss10',1,'q1','int',3.0,NULL,'gAAAAABrFT1iucdwTWeW1hQ1cntz_BK9O8Flj5KK1qBwdoi0yqthQcyG4KynFYcKS6CBZfEcrURIHaaWerSMDkkCVARdVpvqGA==','2026-11-23T09:05:00.000000+00:00',0);
INSERT INTO "answers" VALUES(2,1,1,'pss10',1,'q9','str',NULL,'gAAAAABrFT1i7a4Tbh24MKcsh06iAJzAd0JVpp5Zm4qQRwSGpoQZj-s7j9lzaAAvLfRns4V4ZBW_bhH_wJwbrnIlslHKqevvaQ==','gAAAAABrFT1iruOYD_m2tOxUlzifBOCndn80jbTD3OQOKMp5IWripkiDuWD3j5wBuVTToVeipEORP_EHY_roQbylCNEIB4WDxw==','2026-11-23T09:05:00.000000+00:00',0);
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at VARCHAR(32) NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	action VARCHAR(100) NOT NULL, 
	subject VARCHAR(200) NOT NULL, 
	detail TEXT NOT NULL, 
	CONSTRAINT pk_audit_log PRIMARY KEY (id)
);
INSERT INTO "audit_log" VALUES(1,'2026-11-23T09:00:00.000000+00:00','admin','participant.enrolled','participant:p-anna','{"lang":"da","coach_id":"coach-1","channels":["sms"]}');
INSERT INTO "audit_log" VALUES(2,'2026-11-23T09:00:00.000000+00:00','admin','participant.enrolled','participant:p-bo','{"lang":"en","coach_id":"coach-2","channels":[]}');
INSERT INTO "audit_log" VALUES(3,'2026-11-23T09:00:00.000000+00:00','system','address.changed','participant:p-bo','{"channel":"telegram","status":"active"}');
INSERT INTO "audit_log" VALUES(4,'2026-11-23T09:00:00.000000+00:00','participant:p-anna','consent.recorded','participant:p-anna','{"version":"terms-2","channel":"sms"}');
INSERT INTO "audit_log" VALUES(5,'2026-11-23T09:05:00.000000+00:00','participant:p-anna','answer.recorded','participant:p-anna','{"item":"q1"}');
INSERT INTO "audit_log" VALUES(6,'2026-11-23T09:09:00.000000+00:00','system','escalation.opened','participant:p-bo','{"escalation_id":1,"level":"high","trigger_kind":"text"}');
INSERT INTO "audit_log" VALUES(7,'2026-11-23T09:09:00.000000+00:00','system','notification.queued','participant:p-bo','{"notification_id":1,"escalation_id":1,"coach_id":"coach-2","channel":"telegram","tier":0,"attempts":0}');
INSERT INTO "audit_log" VALUES(8,'2026-11-23T09:09:03.000000+00:00','system','notification.sent','participant:p-bo','{"notification_id":1,"escalation_id":1,"coach_id":"coach-2","channel":"telegram","tier":0,"attempts":1}');
INSERT INTO "audit_log" VALUES(9,'2026-11-23T09:13:00.000000+00:00','coach:coach-2','escalation.acknowledged','participant:p-bo','{"escalation_id":1,"level":"high"}');
INSERT INTO "audit_log" VALUES(10,'2026-11-23T09:09:00.000000+00:00','admin:ops','export.answers','all','{"rows":2}');
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
INSERT INTO "coach_tasks" VALUES(1,1,'tre_checkin','{"week":2}','2026-11-23T09:05:00.000000+00:00','2026-11-25T09:05:00.000000+00:00',NULL,NULL);
CREATE TABLE conversations (
	participant_id INTEGER NOT NULL, 
	state TEXT NOT NULL, 
	revision INTEGER NOT NULL, 
	updated_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_conversations PRIMARY KEY (participant_id), 
	CONSTRAINT fk_conversations_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);
INSERT INTO "conversations" VALUES(1,'gAAAAABrFT1ietEOffJnWIRNQxEyh9czUGi7yVlfxmGQCkn779MuoeSPOotYzIVEpYbYDV8hrcJA6mJtkAlvbnh6_HQKp6hYNAurXoTPBEXGzLSkxmmHrsQJNcg8q2cKTFH0PO1E07v2',1,'2026-11-23T09:05:00.000000+00:00');
INSERT INTO "conversations" VALUES(2,'gAAAAABrFT1ivmJ32owT2wkJcMENmrFnuidFTcksDia6FoT-t-LLDrD9Fn9N7_gyXTIp-9bzn7qRzpXnpR6H1bYWtYq8SDsGDw==',1,'2026-11-23T09:09:00.000000+00:00');
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
INSERT INTO "escalation_triggers" VALUES(1,1,'high','text','gAAAAABrFT1iAyu1dJJI8hTDtRGYdIdc55-wQHvilbFDCrpBcSY1_V1ScylYgRltdnGXCgDjD2njbbNkziYHyybfN6w4GUCNPBd13iluttejVXcs24g0HvGPIvMtI3OrRtOav-MV9-0mIWB9NpUwgbj__qCAopUt9w==','2026-11-23T09:09:00.000000+00:00');
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
INSERT INTO "escalations" VALUES(1,2,'high','acknowledged','2026-11-23T09:09:00.000000+00:00',NULL,0,'coach-2','2026-11-23T09:13:00.000000+00:00',NULL,NULL,NULL);
CREATE TABLE flow_versions (
	flow_id VARCHAR(100) NOT NULL, 
	version INTEGER NOT NULL, 
	source TEXT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	first_seen_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_flow_versions PRIMARY KEY (flow_id, version)
);
INSERT INTO "flow_versions" VALUES('pss10',1,'id: pss10
version: 1
','56430d7c555a117722634b809ea61a58679b3c65c246ca4ecfa78a0e96b747c2','2026-11-23T09:00:00.000000+00:00');
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
INSERT INTO "inbox" VALUES(1,'sms','SM0001',1,'2026-11-23T09:05:00.000000+00:00','2026-11-23T09:05:00.000000+00:00','gAAAAABrFT1ikio5v8NQhLVOzXKylxrvau3wlGUICCYZw1LK4gSXw95mJyEpAhWGQvX8zOoNPqcTyBzrHmg9F-B7I7cgt9eNPA==','answer','{"flow_id":"pss10","item_id":"q1"}',0,NULL,NULL,NULL);
INSERT INTO "inbox" VALUES(2,'telegram','77001',2,'2026-11-23T09:09:00.000000+00:00','2026-11-23T09:09:00.000000+00:00','gAAAAABrFT1iJ84UDWalTrmtdIxy3Azs8FsNWbwP805Yx0F_nsVRE99nv06h2V7ztv7OZu4rvY7fYjU3dw9UXA9uzc1fkK4ZhZ6zZniKsKKXQ6T0FXYAYtM=','risk+for_coach','{}',1,NULL,NULL,NULL);
CREATE TABLE link_codes (
	code_digest VARCHAR(128) NOT NULL, 
	participant_id INTEGER NOT NULL, 
	expires_at VARCHAR(32) NOT NULL, 
	used_at VARCHAR(32), 
	created_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_link_codes PRIMARY KEY (code_digest), 
	CONSTRAINT fk_link_codes_participant_id_participants FOREIGN KEY(participant_id) REFERENCES participants (id)
);
INSERT INTO "link_codes" VALUES('ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',3,'2026-11-24T09:00:00.000000+00:00',NULL,'2026-11-23T09:00:00.000000+00:00');
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
INSERT INTO "notifications" VALUES(1,1,'coach-2','telegram',0,'sent',1,'','2026-11-23T09:09:00.000000+00:00','2026-11-23T09:09:03.000000+00:00');
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
INSERT INTO "outbox" VALUES(1,1,'sms','{"text":"Tak. Næste spørgsmål: …"}','2026-11-23T09:05:00.000000+00:00','2026-11-23T09:05:02.000000+00:00',1,NULL,'SMaaaa0001','delivered',NULL,NULL,NULL,1,NULL);
INSERT INTO "outbox" VALUES(2,2,'telegram','{"text":"Ring 70 201 201"}','2026-11-23T09:09:00.000000+00:00',NULL,1,NULL,NULL,NULL,'429','2026-11-23T09:10:00.000000+00:00',NULL,0,NULL);
CREATE TABLE participants (
	id INTEGER NOT NULL, 
	ref VARCHAR(64) NOT NULL, 
	lang VARCHAR(16) NOT NULL, 
	created_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_participants PRIMARY KEY (id), 
	CONSTRAINT uq_participants_ref UNIQUE (ref)
);
INSERT INTO "participants" VALUES(1,'p-anna','da','2026-11-23T09:00:00.000000+00:00');
INSERT INTO "participants" VALUES(2,'p-bo','en','2026-11-23T09:00:00.000000+00:00');
INSERT INTO "participants" VALUES(3,'console-demo','da','2026-11-23T09:00:00.000000+00:00');
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
INSERT INTO "profiles" VALUES(1,'gAAAAABrFT1ihd9zor9fGxHWAzleK6yHR3LZWi7XqhAXiHtSPhF_tPelgPct7sgxxDu__nuTzXcnmRe8KUCMhUgtYPXPm5-fuw==','2026-11-23','coach-1','terms-2','2026-11-23T09:00:00.000000+00:00','bornholm-2026-1','sms');
INSERT INTO "profiles" VALUES(2,'gAAAAABrFT1iFs0_ZYK4j4GKvk8pPi1BPiyIjR7RvnwT8XjpeWfW-Gca2T42w0x9p5zBi6-LodE9T1pImz2KJdnM4SpqyY10cw==',NULL,'coach-2',NULL,NULL,NULL,NULL);
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
INSERT INTO "programme_marks" VALUES(1,1,'module_done','1','{"score":3}','2026-11-23T09:05:00.000000+00:00');
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
INSERT INTO "schedule" VALUES(1,1,'module:1','module','2026-11-30T09:00:00.000000+00:00','{"module":1}','pending','',NULL,'2026-11-23T09:00:00.000000+00:00',NULL);
INSERT INTO "schedule" VALUES(2,1,'wave:week4:open','wave_open','2026-12-21T09:00:00.000000+00:00','{}','pending','',NULL,'2026-11-23T09:00:00.000000+00:00',NULL);
INSERT INTO "schedule" VALUES(3,2,'timer:expire:1','run_expiry','2026-11-23T11:00:00.000000+00:00','{"key":"expire:1"}','pending','',NULL,'2026-11-23T09:00:00.000000+00:00',NULL);
CREATE TABLE schema_migrations (
	version INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	applied_at VARCHAR(32) NOT NULL, 
	PRIMARY KEY (version)
);
INSERT INTO "schema_migrations" VALUES(1,'create initial schema','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(2,'escalations, escalation triggers and coach notifications','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(3,'profiles, channel addresses, link codes and outbox delivery','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(4,'schedule, coach tasks and programme marks','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(5,'the cohort on profiles','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(6,'contact details and names encrypted, consent channel','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(7,'inbound messages kept, what participants wrote encrypted','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(8,'outbox priority and undelivered urgent messages','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(9,'run-expiry timers become schedule rows','2026-12-06T10:48:02.076177+00:00');
INSERT INTO "schema_migrations" VALUES(10,'messages that belong to no participant, seen once','2026-12-06T10:48:02.076177+00:00');
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
INSERT INTO "scores" VALUES(1,1,1,'pss10',1,'total',17.5,'moderate','2026-11-23T09:05:00.000000+00:00');
CREATE TABLE seen_messages (
	channel VARCHAR(32) NOT NULL, 
	channel_message_id VARCHAR(200) NOT NULL, 
	seen_at VARCHAR(32) NOT NULL, 
	CONSTRAINT pk_seen_messages PRIMARY KEY (channel, channel_message_id)
);
INSERT INTO "seen_messages" VALUES('telegram','coach-msg-1','2026-11-23T09:09:00.000000+00:00');
CREATE INDEX ix_audit_log_at ON audit_log (at);
CREATE INDEX ix_answers_participant_id_run_seq_item_id ON answers (participant_id, run_seq, item_id);
CREATE INDEX ix_scores_participant_id_run_seq ON scores (participant_id, run_seq);
CREATE INDEX ix_outbox_unsent ON outbox (channel, priority, id) WHERE sent_at IS NULL AND given_up_at IS NULL;
CREATE INDEX ix_outbox_deferred ON outbox (participant_id, channel, id) WHERE sent_at IS NULL AND given_up_at IS NULL AND not_before IS NOT NULL;
CREATE UNIQUE INDEX ux_outbox_provider_id ON outbox (provider_id);
CREATE INDEX ix_outbox_urgent ON outbox (created_at) WHERE priority = 0 AND undelivered_told_at IS NULL;
CREATE INDEX ix_inbox_for_coach ON inbox (received_at) WHERE for_coach = 1;
CREATE UNIQUE INDEX ux_escalations_active_participant ON escalations (participant_id) WHERE status != 'closed';
CREATE INDEX ix_escalations_status_deadline_at ON escalations (status, deadline_at);
CREATE INDEX ix_link_codes_participant_id ON link_codes (participant_id);
CREATE INDEX ix_schedule_pending_due_at ON schedule (due_at) WHERE status = 'pending';
CREATE INDEX ix_coach_tasks_open ON coach_tasks (created_at) WHERE done_at IS NULL;
CREATE INDEX ix_coach_tasks_participant_id ON coach_tasks (participant_id);
CREATE INDEX ix_programme_marks_participant_id ON programme_marks (participant_id);
CREATE INDEX ix_escalation_triggers_escalation_id ON escalation_triggers (escalation_id);
CREATE INDEX ix_notifications_escalation_id ON notifications (escalation_id);
CREATE INDEX ix_notifications_status ON notifications (status);
COMMIT;
