-- Every change to an API key (a revocation, an expiry moved, a key deleted) is announced on
-- yiju_api_keys, so that API processes forget the keys they had authenticated (api/keycache.py).
-- NOTIFY is sent at commit, and only if the transaction commits.
CREATE FUNCTION announce_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('yiju_api_keys', OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER api_keys_changed AFTER UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION announce_api_key_change();
