-- Artifacts of runs and model versions, and the durable queue of objects to delete.

CREATE TABLE artifacts (
    id               uuid PRIMARY KEY,
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id           uuid REFERENCES runs (id) ON DELETE CASCADE,
    model_version_id uuid REFERENCES model_versions (id) ON DELETE CASCADE,
    path             text NOT NULL,
    size_bytes       bigint NOT NULL CHECK (size_bytes >= 0),
    content_type     text NOT NULL,
    sha256           text,
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'AVAILABLE')),
    -- Built by the server from ids, never from the path.
    object_key       text NOT NULL UNIQUE,
    -- Set while a multipart upload is open.
    upload_id        text,
    -- A PENDING artifact past this time is abandoned and cleaned up.
    upload_expires_at timestamptz NOT NULL,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    CONSTRAINT artifacts_one_owner CHECK ((run_id IS NULL) <> (model_version_id IS NULL))
);
CREATE UNIQUE INDEX artifacts_run_path_key ON artifacts (run_id, path) WHERE run_id IS NOT NULL;
CREATE UNIQUE INDEX artifacts_version_path_key ON artifacts (model_version_id, path)
    WHERE model_version_id IS NOT NULL;
CREATE INDEX artifacts_pending ON artifacts (upload_expires_at) WHERE status = 'PENDING';

-- Objects whose artifact row is gone. Filled by a trigger in the deleting transaction
-- (so cascades from runs, versions, experiments and projects are covered too) and
-- drained by the storage janitor, which retries until the store confirms.
CREATE TABLE storage_deletions (
    object_key      text PRIMARY KEY,
    upload_id       text,
    enqueued_at     timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A PENDING artifact's upload URL may still be used until then: delete again after it.
    recheck_at      timestamptz,
    last_error      text
);

CREATE FUNCTION queue_artifact_object_deletion() RETURNS trigger AS $$
BEGIN
    INSERT INTO storage_deletions (object_key, upload_id, recheck_at)
    VALUES (OLD.object_key, OLD.upload_id,
            CASE WHEN OLD.status = 'PENDING' THEN OLD.upload_expires_at END)
    ON CONFLICT (object_key) DO NOTHING;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER artifacts_queue_object_deletion
    AFTER DELETE ON artifacts
    FOR EACH ROW EXECUTE FUNCTION queue_artifact_object_deletion();
