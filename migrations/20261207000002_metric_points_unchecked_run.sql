-- The history of metric points is the one table written a hundred rows at a time. Its
-- foreign key checked every inserted point against runs, one lookup and one row lock per
-- point: a fifth of PostgreSQL's work in logMetrics (docs/performance.md). The key goes;
-- what it held still holds, by two explicit means:
-- - logMetrics locks each run it writes once per statement, FOR KEY SHARE (the lock the
--   key took per point), so a run cannot be deleted while its points are being written,
--   and points for a run deleted meanwhile are not written at all;
-- - deleting runs deletes their points, as the key's ON DELETE CASCADE did, by the trigger
--   below: one statement per deleting statement, also when runs go with their experiment
--   or project.
-- latest_metrics keeps its key: a call rewrites existing rows there, which checks nothing.
ALTER TABLE metric_points DROP CONSTRAINT metric_points_run_id_fkey;

CREATE FUNCTION delete_metric_points_of_deleted_runs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM metric_points WHERE run_id IN (SELECT id FROM deleted_runs);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_deleted_metric_points AFTER DELETE ON runs
    REFERENCING OLD TABLE AS deleted_runs
    FOR EACH STATEMENT EXECUTE FUNCTION delete_metric_points_of_deleted_runs();
