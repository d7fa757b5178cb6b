-- Installing the extension: objects, role, privileges, GUC defaults.
CREATE EXTENSION fraud_score;

SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'fraud_score_admin';

-- Every object the extension owns.
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fraud_score')
ORDER BY 1;

-- The model table is dumped by pg_dump with its rows.
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'fraud_score';

-- Scoring is open to PUBLIC; administration is not.
SELECT p.proname,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       has_function_privilege('fraud_score_admin', p.oid, 'EXECUTE') AS admin_execute,
       p.prosecdef AS security_definer, p.provolatile, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'fraud%'
ORDER BY 1;

SELECT has_table_privilege('public', 'fraud_score_models', 'SELECT') AS public_reads_models,
       has_table_privilege('public', 'fraud_models', 'SELECT') AS public_reads_view,
       has_table_privilege('fraud_score_admin', 'fraud_score_models', 'INSERT') AS admin_writes;

SHOW fraud_score.default_model;
SHOW fraud_score.max_model_size;
SHOW fraud_score.malloc_trim_threshold;
SET fraud_score.malloc_trim_threshold = -1;
SET fraud_score.malloc_trim_threshold = '64MB';
SHOW fraud_score.malloc_trim_threshold;
RESET fraud_score.malloc_trim_threshold;
SELECT boot_val AS engine_default FROM pg_settings WHERE name = 'fraud_score.engine';

-- The prefix is reserved: a misspelt setting is an error, not a silent no-op.
SET fraud_score.default_mode = 'x';
