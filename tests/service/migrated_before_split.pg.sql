-- A PostgreSQL database migrated by the code before scoring split into scoring.satisfaction and
-- scoring.credit (issue 18, commit 4682adb): pg_dump --no-owner --no-privileges. Loaded by
-- tests/service/test_migrations.py.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: account; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.account (
    id integer NOT NULL,
    username character varying(64) NOT NULL,
    password_hash character varying(255) NOT NULL,
    role character varying(16) NOT NULL,
    active boolean NOT NULL,
    failed_logins integer NOT NULL,
    locked_until timestamp with time zone,
    last_login_at timestamp with time zone,
    is_demo boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    merchant_id integer
);


--
-- Name: account_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.account_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: account_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.account_id_seq OWNED BY public.account.id;


--
-- Name: answer; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.answer (
    id bigint NOT NULL,
    question_key character varying(64) NOT NULL,
    value_num double precision,
    value_norm double precision,
    value_text text,
    response_id bigint NOT NULL
);


--
-- Name: answer_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.answer_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: answer_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.answer_id_seq OWNED BY public.answer.id;


--
-- Name: api_token; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_token (
    id integer NOT NULL,
    name character varying(100) NOT NULL,
    role character varying(16) NOT NULL,
    token_hash character varying(64) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone
);


--
-- Name: api_token_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.api_token_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: api_token_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.api_token_id_seq OWNED BY public.api_token.id;


--
-- Name: area; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.area (
    id integer NOT NULL,
    code character varying(32) NOT NULL,
    kind character varying(16) NOT NULL,
    name_zh character varying(100) NOT NULL,
    name_en character varying(200) NOT NULL,
    is_demo boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    parent_id integer
);


--
-- Name: area_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.area_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: area_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.area_id_seq OWNED BY public.area.id;


--
-- Name: audit_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_event (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    actor character varying(100) NOT NULL,
    action character varying(64) NOT NULL,
    subject character varying(200) NOT NULL,
    details jsonb NOT NULL,
    prev_hash character varying(64) NOT NULL,
    hash character varying(64) NOT NULL
);


--
-- Name: audit_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_event_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_event_id_seq OWNED BY public.audit_event.id;


--
-- Name: certificate; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.certificate (
    id integer NOT NULL,
    serial character varying(32) NOT NULL,
    kind character varying(16) NOT NULL,
    subject_code character varying(32) NOT NULL,
    subject_name character varying(200) NOT NULL,
    policy_version character varying(32) NOT NULL,
    score_run_id integer,
    basis jsonb NOT NULL,
    issued_by character varying(100) NOT NULL,
    issued_at timestamp with time zone NOT NULL,
    valid_from timestamp with time zone NOT NULL,
    valid_until timestamp with time zone NOT NULL,
    status character varying(16) NOT NULL,
    status_reason character varying(64),
    status_changed_at timestamp with time zone NOT NULL,
    grace_until timestamp with time zone,
    pdf_sha256 character varying(64),
    is_demo boolean NOT NULL,
    status_index integer NOT NULL
);


--
-- Name: certificate_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.certificate_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: certificate_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.certificate_id_seq OWNED BY public.certificate.id;


--
-- Name: certificate_reply; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.certificate_reply (
    id integer NOT NULL,
    text text NOT NULL,
    submitted_by character varying(100) NOT NULL,
    submitted_at timestamp with time zone NOT NULL,
    decision character varying(16),
    decision_note text NOT NULL,
    decided_by character varying(100),
    decided_at timestamp with time zone,
    certificate_id integer NOT NULL,
    change_id bigint NOT NULL
);


--
-- Name: certificate_reply_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.certificate_reply_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: certificate_reply_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.certificate_reply_id_seq OWNED BY public.certificate_reply.id;


--
-- Name: certificate_status_change; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.certificate_status_change (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    old_status character varying(16),
    new_status character varying(16) NOT NULL,
    reason character varying(64) NOT NULL,
    note text NOT NULL,
    actor character varying(100) NOT NULL,
    evidence jsonb NOT NULL,
    certificate_id integer NOT NULL
);


--
-- Name: certificate_status_change_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.certificate_status_change_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: certificate_status_change_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.certificate_status_change_id_seq OWNED BY public.certificate_status_change.id;


