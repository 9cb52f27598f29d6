-- An experiment's runs in their default order (oldest first: created_at, then id), read a
-- page at a time without sorting the experiment's runs.
CREATE INDEX runs_by_experiment_created ON runs (experiment_id, created_at, id);
