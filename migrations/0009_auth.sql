-- Staff accounts, roles, sessions and sign-in throttling (schema `auth`). Passwords are argon2id
-- hashes; a session is stored only as the SHA-256 of its random token; the second factor
-- (TOTP, RFC 6238) remembers its last used time step so that a code is never accepted twice.
CREATE SCHEMA IF NOT EXISTS auth;
COMMENT ON SCHEMA auth IS 'Staff accounts, roles, sessions; personal data (e-mail, name)';

-- Departments of the city (Tiefbauamt, Grünflächenamt, …): triage is scoped to them.
CREATE TABLE auth.departments (
    id    text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{0,62}$'),
    name  text NOT NULL CHECK (name <> '')
);

CREATE TABLE auth.users (
    id              bigserial PRIMARY KEY,
    email           text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name    text NOT NULL CHECK (display_name <> ''),
    -- NULL: signs in only through single sign-on.
    password_hash   text,
    totp_secret     text,
    totp_enabled    boolean NOT NULL DEFAULT false,
    totp_last_step  bigint NOT NULL DEFAULT 0,
    -- SHA-256 of the unused recovery codes (hex).
    recovery_codes  text[] NOT NULL DEFAULT '{}',
    oidc_subject    text UNIQUE,
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN auth.users.email IS 'personal';
COMMENT ON COLUMN auth.users.display_name IS 'personal';

CREATE TABLE auth.roles (
    user_id     bigint NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('admin', 'triage', 'moderator', 'editor')),
    -- triage only: the department it covers.
    department  text REFERENCES auth.departments ON UPDATE CASCADE,
    CHECK ((role = 'triage') = (department IS NOT NULL))
);
CREATE UNIQUE INDEX roles_unique ON auth.roles (user_id, role, coalesce(department, ''));

CREATE TABLE auth.sessions (
    token_hash     bytea PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    -- The password was right but the second factor is still to come.
    pending_totp   boolean NOT NULL DEFAULT false,
    via_oidc       boolean NOT NULL DEFAULT false
);
CREATE INDEX ON auth.sessions (user_id);
CREATE INDEX ON auth.sessions (expires_at);

-- Failed sign-ins per account and per client (a salted, daily rotating hash of the address,
-- never the address): the delay grows with every failure, then the key is locked for a while.
CREATE TABLE auth.throttle (
    key           text PRIMARY KEY,
    failures      integer NOT NULL DEFAULT 0,
    next_allowed  timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The salt of the client hashes, one per day, shared by every node; older ones are deleted.
CREATE TABLE auth.client_salts (
    day   date PRIMARY KEY,
    salt  bytea NOT NULL
);

-- Single sign-on in flight: state → PKCE verifier and nonce, for ten minutes.
CREATE TABLE auth.oidc_pending (
    state       text PRIMARY KEY,
    verifier    text NOT NULL,
    nonce       text NOT NULL,
    next        text NOT NULL DEFAULT '/admin',
    created_at  timestamptz NOT NULL DEFAULT now()
);