--
-- Name: complaint; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.complaint (
    id bigint NOT NULL,
    source character varying(64) NOT NULL,
    external_id character varying(128) NOT NULL,
    received_at timestamp with time zone NOT NULL,
    accepted_at timestamp with time zone,
    closed_at timestamp with time zone,
    status character varying(16) NOT NULL,
    category character varying(32) NOT NULL,
    amount_disputed_fen bigint NOT NULL,
    amount_recovered_fen bigint NOT NULL,
    upheld boolean,
    accept_due date NOT NULL,
    mediation_due date,
    overdue_since date,
    recorded_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    merchant_id integer NOT NULL
);


--
-- Name: complaint_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.complaint_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: complaint_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.complaint_id_seq OWNED BY public.complaint.id;


--
-- Name: credit_change; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.credit_change (
    id bigint NOT NULL,
    changed_at timestamp with time zone NOT NULL,
    old_score double precision NOT NULL,
    old_class character varying(1) NOT NULL,
    new_score double precision NOT NULL,
    new_class character varying(1) NOT NULL,
    cause character varying(16) NOT NULL,
    event_ids jsonb NOT NULL,
    rules_version character varying(32) NOT NULL,
    merchant_id integer NOT NULL
);


--
-- Name: credit_change_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.credit_change_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: credit_change_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.credit_change_id_seq OWNED BY public.credit_change.id;


--
-- Name: credit_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.credit_event (
    id bigint NOT NULL,
    kind character varying(32) NOT NULL,
    occurred_at timestamp with time zone NOT NULL,
    source character varying(64) NOT NULL,
    external_ref character varying(128) NOT NULL,
    note text NOT NULL,
    risk_class character varying(1),
    recorded_at timestamp with time zone NOT NULL,
    merchant_id integer NOT NULL
);


--
-- Name: credit_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.credit_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: credit_event_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.credit_event_id_seq OWNED BY public.credit_event.id;


--
-- Name: credit_standing; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.credit_standing (
    id integer NOT NULL,
    score double precision NOT NULL,
    risk_class character varying(1) NOT NULL,
    abnormal_listed boolean NOT NULL,
    serious_listed boolean NOT NULL,
    external_class character varying(1),
    rules_version character varying(32) NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    merchant_id integer NOT NULL
);


--
-- Name: credit_standing_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.credit_standing_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: credit_standing_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.credit_standing_id_seq OWNED BY public.credit_standing.id;


--
-- Name: invite_code; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invite_code (
    id integer NOT NULL,
    code_hash character varying(64) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    response_id bigint,
    survey_id integer NOT NULL
);


--
-- Name: invite_code_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.invite_code_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: invite_code_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.invite_code_id_seq OWNED BY public.invite_code.id;


--
-- Name: job_run; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_run (
    id bigint NOT NULL,
    job character varying(32) NOT NULL,
    slot timestamp with time zone NOT NULL,
    worker character varying(100) NOT NULL,
    started_at timestamp with time zone NOT NULL,
    lease_until timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    outcome character varying(16) NOT NULL,
    error text,
    details jsonb NOT NULL
);


--
-- Name: job_run_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.job_run_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: job_run_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.job_run_id_seq OWNED BY public.job_run.id;


--
-- Name: merchant; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.merchant (
    id integer NOT NULL,
    uscc character varying(18) NOT NULL,
    uscc_override boolean NOT NULL,
    name character varying(200) NOT NULL,
    category character varying(32) NOT NULL,
    address character varying(300) NOT NULL,
    status character varying(16) NOT NULL,
    is_demo boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    district_id integer NOT NULL,
    scenic_spot_id integer,
    street_id integer
);


--
-- Name: merchant_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.merchant_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: merchant_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.merchant_id_seq OWNED BY public.merchant.id;


--
-- Name: outbox_message; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox_message (
    id bigint NOT NULL,
    topic character varying(64) NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL,
    delivered_at timestamp with time zone,
    attempts integer NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error character varying(500)
);


--
-- Name: outbox_message_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_message_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_message_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_message_id_seq OWNED BY public.outbox_message.id;


--
-- Name: response; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.response (
    id bigint NOT NULL,
    version integer NOT NULL,
    target_kind character varying(16) NOT NULL,
    target_code character varying(32) NOT NULL,
    client_submission_id uuid NOT NULL,
    started_at timestamp with time zone,
    submitted_at timestamp with time zone NOT NULL,
    duration_ms integer,
    device_hash character varying(64),
    ip_hash character varying(64),
    invited boolean NOT NULL,
    channel character varying(16) NOT NULL,
    excluded boolean NOT NULL,
    is_demo boolean NOT NULL,
    survey_id integer NOT NULL
);


