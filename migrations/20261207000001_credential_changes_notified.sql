-- Every change to what a credential proves (a session or API token revoked, a user's role
-- or disabled flag, a membership) tells each listening Maestro process which user it
-- concerns, after the change commits: the processes keep the principals they read
-- (auth::credentials) and forget that user's at once. Written as triggers so that no path
-- can change these rows without telling: a mutation, a cascade, an operator's SQL.

CREATE FUNCTION notify_credentials_of_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0] names the column holding the user's id (`id` on users, `user_id` elsewhere).
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('maestro_credentials', to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('maestro_credentials', to_jsonb(NEW) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_credentials_changed
    AFTER UPDATE OF revoked_at, user_id OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_user('user_id');

CREATE TRIGGER api_tokens_credentials_changed
    AFTER UPDATE OF revoked_at, expires_at, scopes, user_id, token_hash OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_user('user_id');

CREATE TRIGGER users_credentials_changed
    AFTER UPDATE OF role, disabled, id OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_user('id');

CREATE TRIGGER project_members_credentials_changed
    AFTER INSERT OR UPDATE OR DELETE ON project_members
    FOR EACH ROW EXECUTE FUNCTION notify_credentials_of_user('user_id');
