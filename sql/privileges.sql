-- Who may do what: scoring is public, administration needs fraud_score_admin.
\i test/fixtures.psql
-- PL/pgSQL context lines name internal line numbers; the messages are what matter.
\set SHOW_CONTEXT never
SELECT fraud_model_load('priv', decode(:'small_ubj', 'base64'));

CREATE ROLE regress_analyst;
CREATE ROLE regress_dba;
GRANT fraud_score_admin TO regress_dba;
CREATE TABLE priv_payments (amount numeric, score float8);
GRANT INSERT, SELECT ON priv_payments TO regress_analyst;
CREATE TRIGGER t BEFORE INSERT ON priv_payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('priv', 'score');

-- A role without fraud_score_admin scores, reads the view, and nothing more.
SET ROLE regress_analyst;
SELECT fraud_score('{"amount": 50}', 'priv') > 0 AS scores;
SELECT (fraud_decide('{"amount": 50}', 'priv')).version;
INSERT INTO priv_payments (amount) VALUES (50) RETURNING score > 0 AS trigger_scores;
SELECT name, version, active, size_bytes FROM fraud_models WHERE name = 'priv';
SELECT model FROM fraud_score_models;
SELECT fraud_model_load('priv', decode(:'small_ubj', 'base64'));
SELECT fraud_model_activate('priv', 1);
SELECT fraud_model_drop('priv', 1);
SELECT format FROM fraud_model_check(decode(:'small_ubj', 'base64'));
UPDATE fraud_score_models SET review_threshold = 0;
DELETE FROM fraud_score_models;
INSERT INTO fraud_score_models SELECT * FROM fraud_score_models;
TRUNCATE fraud_score_models;
ALTER TABLE fraud_score_models ADD COLUMN x int;
DROP TABLE fraud_score_models;
RESET ROLE;

-- A member of fraud_score_admin administers models, under its own name.
SET ROLE regress_dba;
SELECT fraud_model_load('priv', decode(:'small_ubj', 'base64'), activate => false);
SELECT fraud_model_activate('priv', 2);
SELECT fraud_model_activate('priv', 1);
SELECT fraud_model_drop('priv', 2);
SELECT fraud_model_load('priv', decode(:'small_ubj', 'base64'), activate => false);
SELECT version, created_by FROM fraud_models WHERE name = 'priv' AND version > 1 ORDER BY version;
SELECT octet_length(model) > 0 AS admin_reads_bytes FROM fraud_score_models WHERE name = 'priv' LIMIT 1;
RESET ROLE;

-- The DBA may take the bytes away from administrators; scoring goes on, since
-- backends read the catalog directly.
REVOKE SELECT ON fraud_score_models FROM fraud_score_admin;
SET ROLE regress_dba;
SELECT model FROM fraud_score_models;
SELECT fraud_score('{"amount": 50}', 'priv') > 0 AS still_scores;
RESET ROLE;
GRANT SELECT ON fraud_score_models TO fraud_score_admin;

-- An administrator's search_path cannot redirect what the functions call:
-- without the pinned search_path, evil.encode() would break the stored hash.
CREATE SCHEMA evil;
CREATE FUNCTION evil.encode(bytea, text) RETURNS text
LANGUAGE sql AS $$ SELECT 'hijacked' $$;
GRANT USAGE ON SCHEMA evil TO regress_dba;
SET ROLE regress_dba;
SET search_path = evil, pg_catalog, public;
SELECT public.fraud_model_load('priv', decode(:'small_ubj', 'base64'), activate => false);
RESET search_path;
RESET ROLE;
SELECT version, sha256 = encode(sha256(model), 'hex') AS true_hash
FROM fraud_score_models WHERE name = 'priv' ORDER BY version;
SELECT p.proname, p.proconfig
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fraud_score')
  AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
ORDER BY 1;
-- SECURITY DEFINER only where the extension's owner must act (a feature
-- set's C function made, dropped, cleaned up after a DROP).
SELECT p.oid::regprocedure AS security_definer_function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fraud_score')
  AND p.prosecdef
ORDER BY 1::text;

-- Names and arguments are data, never SQL.
SELECT fraud_score('{"amount": 50}', $$small'; DROP TABLE priv_payments; --$$);
SELECT fraud_model_load($$x'); DROP TABLE priv_payments; --$$, decode(:'small_ubj', 'base64'));
CREATE TRIGGER t2 BEFORE INSERT ON priv_payments
    FOR EACH ROW EXECUTE FUNCTION fraud_score_trigger('priv', 'score"; DROP TABLE priv_payments; --');
INSERT INTO priv_payments (amount) VALUES (1);
SELECT count(*) FROM priv_payments;

DROP SCHEMA evil CASCADE;
DROP TABLE priv_payments;
DROP OWNED BY regress_analyst, regress_dba;
DROP ROLE regress_analyst;
DROP ROLE regress_dba;