--
-- Name: response_flag; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.response_flag (
    id bigint NOT NULL,
    kind character varying(24) NOT NULL,
    status character varying(16) NOT NULL,
    detail character varying(200) NOT NULL,
    raised_at timestamp with time zone NOT NULL,
    decided_by character varying(100),
    decided_at timestamp with time zone,
    reason character varying(500),
    response_id bigint NOT NULL
);


--
-- Name: response_flag_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.response_flag_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: response_flag_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.response_flag_id_seq OWNED BY public.response_flag.id;


--
-- Name: response_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.response_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: response_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.response_id_seq OWNED BY public.response.id;


--
-- Name: score_run; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.score_run (
    id integer NOT NULL,
    status character varying(16) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    created_by character varying(100) NOT NULL,
    finished_at timestamp with time zone,
    published_at timestamp with time zone,
    published_by character varying(100),
    superseded_at timestamp with time zone,
    discarded_reason character varying(500),
    error text,
    window_since timestamp with time zone NOT NULL,
    window_until timestamp with time zone NOT NULL,
    params jsonb NOT NULL,
    code_version character varying(64) NOT NULL,
    counts jsonb NOT NULL,
    priors jsonb NOT NULL,
    timings jsonb NOT NULL,
    fingerprint character varying(64) NOT NULL
);


--
-- Name: score_run_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.score_run_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: score_run_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.score_run_id_seq OWNED BY public.score_run.id;


