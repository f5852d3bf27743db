-- Least privilege: the server runs as a login role that is a member of `stadtkarte_server`,
-- which owns nothing and may only read what it serves and write what citizens and staff
-- change through it. Migrations and imports run as the owner of the schemas (the role that
-- runs this file). Where the owner may not create roles (a managed database), the operator
-- creates `stadtkarte_server` beforehand (docs/operations.md) and this file only grants.
-- Aerial-imagery epochs can be withdrawn from publication (and put back) by editors.
ALTER TABLE catalog.imagery ADD COLUMN published boolean NOT NULL DEFAULT true;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        CREATE ROLE stadtkarte_server NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create role stadtkarte_server; create it and run the migrations again';
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA catalog, data, plans, auth TO stadtkarte_server;
    -- Read what is served.
    GRANT SELECT ON ALL TABLES IN SCHEMA catalog, data, plans TO stadtkarte_server;
    ALTER DEFAULT PRIVILEGES IN SCHEMA data GRANT SELECT ON TABLES TO stadtkarte_server;
    ALTER DEFAULT PRIVILEGES IN SCHEMA plans GRANT SELECT ON TABLES TO stadtkarte_server;
    ALTER DEFAULT PRIVILEGES IN SCHEMA catalog GRANT SELECT ON TABLES TO stadtkarte_server;
    -- The audit log: append only (no UPDATE, no DELETE, no TRUNCATE).
    GRANT INSERT ON catalog.audit_log TO stadtkarte_server;
    GRANT USAGE ON SEQUENCE catalog.audit_log_id_seq TO stadtkarte_server;
    -- What editors change in the browser: the datasets and the publish switches.
    GRANT INSERT, UPDATE, DELETE ON catalog.datasets, catalog.dataset_collections,
        catalog.dataset_imagery TO stadtkarte_server;
    GRANT UPDATE (publish_features, publish_tiles, updated_at) ON catalog.collections TO stadtkarte_server;
    GRANT UPDATE (published, updated_at) ON catalog.imagery TO stadtkarte_server;
    -- Accounts, sessions, throttling.
    GRANT SELECT ON ALL TABLES IN SCHEMA auth TO stadtkarte_server;
    GRANT INSERT, UPDATE, DELETE ON auth.users, auth.roles, auth.sessions, auth.throttle,
        auth.client_salts, auth.oidc_pending TO stadtkarte_server;
    GRANT USAGE ON SEQUENCE auth.users_id_seq TO stadtkarte_server;
END $$;
