/* fraud_score--0.2--0.3.sql: model inputs for inspection, faster model loads */

\echo Use "ALTER EXTENSION fraud_score UPDATE TO '0.3'" to load this file. \quit

-- Model bytes are stored uncompressed: pglz decompression was a quarter of a
-- model's first load in every new backend, and UBJSON compresses poorly
-- anyway.  Versions loaded before the update stay compressed until rewritten.
ALTER TABLE fraud_score_models ALTER COLUMN model SET STORAGE EXTERNAL;

-- The input row a model sees for a document, in the model's feature order
-- (see fraud_models.features), after its feature function; NaN where a
-- feature is missing.
CREATE FUNCTION fraud_score_features(features jsonb, model text DEFAULT NULL)
RETURNS real[]
AS 'MODULE_PATHNAME', 'fraud_score_features'
LANGUAGE C STABLE PARALLEL SAFE;
