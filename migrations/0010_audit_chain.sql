-- A revision-safe audit log: every row carries what changed (before/after, without personal
-- data), the request id, and a SHA-256 hash over its content and the previous row's hash, so
-- that `stadtkarte audit verify` finds any row changed, removed or inserted afterwards. Rows are
-- chained in the order they are appended (`chain`, assigned under a lock, so that concurrent
-- writers cannot interleave), and UPDATE and DELETE are refused.
ALTER TABLE catalog.audit_log
    ADD COLUMN object     text,
    ADD COLUMN before     jsonb,
    ADD COLUMN after      jsonb,
    ADD COLUMN request_id text,
    ADD COLUMN chain      bigint,
    ADD COLUMN prev_hash  bytea,
    ADD COLUMN hash       bytea;

CREATE FUNCTION catalog.audit_content(r catalog.audit_log) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws(E'\x1f', r.chain::text, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
        r.actor, r.action, r.subject, coalesce(r.object, ''), r.details::text,
        coalesce(r.before::text, ''), coalesce(r.after::text, ''), coalesce(r.request_id, '')), 'UTF8')
$$;

CREATE FUNCTION catalog.audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last catalog.audit_log;
BEGIN
    -- One appender at a time, until its transaction ends: the chain follows commit order.
    PERFORM pg_advisory_xact_lock(7305481993);
    SELECT * INTO last FROM catalog.audit_log WHERE chain IS NOT NULL ORDER BY chain DESC LIMIT 1;
    NEW.chain := coalesce(last.chain, 0) + 1;
    NEW.prev_hash := coalesce(last.hash, '\x'::bytea);
    NEW.hash := sha256(NEW.prev_hash || catalog.audit_content(NEW));
    RETURN NEW;
END $$;

-- The rows from before the chain existed, chained in id order.
DO $$
DECLARE
    r catalog.audit_log;
    prev bytea := '\x'::bytea;
    n bigint := 0;
BEGIN
    FOR r IN SELECT * FROM catalog.audit_log ORDER BY id LOOP
        n := n + 1;
        r.chain := n;
        r.prev_hash := prev;
        r.hash := sha256(prev || catalog.audit_content(r));
        UPDATE catalog.audit_log SET chain = r.chain, prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
        prev := r.hash;
    END LOOP;
END $$;

ALTER TABLE catalog.audit_log ALTER COLUMN chain SET NOT NULL;
CREATE UNIQUE INDEX audit_log_chain ON catalog.audit_log (chain);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON catalog.audit_log
    FOR EACH ROW EXECUTE FUNCTION catalog.audit_chain();

CREATE FUNCTION catalog.audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON catalog.audit_log
    FOR EACH ROW EXECUTE FUNCTION catalog.audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON catalog.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION catalog.audit_append_only();

CREATE INDEX audit_log_at ON catalog.audit_log (at DESC);
CREATE INDEX audit_log_actor ON catalog.audit_log (actor, at DESC);
