--
-- PostgreSQL database dump
--

\restrict gm0nhG3uK0clPOAQLII9B0iCZvjpYghdPOYiWvIuF8arGkoqkeALEgEFWNMWokM

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

--
-- Name: aw_upgrade_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA aw_upgrade_fixture;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: counters; Type: TABLE; Schema: aw_upgrade_fixture; Owner: -
--

CREATE TABLE aw_upgrade_fixture.counters (
    queue text NOT NULL,
    shard smallint NOT NULL,
    delivered bigint DEFAULT 0 NOT NULL,
    retried bigint DEFAULT 0 NOT NULL
);


--
-- Name: dead_letters; Type: TABLE; Schema: aw_upgrade_fixture; Owner: -
--

CREATE TABLE aw_upgrade_fixture.dead_letters (
    queue text NOT NULL,
    id text NOT NULL,
    seq bigint NOT NULL,
    body text NOT NULL,
    message_id text,
    enqueued_at bigint NOT NULL,
    attempts integer NOT NULL,
    dead_at bigint NOT NULL,
    reason text NOT NULL,
    last_status integer,
    detail text
);


--
-- Name: dead_letters_seq_seq; Type: SEQUENCE; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE aw_upgrade_fixture.dead_letters ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME aw_upgrade_fixture.dead_letters_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: deliveries; Type: TABLE; Schema: aw_upgrade_fixture; Owner: -
--

CREATE TABLE aw_upgrade_fixture.deliveries (
    queue text NOT NULL,
    id text NOT NULL,
    seq bigint NOT NULL,
    body text NOT NULL,
    message_id text,
    enqueued_at bigint NOT NULL,
    next_attempt_at bigint NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_reason text,
    last_status integer,
    lease_owner text,
    lease_expires_at bigint
);


--
-- Name: deliveries_seq_seq; Type: SEQUENCE; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE aw_upgrade_fixture.deliveries ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME aw_upgrade_fixture.deliveries_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: schema_migrations; Type: TABLE; Schema: aw_upgrade_fixture; Owner: -
--

CREATE TABLE aw_upgrade_fixture.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at bigint NOT NULL
);


--
-- Data for Name: counters; Type: TABLE DATA; Schema: aw_upgrade_fixture; Owner: -
--

INSERT INTO aw_upgrade_fixture.counters VALUES ('retrying', 8, 0, 3);


--
-- Data for Name: dead_letters; Type: TABLE DATA; Schema: aw_upgrade_fixture; Owner: -
--

INSERT INTO aw_upgrade_fixture.dead_letters OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-rejected-0', 1, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"rejected-0","properties":{"i":0,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'rejected-0', 1799999999000, 1, 1799999999500, 'http_4xx', 400, 'webhooks[0]: http_4xx (HTTP 400)');
INSERT INTO aw_upgrade_fixture.dead_letters OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-invalid-bigint', 2, 'null', 'invalid-bigint', 1799999999600, 0, 1799999999600, 'invalid_payload', NULL, 'Do not know how to serialize a BigInt');
INSERT INTO aw_upgrade_fixture.dead_letters OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-invalid-circular', 3, '{"type":"track","event":"Circular","messageId":"invalid-circular","properties":{"self":"[Circular]"},"_metadata":{"jsRuntime":"node"}}', 'invalid-circular', 1799999999700, 0, 1799999999700, 'invalid_payload', NULL, 'Converting circular structure to JSON');


--
-- Data for Name: deliveries; Type: TABLE DATA; Schema: aw_upgrade_fixture; Owner: -
--

INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-0', 1, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-0","properties":{"i":0,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-0', 1799999999000, 1799999999000, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-1', 2, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-1","properties":{"i":1,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-1', 1799999999001, 1799999999001, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-2', 3, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-2","properties":{"i":2,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-2', 1799999999002, 1799999999002, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-3', 4, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-3","properties":{"i":3,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-3', 1799999999003, 1799999999003, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-4', 5, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-4","properties":{"i":4,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-4', 1799999999004, 1799999999004, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-5', 6, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-5","properties":{"i":5,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-5', 1799999999005, 1799999999005, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-6', 7, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-6","properties":{"i":6,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-6', 1799999999006, 1799999999006, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-7', 8, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-7","properties":{"i":7,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-7', 1799999999007, 1799999999007, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-8', 9, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-8","properties":{"i":8,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-8', 1799999999008, 1799999999008, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-9', 10, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-9","properties":{"i":9,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-9', 1799999999009, 1799999999009, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-10', 11, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-10","properties":{"i":10,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-10', 1799999999010, 1799999999010, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-11', 12, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-11","properties":{"i":11,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-11', 1799999999011, 1799999999011, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-12', 13, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-12","properties":{"i":12,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-12', 1799999999012, 1799999999012, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-13', 14, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-13","properties":{"i":13,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-13', 1799999999013, 1799999999013, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-14', 15, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-14","properties":{"i":14,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-14', 1799999999014, 1799999999014, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-15', 16, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-15","properties":{"i":15,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-15', 1799999999015, 1799999999015, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('default', 'delivery-waiting-16', 17, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"waiting-16","properties":{"i":16,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'waiting-16', 1799999999016, 1799999999016, 0, NULL, NULL, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('retrying', 'delivery-retrying-0', 18, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"retrying-0","properties":{"i":0,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'retrying-0', 1799999999000, 1800000030000, 1, 'http_5xx', 503, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('retrying', 'delivery-retrying-1', 19, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"retrying-1","properties":{"i":1,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'retrying-1', 1799999999001, 1800000030000, 1, 'http_5xx', 503, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('retrying', 'delivery-retrying-2', 20, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"retrying-2","properties":{"i":2,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'retrying-2', 1799999999002, 1800000030000, 1, 'http_5xx', 503, NULL, NULL);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('leased', 'delivery-leased-0', 21, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"leased-0","properties":{"i":0,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'leased-0', 1799999999000, 1799999999000, 0, NULL, NULL, 'a-process-that-died', 1800000060000);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('leased', 'delivery-leased-1', 22, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"leased-1","properties":{"i":1,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'leased-1', 1799999999001, 1799999999001, 0, NULL, NULL, 'a-process-that-died', 1800000060000);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('leased', 'delivery-leased-2', 23, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"leased-2","properties":{"i":2,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'leased-2', 1799999999002, 1799999999002, 0, NULL, NULL, 'a-process-that-died', 1800000060000);
INSERT INTO aw_upgrade_fixture.deliveries OVERRIDING SYSTEM VALUE VALUES ('leased', 'delivery-leased-3', 24, '{"version":1,"type":"track","event":"Upgrade Fixture","userId":"u1","messageId":"leased-3","properties":{"i":3,"note":"héllo 👋"},"timestamp":"2027-01-15T07:59:59.000Z"}', 'leased-3', 1799999999003, 1799999999003, 0, NULL, NULL, 'a-process-that-died', 1800000060000);


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: aw_upgrade_fixture; Owner: -
--

INSERT INTO aw_upgrade_fixture.schema_migrations VALUES (1, 'deliveries, dead letters and counters', 1796571502929);
INSERT INTO aw_upgrade_fixture.schema_migrations VALUES (2, 'index leased deliveries, so nextDueAt never scans the backlog', 1796571502931);


--
-- Name: dead_letters_seq_seq; Type: SEQUENCE SET; Schema: aw_upgrade_fixture; Owner: -
--

SELECT pg_catalog.setval('aw_upgrade_fixture.dead_letters_seq_seq', 3, true);


--
-- Name: deliveries_seq_seq; Type: SEQUENCE SET; Schema: aw_upgrade_fixture; Owner: -
--

SELECT pg_catalog.setval('aw_upgrade_fixture.deliveries_seq_seq', 24, true);


--
-- Name: counters counters_pkey; Type: CONSTRAINT; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY aw_upgrade_fixture.counters
    ADD CONSTRAINT counters_pkey PRIMARY KEY (queue, shard);


--
-- Name: dead_letters dead_letters_pkey; Type: CONSTRAINT; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY aw_upgrade_fixture.dead_letters
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (queue, id);


--
-- Name: deliveries deliveries_pkey; Type: CONSTRAINT; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY aw_upgrade_fixture.deliveries
    ADD CONSTRAINT deliveries_pkey PRIMARY KEY (queue, id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: aw_upgrade_fixture; Owner: -
--

ALTER TABLE ONLY aw_upgrade_fixture.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: dead_letters_by_time; Type: INDEX; Schema: aw_upgrade_fixture; Owner: -
--

CREATE INDEX dead_letters_by_time ON aw_upgrade_fixture.dead_letters USING btree (dead_at, seq);


--
-- Name: deliveries_due; Type: INDEX; Schema: aw_upgrade_fixture; Owner: -
--

CREATE INDEX deliveries_due ON aw_upgrade_fixture.deliveries USING btree (queue, next_attempt_at, seq);


--
-- Name: deliveries_leased; Type: INDEX; Schema: aw_upgrade_fixture; Owner: -
--

CREATE INDEX deliveries_leased ON aw_upgrade_fixture.deliveries USING btree (queue, lease_expires_at) WHERE (lease_expires_at IS NOT NULL);


--
-- PostgreSQL database dump complete
--

\unrestrict gm0nhG3uK0clPOAQLII9B0iCZvjpYghdPOYiWvIuF8arGkoqkeALEgEFWNMWokM

