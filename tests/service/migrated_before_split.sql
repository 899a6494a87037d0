PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE IF NOT EXISTS "tortoise_migrations" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "app" VARCHAR(255) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "applied_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_tortoise_mi_app_3803a5" UNIQUE ("app", "name")
);
INSERT INTO tortoise_migrations VALUES(1,'models','0001_initial','2026-12-03 07:56:43.680773+00:00');
INSERT INTO tortoise_migrations VALUES(2,'models','0002_surveys','2026-12-03 07:56:43.747936+00:00');
INSERT INTO tortoise_migrations VALUES(3,'models','0003_scoring','2026-12-03 07:56:43.763747+00:00');
INSERT INTO tortoise_migrations VALUES(4,'models','0004_area_merchant_figures','2026-12-03 07:56:43.782956+00:00');
INSERT INTO tortoise_migrations VALUES(5,'models','0005_credit','2026-12-03 07:56:43.831447+00:00');
INSERT INTO tortoise_migrations VALUES(6,'models','0006_credit_event_covering_index','2026-12-03 07:56:43.839895+00:00');
INSERT INTO tortoise_migrations VALUES(7,'models','0007_certificates','2026-12-03 07:56:43.914067+00:00');
INSERT INTO tortoise_migrations VALUES(8,'models','0008_outbox','2026-12-03 07:56:43.927620+00:00');
INSERT INTO tortoise_migrations VALUES(9,'models','0009_replies','2026-12-03 07:56:43.942479+00:00');
INSERT INTO tortoise_migrations VALUES(10,'models','0010_surge_flag','2026-12-03 07:56:43.960462+00:00');
INSERT INTO tortoise_migrations VALUES(11,'models','0011_status_index','2026-12-03 07:56:43.998808+00:00');
INSERT INTO tortoise_migrations VALUES(12,'models','0012_job_run','2026-12-03 07:56:44.066197+00:00');
CREATE TABLE IF NOT EXISTS "api_token" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "role" VARCHAR(16) NOT NULL  /* MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed */,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "last_used_at" TIMESTAMP,
    "revoked_at" TIMESTAMP
);
CREATE TABLE IF NOT EXISTS "area" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "kind" VARCHAR(16) NOT NULL  /* CITY: city\nDISTRICT: district\nSTREET: street\nSCENIC_SPOT: scenic_spot */,
    "name_zh" VARCHAR(100) NOT NULL,
    "name_en" VARCHAR(200) NOT NULL,
    "is_demo" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "parent_id" INT REFERENCES "area" ("id") ON DELETE RESTRICT
);
CREATE TABLE IF NOT EXISTS "audit_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "actor" VARCHAR(100) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "subject" VARCHAR(200) NOT NULL,
    "details" JSON NOT NULL,
    "prev_hash" VARCHAR(64) NOT NULL,
    "hash" VARCHAR(64) NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS "merchant" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "uscc" VARCHAR(18) NOT NULL UNIQUE,
    "uscc_override" INT NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "category" VARCHAR(32) NOT NULL  /* CATERING: catering\nRETAIL: retail\nLODGING: lodging\nTOURISM: tourism_services\nENTERTAINMENT: entertainment\nSERVICES: personal_services\nAUTOMOTIVE: automotive\nHEALTH: pharmacy_health */,
    "address" VARCHAR(300) NOT NULL,
    "status" VARCHAR(16) NOT NULL  /* ACTIVE: active\nCLOSED: closed */,
    "is_demo" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "district_id" INT NOT NULL REFERENCES "area" ("id") ON DELETE RESTRICT,
    "scenic_spot_id" INT REFERENCES "area" ("id") ON DELETE RESTRICT,
    "street_id" INT REFERENCES "area" ("id") ON DELETE RESTRICT
);
CREATE TABLE IF NOT EXISTS "account" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(16) NOT NULL  /* MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed */,
    "active" INT NOT NULL,
    "failed_logins" INT NOT NULL,
    "locked_until" TIMESTAMP,
    "last_login_at" TIMESTAMP,
    "is_demo" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "merchant_id" INT REFERENCES "merchant" ("id") ON DELETE RESTRICT
);
CREATE TABLE IF NOT EXISTS "survey" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "slug" VARCHAR(64) NOT NULL UNIQUE,
    "title_zh" VARCHAR(200) NOT NULL,
    "title_en" VARCHAR(200) NOT NULL,
    "target_kind" VARCHAR(16) NOT NULL  /* MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot */,
    "opens_at" TIMESTAMP NOT NULL,
    "closes_at" TIMESTAMP,
    "period_days" INT NOT NULL,
    "is_demo" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS "response" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" INT NOT NULL,
    "target_kind" VARCHAR(16) NOT NULL  /* MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot */,
    "target_code" VARCHAR(32) NOT NULL,
    "client_submission_id" CHAR(36) NOT NULL UNIQUE,
    "started_at" TIMESTAMP,
    "submitted_at" TIMESTAMP NOT NULL,
    "duration_ms" INT,
    "device_hash" VARCHAR(64),
    "ip_hash" VARCHAR(64),
    "invited" INT NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "excluded" INT NOT NULL,
    "is_demo" INT NOT NULL,
    "survey_id" INT NOT NULL REFERENCES "survey" ("id") ON DELETE RESTRICT
);
CREATE TABLE IF NOT EXISTS "answer" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "question_key" VARCHAR(64) NOT NULL,
    "value_num" REAL,
    "value_norm" REAL,
    "value_text" TEXT,
    "response_id" BIGINT NOT NULL REFERENCES "response" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "invite_code" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "response_id" BIGINT REFERENCES "response" ("id") ON DELETE SET NULL,
    "survey_id" INT NOT NULL REFERENCES "survey" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "survey_version" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" INT NOT NULL,
    "definition" JSON NOT NULL,
    "content_hash" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "survey_id" INT NOT NULL REFERENCES "survey" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_survey_vers_survey__be2b5d" UNIQUE ("survey_id", "version")
);
CREATE TABLE IF NOT EXISTS "score_run" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "status" VARCHAR(16) NOT NULL  /* RUNNING: running\nDRAFT: draft\nPUBLISHED: published\nDISCARDED: discarded\nFAILED: failed */,
    "created_at" TIMESTAMP NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "finished_at" TIMESTAMP,
    "published_at" TIMESTAMP,
    "published_by" VARCHAR(100),
    "superseded_at" TIMESTAMP,
    "discarded_reason" VARCHAR(500),
    "error" TEXT,
    "window_since" TIMESTAMP NOT NULL,
    "window_until" TIMESTAMP NOT NULL,
    "params" JSON NOT NULL,
    "code_version" VARCHAR(64) NOT NULL,
    "counts" JSON NOT NULL,
    "priors" JSON NOT NULL,
    "timings" JSON NOT NULL,
    "fingerprint" VARCHAR(64) NOT NULL
);
CREATE TABLE IF NOT EXISTS "unit_score" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "parent" VARCHAR(32),
    "n" INT NOT NULL,
    "n_excluded" INT NOT NULL,
    "mean" REAL,
    "sd" REAL,
    "ci_low" REAL,
    "ci_high" REAL,
    "score" REAL,
    "nps" REAL,
    "nps_se" REAL,
    "insufficient_data" INT NOT NULL,
    "rank" INT,
    "tie_group" INT,
    "dimensions" JSON NOT NULL,
    "run_id" INT NOT NULL REFERENCES "score_run" ("id") ON DELETE CASCADE, "merchants_scored" INT, "share_certifiable" REAL,
    CONSTRAINT "uid_unit_score_run_id_939017" UNIQUE ("run_id", "kind", "code")
);
CREATE TABLE IF NOT EXISTS "complaint" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "source" VARCHAR(64) NOT NULL,
    "external_id" VARCHAR(128) NOT NULL,
    "received_at" TIMESTAMP NOT NULL,
    "accepted_at" TIMESTAMP,
    "closed_at" TIMESTAMP,
    "status" VARCHAR(16) NOT NULL  /* RECEIVED: received\nACCEPTED: accepted\nREJECTED: rejected\nMEDIATING: mediating\nCLOSED: closed\nTERMINATED: terminated */,
    "category" VARCHAR(32) NOT NULL,
    "amount_disputed_fen" BIGINT NOT NULL,
    "amount_recovered_fen" BIGINT NOT NULL,
    "upheld" INT,
    "accept_due" DATE NOT NULL,
    "mediation_due" DATE,
    "overdue_since" DATE,
    "recorded_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "merchant_id" INT NOT NULL REFERENCES "merchant" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_complaint_source_23a7bc" UNIQUE ("source", "external_id")
);
CREATE TABLE IF NOT EXISTS "credit_change" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "changed_at" TIMESTAMP NOT NULL,
    "old_score" REAL NOT NULL,
    "old_class" VARCHAR(1) NOT NULL,
    "new_score" REAL NOT NULL,
    "new_class" VARCHAR(1) NOT NULL,
    "cause" VARCHAR(16) NOT NULL,
    "event_ids" JSON NOT NULL,
    "rules_version" VARCHAR(32) NOT NULL,
    "merchant_id" INT NOT NULL REFERENCES "merchant" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "credit_event" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "occurred_at" TIMESTAMP NOT NULL,
    "source" VARCHAR(64) NOT NULL,
    "external_ref" VARCHAR(128) NOT NULL,
    "note" TEXT NOT NULL,
    "risk_class" VARCHAR(1),
    "recorded_at" TIMESTAMP NOT NULL,
    "merchant_id" INT NOT NULL REFERENCES "merchant" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_credit_even_source_85c45f" UNIQUE ("source", "external_ref")
);
CREATE TABLE IF NOT EXISTS "credit_standing" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "score" REAL NOT NULL,
    "risk_class" VARCHAR(1) NOT NULL,
    "abnormal_listed" INT NOT NULL,
    "serious_listed" INT NOT NULL,
    "external_class" VARCHAR(1),
    "rules_version" VARCHAR(32) NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "merchant_id" INT NOT NULL UNIQUE REFERENCES "merchant" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "certificate_status_change" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "at" TIMESTAMP NOT NULL,
    "old_status" VARCHAR(16)   /* ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nEXPIRED: expired */,
    "new_status" VARCHAR(16) NOT NULL  /* ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nEXPIRED: expired */,
    "reason" VARCHAR(64) NOT NULL,
    "note" TEXT NOT NULL,
    "actor" VARCHAR(100) NOT NULL,
    "evidence" JSON NOT NULL,
    "certificate_id" INT NOT NULL REFERENCES "certificate" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "outbox_message" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "topic" VARCHAR(64) NOT NULL,
    "payload" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "delivered_at" TIMESTAMP,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMP NOT NULL,
    "last_error" VARCHAR(500)
);
CREATE TABLE IF NOT EXISTS "certificate_reply" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "text" TEXT NOT NULL,
    "submitted_by" VARCHAR(100) NOT NULL,
    "submitted_at" TIMESTAMP NOT NULL,
    "decision" VARCHAR(16)   /* UPHELD: upheld\nDISMISSED: dismissed */,
    "decision_note" TEXT NOT NULL,
    "decided_by" VARCHAR(100),
    "decided_at" TIMESTAMP,
    "certificate_id" INT NOT NULL REFERENCES "certificate" ("id") ON DELETE CASCADE,
    "change_id" BIGINT NOT NULL REFERENCES "certificate_status_change" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_certificate_change__b25e2d" UNIQUE ("change_id")
);
CREATE TABLE IF NOT EXISTS "response_flag" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "response_id" BIGINT NOT NULL REFERENCES "response" ("id") ON DELETE CASCADE, "kind" VARCHAR(24) NOT NULL, "status" VARCHAR(16) NOT NULL, "detail" VARCHAR(200) NOT NULL, "raised_at" TIMESTAMP NOT NULL, "decided_by" VARCHAR(100), "decided_at" TIMESTAMP, "reason" VARCHAR(500));
CREATE TABLE IF NOT EXISTS "certificate" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "serial" VARCHAR(32) NOT NULL UNIQUE, "kind" VARCHAR(16) NOT NULL, "subject_code" VARCHAR(32) NOT NULL, "subject_name" VARCHAR(200) NOT NULL, "policy_version" VARCHAR(32) NOT NULL, "score_run_id" INT, "basis" JSON NOT NULL, "issued_by" VARCHAR(100) NOT NULL, "issued_at" TIMESTAMP NOT NULL, "valid_from" TIMESTAMP NOT NULL, "valid_until" TIMESTAMP NOT NULL, "status" VARCHAR(16) NOT NULL, "status_reason" VARCHAR(64), "status_changed_at" TIMESTAMP NOT NULL, "grace_until" TIMESTAMP, "pdf_sha256" VARCHAR(64), "is_demo" INT NOT NULL, "status_index" INT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS "job_run" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "job" VARCHAR(32) NOT NULL,
    "slot" TIMESTAMP NOT NULL,
    "worker" VARCHAR(100) NOT NULL,
    "started_at" TIMESTAMP NOT NULL,
    "lease_until" TIMESTAMP NOT NULL,
    "finished_at" TIMESTAMP,
    "outcome" VARCHAR(16) NOT NULL  /* RUNNING: running\nOK: ok\nFAILED: failed */,
    "error" TEXT,
    "details" JSON NOT NULL,
    CONSTRAINT "uid_job_run_job_d2769e" UNIQUE ("job", "slot")
);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('tortoise_migrations',12);
INSERT INTO sqlite_sequence VALUES('response_flag',0);
INSERT INTO sqlite_sequence VALUES('certificate',0);
CREATE INDEX "idx_area_kind_2605dd" ON "area" ("kind");
CREATE INDEX "idx_audit_event_action_3fd1cc" ON "audit_event" ("action");
CREATE INDEX "idx_audit_event_subject_aae2d5" ON "audit_event" ("subject");
CREATE INDEX "idx_merchant_name_dce470" ON "merchant" ("name");
CREATE INDEX "idx_merchant_categor_b93e67" ON "merchant" ("category");
CREATE INDEX "idx_merchant_status_f35159" ON "merchant" ("status");
CREATE INDEX "idx_response_submitt_0611e2" ON "response" ("submitted_at");
CREATE INDEX "idx_response_survey__819470" ON "response" ("survey_id", "target_code", "device_hash");
CREATE INDEX "idx_response_target__2e36c3" ON "response" ("target_code", "ip_hash", "submitted_at");
CREATE INDEX "idx_answer_respons_aae647" ON "answer" ("response_id");
CREATE INDEX "idx_unit_score_run_id_947833" ON "unit_score" ("run_id", "kind", "rank");
CREATE INDEX "idx_complaint_receive_07a82b" ON "complaint" ("received_at");
CREATE INDEX "idx_complaint_merchan_b9eee6" ON "complaint" ("merchant_id", "received_at");
CREATE INDEX "idx_credit_chan_merchan_ee919b" ON "credit_change" ("merchant_id", "changed_at");
CREATE INDEX "idx_credit_even_merchan_23c9e8" ON "credit_event" ("merchant_id", "occurred_at");
CREATE INDEX "idx_credit_stan_risk_cl_497c9d" ON "credit_standing" ("risk_class");
CREATE INDEX "idx_certificate_certifi_034e4b" ON "certificate_status_change" ("certificate_id", "at");
CREATE INDEX "idx_outbox_mess_deliver_8b393d" ON "outbox_message" ("delivered_at", "next_attempt_at");
COMMIT;
