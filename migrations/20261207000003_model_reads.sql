-- A model as every read of one answers it: its row, its aliases (by name, each with its
-- version's number) and its highest-numbered version (with that version's aliases and its
-- source run), so that a model with its latest version is one statement, not two, and the
-- statements that read models (by id, by project, across projects) share one text.
-- The two subqueries run for the rows a statement returns: an index range of the model's
-- aliases, and one backward step of the (model_id, version) index with a primary-key
-- lookup of the run.
CREATE VIEW model_reads AS
SELECT m.id, m.project_id, m.name, m.description, m.tags, m.latest_version, m.created_by,
       m.created_at, m.updated_at,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'model_id', a.model_id, 'alias', a.alias, 'version_id', a.version_id,
                   'version', v.version, 'updated_at', a.updated_at) ORDER BY a.alias), '[]')
          FROM model_aliases a JOIN model_versions v ON v.id = a.version_id
         WHERE a.model_id = m.id) AS aliases,
       (SELECT to_jsonb(highest) FROM (
            SELECT v.id, v.model_id, m.project_id, v.version, v.stage, v.source_run_id,
                   v.description, v.created_by, v.created_at,
                   ARRAY(SELECT a.alias FROM model_aliases a
                          WHERE a.version_id = v.id ORDER BY a.alias) AS aliases,
                   r.experiment_id AS run_experiment_id, r.project_id AS run_project_id,
                   r.name AS run_name, r.status AS run_status, r.started_at AS run_started_at,
                   r.ended_at AS run_ended_at, r.created_by AS run_created_by,
                   r.created_at AS run_created_at
              FROM model_versions v LEFT JOIN runs r ON r.id = v.source_run_id
             WHERE v.model_id = m.id
             ORDER BY v.version DESC LIMIT 1) highest) AS highest_version
  FROM models m;