--
-- Name: survey; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.survey (
    id integer NOT NULL,
    slug character varying(64) NOT NULL,
    title_zh character varying(200) NOT NULL,
    title_en character varying(200) NOT NULL,
    target_kind character varying(16) NOT NULL,
    opens_at timestamp with time zone NOT NULL,
    closes_at timestamp with time zone,
    period_days integer NOT NULL,
    is_demo boolean NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: survey_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.survey_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: survey_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.survey_id_seq OWNED BY public.survey.id;


--
-- Name: survey_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.survey_version (
    id integer NOT NULL,
    version integer NOT NULL,
    definition jsonb NOT NULL,
    content_hash character varying(64) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    survey_id integer NOT NULL
);


--
-- Name: survey_version_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.survey_version_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: survey_version_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.survey_version_id_seq OWNED BY public.survey_version.id;


--
-- Name: tortoise_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tortoise_migrations (
    id integer NOT NULL,
    app character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp with time zone NOT NULL
);


--
-- Name: tortoise_migrations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.tortoise_migrations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: tortoise_migrations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.tortoise_migrations_id_seq OWNED BY public.tortoise_migrations.id;


--
-- Name: unit_score; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.unit_score (
    id bigint NOT NULL,
    kind character varying(16) NOT NULL,
    code character varying(32) NOT NULL,
    parent character varying(32),
    n integer NOT NULL,
    n_excluded integer NOT NULL,
    mean double precision,
    sd double precision,
    ci_low double precision,
    ci_high double precision,
    score double precision,
    nps double precision,
    nps_se double precision,
    insufficient_data boolean NOT NULL,
    rank integer,
    tie_group integer,
    dimensions jsonb NOT NULL,
    run_id integer NOT NULL,
    merchants_scored integer,
    share_certifiable double precision
);


--
-- Name: unit_score_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.unit_score_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: unit_score_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.unit_score_id_seq OWNED BY public.unit_score.id;


--
-- Name: account id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.account ALTER COLUMN id SET DEFAULT nextval('public.account_id_seq'::regclass);


--
-- Name: answer id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.answer ALTER COLUMN id SET DEFAULT nextval('public.answer_id_seq'::regclass);


--
-- Name: api_token id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token ALTER COLUMN id SET DEFAULT nextval('public.api_token_id_seq'::regclass);


--
-- Name: area id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.area ALTER COLUMN id SET DEFAULT nextval('public.area_id_seq'::regclass);


--
-- Name: audit_event id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event ALTER COLUMN id SET DEFAULT nextval('public.audit_event_id_seq'::regclass);


--
-- Name: certificate id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate ALTER COLUMN id SET DEFAULT nextval('public.certificate_id_seq'::regclass);


--
-- Name: certificate_reply id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_reply ALTER COLUMN id SET DEFAULT nextval('public.certificate_reply_id_seq'::regclass);


--
-- Name: certificate_status_change id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_status_change ALTER COLUMN id SET DEFAULT nextval('public.certificate_status_change_id_seq'::regclass);


--
-- Name: complaint id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.complaint ALTER COLUMN id SET DEFAULT nextval('public.complaint_id_seq'::regclass);


--
-- Name: credit_change id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_change ALTER COLUMN id SET DEFAULT nextval('public.credit_change_id_seq'::regclass);


--
-- Name: credit_event id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_event ALTER COLUMN id SET DEFAULT nextval('public.credit_event_id_seq'::regclass);


--
-- Name: credit_standing id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_standing ALTER COLUMN id SET DEFAULT nextval('public.credit_standing_id_seq'::regclass);


--
-- Name: invite_code id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_code ALTER COLUMN id SET DEFAULT nextval('public.invite_code_id_seq'::regclass);


--
-- Name: job_run id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_run ALTER COLUMN id SET DEFAULT nextval('public.job_run_id_seq'::regclass);


--
-- Name: merchant id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant ALTER COLUMN id SET DEFAULT nextval('public.merchant_id_seq'::regclass);


--
-- Name: outbox_message id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_message ALTER COLUMN id SET DEFAULT nextval('public.outbox_message_id_seq'::regclass);


--
-- Name: response id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response ALTER COLUMN id SET DEFAULT nextval('public.response_id_seq'::regclass);


--
-- Name: response_flag id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response_flag ALTER COLUMN id SET DEFAULT nextval('public.response_flag_id_seq'::regclass);


--
-- Name: score_run id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.score_run ALTER COLUMN id SET DEFAULT nextval('public.score_run_id_seq'::regclass);


--
-- Name: survey id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey ALTER COLUMN id SET DEFAULT nextval('public.survey_id_seq'::regclass);


--
-- Name: survey_version id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey_version ALTER COLUMN id SET DEFAULT nextval('public.survey_version_id_seq'::regclass);


--
-- Name: tortoise_migrations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tortoise_migrations ALTER COLUMN id SET DEFAULT nextval('public.tortoise_migrations_id_seq'::regclass);


--
-- Name: unit_score id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_score ALTER COLUMN id SET DEFAULT nextval('public.unit_score_id_seq'::regclass);


--
-- Data for Name: account; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.account (id, username, password_hash, role, active, failed_logins, locked_until, last_login_at, is_demo, created_at, merchant_id) FROM stdin;
\.


--
-- Data for Name: answer; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.answer (id, question_key, value_num, value_norm, value_text, response_id) FROM stdin;
\.


--
-- Data for Name: api_token; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.api_token (id, name, role, token_hash, created_at, last_used_at, revoked_at) FROM stdin;
\.


--
-- Data for Name: area; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.area (id, code, kind, name_zh, name_en, is_demo, created_at, updated_at, parent_id) FROM stdin;
\.


--
-- Data for Name: audit_event; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.audit_event (id, at, actor, action, subject, details, prev_hash, hash) FROM stdin;
\.


--
-- Data for Name: certificate; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.certificate (id, serial, kind, subject_code, subject_name, policy_version, score_run_id, basis, issued_by, issued_at, valid_from, valid_until, status, status_reason, status_changed_at, grace_until, pdf_sha256, is_demo, status_index) FROM stdin;
\.


--
-- Data for Name: certificate_reply; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.certificate_reply (id, text, submitted_by, submitted_at, decision, decision_note, decided_by, decided_at, certificate_id, change_id) FROM stdin;
\.


--
-- Data for Name: certificate_status_change; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.certificate_status_change (id, at, old_status, new_status, reason, note, actor, evidence, certificate_id) FROM stdin;
\.


--
-- Data for Name: complaint; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.complaint (id, source, external_id, received_at, accepted_at, closed_at, status, category, amount_disputed_fen, amount_recovered_fen, upheld, accept_due, mediation_due, overdue_since, recorded_at, updated_at, merchant_id) FROM stdin;
\.


--
-- Data for Name: credit_change; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.credit_change (id, changed_at, old_score, old_class, new_score, new_class, cause, event_ids, rules_version, merchant_id) FROM stdin;
\.


--
-- Data for Name: credit_event; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.credit_event (id, kind, occurred_at, source, external_ref, note, risk_class, recorded_at, merchant_id) FROM stdin;
\.


--
-- Data for Name: credit_standing; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.credit_standing (id, score, risk_class, abnormal_listed, serious_listed, external_class, rules_version, updated_at, merchant_id) FROM stdin;
\.


--
-- Data for Name: invite_code; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.invite_code (id, code_hash, created_at, used_at, response_id, survey_id) FROM stdin;
\.


--
-- Data for Name: job_run; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.job_run (id, job, slot, worker, started_at, lease_until, finished_at, outcome, error, details) FROM stdin;
\.


--
-- Data for Name: merchant; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.merchant (id, uscc, uscc_override, name, category, address, status, is_demo, created_at, updated_at, district_id, scenic_spot_id, street_id) FROM stdin;
\.


--
-- Data for Name: outbox_message; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.outbox_message (id, topic, payload, created_at, delivered_at, attempts, next_attempt_at, last_error) FROM stdin;
\.


--
-- Data for Name: response; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.response (id, version, target_kind, target_code, client_submission_id, started_at, submitted_at, duration_ms, device_hash, ip_hash, invited, channel, excluded, is_demo, survey_id) FROM stdin;
\.


--
-- Data for Name: response_flag; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.response_flag (id, kind, status, detail, raised_at, decided_by, decided_at, reason, response_id) FROM stdin;
\.


--
-- Data for Name: score_run; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.score_run (id, status, created_at, created_by, finished_at, published_at, published_by, superseded_at, discarded_reason, error, window_since, window_until, params, code_version, counts, priors, timings, fingerprint) FROM stdin;
\.


--
-- Data for Name: survey; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.survey (id, slug, title_zh, title_en, target_kind, opens_at, closes_at, period_days, is_demo, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: survey_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.survey_version (id, version, definition, content_hash, created_at, survey_id) FROM stdin;
\.


--
-- Data for Name: tortoise_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.tortoise_migrations (id, app, name, applied_at) FROM stdin;
1	models	0001_initial	2026-12-03 08:35:50.819038+00
2	models	0002_surveys	2026-12-03 08:35:50.899957+00
3	models	0003_scoring	2026-12-03 08:35:50.923563+00
4	models	0004_area_merchant_figures	2026-12-03 08:35:50.945402+00
5	models	0005_credit	2026-12-03 08:35:51.011274+00
6	models	0006_credit_event_covering_index	2026-12-03 08:35:51.071778+00
7	models	0007_certificates	2026-12-03 08:35:51.106462+00
8	models	0008_outbox	2026-12-03 08:35:51.125269+00
9	models	0009_replies	2026-12-03 08:35:51.143908+00
10	models	0010_surge_flag	2026-12-03 08:35:51.161908+00
11	models	0011_status_index	2026-12-03 08:35:51.257842+00
12	models	0012_job_run	2026-12-03 08:35:51.2781+00
\.


--
-- Data for Name: unit_score; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.unit_score (id, kind, code, parent, n, n_excluded, mean, sd, ci_low, ci_high, score, nps, nps_se, insufficient_data, rank, tie_group, dimensions, run_id, merchants_scored, share_certifiable) FROM stdin;
\.


--
-- Name: account_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.account_id_seq', 1, false);


--
-- Name: answer_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.answer_id_seq', 1, false);


--
-- Name: api_token_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.api_token_id_seq', 1, false);


--
-- Name: area_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.area_id_seq', 1, false);


--
-- Name: audit_event_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_event_id_seq', 1, false);


--
-- Name: certificate_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.certificate_id_seq', 1, false);


--
-- Name: certificate_reply_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.certificate_reply_id_seq', 1, false);


--
-- Name: certificate_status_change_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.certificate_status_change_id_seq', 1, false);


--
-- Name: complaint_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.complaint_id_seq', 1, false);


--
-- Name: credit_change_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.credit_change_id_seq', 1, false);


--
-- Name: credit_event_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.credit_event_id_seq', 1, false);


--
-- Name: credit_standing_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.credit_standing_id_seq', 1, false);


--
-- Name: invite_code_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.invite_code_id_seq', 1, false);


--
-- Name: job_run_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.job_run_id_seq', 1, false);


--
-- Name: merchant_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.merchant_id_seq', 1, false);


--
-- Name: outbox_message_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.outbox_message_id_seq', 1, false);


--
-- Name: response_flag_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.response_flag_id_seq', 1, false);


--
-- Name: response_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.response_id_seq', 1, false);


--
-- Name: score_run_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.score_run_id_seq', 1, false);


--
-- Name: survey_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.survey_id_seq', 1, false);


--
-- Name: survey_version_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.survey_version_id_seq', 1, false);


--
-- Name: tortoise_migrations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.tortoise_migrations_id_seq', 12, true);


--
-- Name: unit_score_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.unit_score_id_seq', 1, false);


--
-- Name: account account_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.account
    ADD CONSTRAINT account_pkey PRIMARY KEY (id);


--
-- Name: account account_username_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.account
    ADD CONSTRAINT account_username_key UNIQUE (username);


--
-- Name: answer answer_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.answer
    ADD CONSTRAINT answer_pkey PRIMARY KEY (id);


--
-- Name: api_token api_token_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_pkey PRIMARY KEY (id);


--
-- Name: api_token api_token_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_token_hash_key UNIQUE (token_hash);


--
-- Name: area area_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.area
    ADD CONSTRAINT area_code_key UNIQUE (code);


--
-- Name: area area_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.area
    ADD CONSTRAINT area_pkey PRIMARY KEY (id);


--
-- Name: audit_event audit_event_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event
    ADD CONSTRAINT audit_event_hash_key UNIQUE (hash);


--
-- Name: audit_event audit_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event
    ADD CONSTRAINT audit_event_pkey PRIMARY KEY (id);


--
-- Name: certificate certificate_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate
    ADD CONSTRAINT certificate_pkey PRIMARY KEY (id);


--
-- Name: certificate_reply certificate_reply_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_reply
    ADD CONSTRAINT certificate_reply_pkey PRIMARY KEY (id);


--
-- Name: certificate certificate_serial_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate
    ADD CONSTRAINT certificate_serial_key UNIQUE (serial);


--
-- Name: certificate_status_change certificate_status_change_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_status_change
    ADD CONSTRAINT certificate_status_change_pkey PRIMARY KEY (id);


--
-- Name: complaint complaint_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.complaint
    ADD CONSTRAINT complaint_pkey PRIMARY KEY (id);


--
-- Name: credit_change credit_change_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_change
    ADD CONSTRAINT credit_change_pkey PRIMARY KEY (id);


--
-- Name: credit_event credit_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_event
    ADD CONSTRAINT credit_event_pkey PRIMARY KEY (id);


--
-- Name: credit_standing credit_standing_merchant_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_standing
    ADD CONSTRAINT credit_standing_merchant_id_key UNIQUE (merchant_id);


--
-- Name: credit_standing credit_standing_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_standing
    ADD CONSTRAINT credit_standing_pkey PRIMARY KEY (id);


--
-- Name: invite_code invite_code_code_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_code
    ADD CONSTRAINT invite_code_code_hash_key UNIQUE (code_hash);


--
-- Name: invite_code invite_code_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_code
    ADD CONSTRAINT invite_code_pkey PRIMARY KEY (id);


--
-- Name: job_run job_run_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_run
    ADD CONSTRAINT job_run_pkey PRIMARY KEY (id);


--
-- Name: merchant merchant_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant
    ADD CONSTRAINT merchant_pkey PRIMARY KEY (id);


--
-- Name: merchant merchant_uscc_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant
    ADD CONSTRAINT merchant_uscc_key UNIQUE (uscc);


--
-- Name: outbox_message outbox_message_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_message
    ADD CONSTRAINT outbox_message_pkey PRIMARY KEY (id);


--
-- Name: response response_client_submission_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response
    ADD CONSTRAINT response_client_submission_id_key UNIQUE (client_submission_id);


--
-- Name: response_flag response_flag_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response_flag
    ADD CONSTRAINT response_flag_pkey PRIMARY KEY (id);


--
-- Name: response response_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response
    ADD CONSTRAINT response_pkey PRIMARY KEY (id);


--
-- Name: score_run score_run_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.score_run
    ADD CONSTRAINT score_run_pkey PRIMARY KEY (id);


--
-- Name: survey survey_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey
    ADD CONSTRAINT survey_pkey PRIMARY KEY (id);


--
-- Name: survey survey_slug_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey
    ADD CONSTRAINT survey_slug_key UNIQUE (slug);


--
-- Name: survey_version survey_version_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey_version
    ADD CONSTRAINT survey_version_pkey PRIMARY KEY (id);


--
-- Name: tortoise_migrations tortoise_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tortoise_migrations
    ADD CONSTRAINT tortoise_migrations_pkey PRIMARY KEY (id);


--
-- Name: certificate_reply uid_certificate_change__b25e2d; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_reply
    ADD CONSTRAINT uid_certificate_change__b25e2d UNIQUE (change_id);


--
-- Name: certificate uid_certificate_status__a72a81; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate
    ADD CONSTRAINT uid_certificate_status__a72a81 UNIQUE (status_index);


--
-- Name: complaint uid_complaint_source_23a7bc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.complaint
    ADD CONSTRAINT uid_complaint_source_23a7bc UNIQUE (source, external_id);


--
-- Name: credit_event uid_credit_even_source_85c45f; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_event
    ADD CONSTRAINT uid_credit_even_source_85c45f UNIQUE (source, external_ref);


--
-- Name: job_run uid_job_run_job_d2769e; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_run
    ADD CONSTRAINT uid_job_run_job_d2769e UNIQUE (job, slot);


--
-- Name: response_flag uid_response_fl_respons_a6ee4b; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response_flag
    ADD CONSTRAINT uid_response_fl_respons_a6ee4b UNIQUE (response_id, kind);


--
-- Name: survey_version uid_survey_vers_survey__be2b5d; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey_version
    ADD CONSTRAINT uid_survey_vers_survey__be2b5d UNIQUE (survey_id, version);


--
-- Name: tortoise_migrations uid_tortoise_mi_app_3803a5; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tortoise_migrations
    ADD CONSTRAINT uid_tortoise_mi_app_3803a5 UNIQUE (app, name);


--
-- Name: unit_score uid_unit_score_run_id_939017; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_score
    ADD CONSTRAINT uid_unit_score_run_id_939017 UNIQUE (run_id, kind, code);


--
-- Name: unit_score unit_score_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_score
    ADD CONSTRAINT unit_score_pkey PRIMARY KEY (id);


--
-- Name: idx_answer_respons_aae647; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_answer_respons_aae647 ON public.answer USING btree (response_id);


--
-- Name: idx_area_kind_2605dd; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_area_kind_2605dd ON public.area USING btree (kind);


--
-- Name: idx_audit_event_action_3fd1cc; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_event_action_3fd1cc ON public.audit_event USING btree (action);


--
-- Name: idx_audit_event_subject_aae2d5; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_audit_event_subject_aae2d5 ON public.audit_event USING btree (subject);


--
-- Name: idx_certificate_certifi_034e4b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_certificate_certifi_034e4b ON public.certificate_status_change USING btree (certificate_id, at);


--
-- Name: idx_certificate_kind_d899f7; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_certificate_kind_d899f7 ON public.certificate USING btree (kind, status);


--
-- Name: idx_certificate_subject_d65704; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_certificate_subject_d65704 ON public.certificate USING btree (subject_code);


--
-- Name: idx_complaint_merchan_b9eee6; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_complaint_merchan_b9eee6 ON public.complaint USING btree (merchant_id, received_at);


--
-- Name: idx_complaint_receive_07a82b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_complaint_receive_07a82b ON public.complaint USING btree (received_at);


--
-- Name: idx_credit_chan_merchan_ee919b; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_credit_chan_merchan_ee919b ON public.credit_change USING btree (merchant_id, changed_at);


--
-- Name: idx_credit_even_merchan_23c9e8; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_credit_even_merchan_23c9e8 ON public.credit_event USING btree (merchant_id, occurred_at) INCLUDE (kind, risk_class);


--
-- Name: idx_credit_stan_risk_cl_497c9d; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_credit_stan_risk_cl_497c9d ON public.credit_standing USING btree (risk_class);


--
-- Name: idx_merchant_categor_b93e67; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_merchant_categor_b93e67 ON public.merchant USING btree (category);


--
-- Name: idx_merchant_name_dce470; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_merchant_name_dce470 ON public.merchant USING btree (name);


--
-- Name: idx_merchant_status_f35159; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_merchant_status_f35159 ON public.merchant USING btree (status);


--
-- Name: idx_outbox_mess_deliver_8b393d; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_outbox_mess_deliver_8b393d ON public.outbox_message USING btree (delivered_at, next_attempt_at);


--
-- Name: idx_response_submitt_0611e2; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_response_submitt_0611e2 ON public.response USING btree (submitted_at);


--
-- Name: idx_response_survey__819470; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_response_survey__819470 ON public.response USING btree (survey_id, target_code, device_hash);


--
-- Name: idx_response_target__2e36c3; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_response_target__2e36c3 ON public.response USING btree (target_code, ip_hash, submitted_at);


--
-- Name: idx_unit_score_run_id_947833; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_unit_score_run_id_947833 ON public.unit_score USING btree (run_id, kind, rank);


--
-- Name: account account_merchant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.account
    ADD CONSTRAINT account_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES public.merchant(id) ON DELETE RESTRICT;


--
-- Name: answer answer_response_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.answer
    ADD CONSTRAINT answer_response_id_fkey FOREIGN KEY (response_id) REFERENCES public.response(id) ON DELETE CASCADE;


--
-- Name: area area_parent_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.area
    ADD CONSTRAINT area_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES public.area(id) ON DELETE RESTRICT;


--
-- Name: certificate_reply certificate_reply_certificate_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_reply
    ADD CONSTRAINT certificate_reply_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES public.certificate(id) ON DELETE CASCADE;


--
-- Name: certificate_reply certificate_reply_change_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_reply
    ADD CONSTRAINT certificate_reply_change_id_fkey FOREIGN KEY (change_id) REFERENCES public.certificate_status_change(id) ON DELETE CASCADE;


--
-- Name: certificate_status_change certificate_status_change_certificate_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.certificate_status_change
    ADD CONSTRAINT certificate_status_change_certificate_id_fkey FOREIGN KEY (certificate_id) REFERENCES public.certificate(id) ON DELETE CASCADE;


--
-- Name: complaint complaint_merchant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.complaint
    ADD CONSTRAINT complaint_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES public.merchant(id) ON DELETE RESTRICT;


--
-- Name: credit_change credit_change_merchant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_change
    ADD CONSTRAINT credit_change_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES public.merchant(id) ON DELETE CASCADE;


--
-- Name: credit_event credit_event_merchant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_event
    ADD CONSTRAINT credit_event_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES public.merchant(id) ON DELETE RESTRICT;


--
-- Name: credit_standing credit_standing_merchant_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.credit_standing
    ADD CONSTRAINT credit_standing_merchant_id_fkey FOREIGN KEY (merchant_id) REFERENCES public.merchant(id) ON DELETE CASCADE;


--
-- Name: invite_code invite_code_response_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_code
    ADD CONSTRAINT invite_code_response_id_fkey FOREIGN KEY (response_id) REFERENCES public.response(id) ON DELETE SET NULL;


--
-- Name: invite_code invite_code_survey_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invite_code
    ADD CONSTRAINT invite_code_survey_id_fkey FOREIGN KEY (survey_id) REFERENCES public.survey(id) ON DELETE CASCADE;


--
-- Name: merchant merchant_district_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant
    ADD CONSTRAINT merchant_district_id_fkey FOREIGN KEY (district_id) REFERENCES public.area(id) ON DELETE RESTRICT;


--
-- Name: merchant merchant_scenic_spot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant
    ADD CONSTRAINT merchant_scenic_spot_id_fkey FOREIGN KEY (scenic_spot_id) REFERENCES public.area(id) ON DELETE RESTRICT;


--
-- Name: merchant merchant_street_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.merchant
    ADD CONSTRAINT merchant_street_id_fkey FOREIGN KEY (street_id) REFERENCES public.area(id) ON DELETE RESTRICT;


--
-- Name: response_flag response_flag_response_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response_flag
    ADD CONSTRAINT response_flag_response_id_fkey FOREIGN KEY (response_id) REFERENCES public.response(id) ON DELETE CASCADE;


--
-- Name: response response_survey_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.response
    ADD CONSTRAINT response_survey_id_fkey FOREIGN KEY (survey_id) REFERENCES public.survey(id) ON DELETE RESTRICT;


--
-- Name: survey_version survey_version_survey_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.survey_version
    ADD CONSTRAINT survey_version_survey_id_fkey FOREIGN KEY (survey_id) REFERENCES public.survey(id) ON DELETE RESTRICT;


--
-- Name: unit_score unit_score_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_score
    ADD CONSTRAINT unit_score_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.score_run(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


