-- Servers keep the tokens they have read until a token or an organ changes;
-- these triggers tell them, whoever makes the change. The channel's name is
-- the one crates/store/src/principal_changes.rs listens on; the payload is
-- the schema, since a channel is shared by every schema of the database.
CREATE FUNCTION notify_principal_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lienthong_principal_changes', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tokens_notify_principal_change
    AFTER UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_principal_change();

CREATE TRIGGER organs_notify_principal_change
    AFTER UPDATE OR DELETE OR TRUNCATE ON organs
    FOR EACH STATEMENT EXECUTE FUNCTION notify_principal_change();
