-- The audit log: who did what to accounts, memberships, tokens and the registry, when and
-- from where. Rows are only ever inserted; ids are UUIDv7, so id order is time order.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    -- Who acted: null for failed sign-ins (the email tried is in `actor_email`) and for
    -- accounts deleted since.
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_email text,
    -- The account acted upon (role changes, disabling, memberships), if any.
    subject_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    project_id  uuid REFERENCES projects (id) ON DELETE SET NULL,
    summary     text NOT NULL,
    address     text
);

CREATE INDEX audit_events_by_actor ON audit_events (actor_id, id DESC);
CREATE INDEX audit_events_by_subject ON audit_events (subject_id, id DESC);
CREATE INDEX audit_events_by_kind ON audit_events (kind, id DESC);
