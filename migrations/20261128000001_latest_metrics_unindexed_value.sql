-- Every logMetrics call rewrites the latest value of each key it logs. An index on
-- (key, value) made each of those rewrites an index insertion as well, and kept PostgreSQL
-- from updating the rows in place (a HOT update needs no indexed column to change); ingest
-- ran about 30% slower for it. No statement used it: searches find a run's latest values
-- by the primary key (run_id, key), within the experiments searched.
DROP INDEX IF EXISTS latest_metrics_by_key_value;
