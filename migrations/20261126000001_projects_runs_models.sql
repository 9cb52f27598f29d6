-- Projects and their members, experiments, runs (params, tags, metric history and the
-- latest value per key), registered models with numbered versions, stages and aliases.

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('OWNER', 'EDITOR', 'VIEWER')),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_by_user ON project_members (user_id, project_id);

CREATE TABLE experiments (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text,
    tags        jsonb NOT NULL DEFAULT '{}',
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT experiments_project_name_key UNIQUE (project_id, name)
);
CREATE INDEX experiments_by_project ON experiments (project_id, id);

CREATE TABLE runs (
    id            uuid PRIMARY KEY,
    experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    -- Denormalized from the experiment: every authorization check needs it.
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          text NOT NULL,
    status        text NOT NULL DEFAULT 'RUNNING'
                  CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, id);

CREATE TABLE run_params (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key    text NOT NULL,
    value  text NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_params_by_key_value ON run_params (key, value);

CREATE TABLE run_tags (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key    text NOT NULL,
    value  text NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX run_tags_by_key_value ON run_tags (key, value);

-- Full history: several points may share a step; `id` orders them.
CREATE TABLE metric_points (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    run_id    uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key       text NOT NULL,
    step      bigint NOT NULL,
    value     double precision NOT NULL,
    timestamp timestamptz NOT NULL
);
CREATE INDEX metric_points_history ON metric_points (run_id, key, step, id);

-- The latest point per key (greatest step, then timestamp), kept by logMetrics.
CREATE TABLE latest_metrics (
    run_id    uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key       text NOT NULL,
    step      bigint NOT NULL,
    value     double precision NOT NULL,
    timestamp timestamptz NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, value);

CREATE TABLE models (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name           text NOT NULL,
    description    text,
    tags           jsonb NOT NULL DEFAULT '{}',
    -- The last version number handed out; versions are numbered from it under a row lock.
    latest_version integer NOT NULL DEFAULT 0,
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT models_project_name_key UNIQUE (project_id, name)
);
CREATE INDEX models_by_project ON models (project_id, id);

CREATE TABLE model_versions (
    id            uuid PRIMARY KEY,
    model_id      uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version       integer NOT NULL,
    stage         text NOT NULL DEFAULT 'NONE'
                  CHECK (stage IN ('NONE', 'STAGING', 'PRODUCTION', 'ARCHIVED')),
    source_run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
    description   text,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT model_versions_model_version_key UNIQUE (model_id, version)
);
CREATE INDEX model_versions_by_source_run ON model_versions (source_run_id);

CREATE TABLE model_aliases (
    model_id   uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    alias      text NOT NULL,
    version_id uuid NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, alias)
);
CREATE INDEX model_aliases_by_version ON model_aliases (version_id);

-- Who pointed which alias where, and when (version_id NULL: the alias was deleted).
CREATE TABLE model_alias_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id   uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    alias      text NOT NULL,
    version    integer,
    changed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_alias_events_by_model ON model_alias_events (model_id, id);
