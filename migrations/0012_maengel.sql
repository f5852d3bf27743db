-- The Mängelmelder (schema `maengel`): categories (Open311 services) routed to departments, with
-- extra attributes (Open311 service definitions); citizens' reports with their photos, the
-- status history, internal notes and supporters; API keys of third-party Open311 clients; and the
-- mail outbox. Personal data (the reporter's e-mail, name and phone) lives only in
-- `maengel.reports.reporter_*` and in the outbox, and is deleted after closing (retention).
-- Public readers see the view `maengel.public_reports`, which holds no personal data.

-- Shared by every area: rate limits per key (hashed client or e-mail) and the secrets of the
-- platform (the key that signs form stamps), made on first use.
CREATE TABLE auth.rate_limits (
    key           text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL
);
CREATE TABLE auth.secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A department's functional mailbox (not a person's): new reports and the daily digest.
ALTER TABLE auth.departments ADD COLUMN email text CHECK (email IS NULL OR email LIKE '%_@_%');

CREATE SCHEMA IF NOT EXISTS maengel;
COMMENT ON SCHEMA maengel IS 'Mängelmelder: defect reports; personal data in reports.reporter_* and outbox';

CREATE TABLE maengel.categories (
    code             text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_-]{0,62}$'),
    name_de          text NOT NULL CHECK (name_de <> ''),
    name_en          text NOT NULL CHECK (name_en <> ''),
    description_de   text NOT NULL DEFAULT '',
    description_en   text NOT NULL DEFAULT '',
    keywords         text[] NOT NULL DEFAULT '{}',
    group_name       text NOT NULL DEFAULT '',
    department       text NOT NULL REFERENCES auth.departments ON UPDATE CASCADE,
    -- When description and photos become public: after staff review, N minutes after the
    -- report, or at once.
    release          text NOT NULL DEFAULT 'review' CHECK (release IN ('review', 'delay', 'immediate')),
    release_minutes  integer NOT NULL DEFAULT 60 CHECK (release_minutes BETWEEN 0 AND 100000),
    -- How the department hears of new reports: a mail each, or one digest a day.
    notify           text NOT NULL DEFAULT 'immediate' CHECK (notify IN ('immediate', 'digest')),
    active           boolean NOT NULL DEFAULT true,
    position         integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Open311 service definitions: the extra questions of a category.
CREATE TABLE maengel.attributes (
    category              text NOT NULL REFERENCES maengel.categories ON UPDATE CASCADE ON DELETE CASCADE,
    code                  text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,62}$'),
    datatype              text NOT NULL CHECK (datatype IN ('string', 'number', 'datetime', 'text',
                                                            'singlevaluelist', 'multivaluelist')),
    required              boolean NOT NULL DEFAULT false,
    variable              boolean NOT NULL DEFAULT true,
    position              integer NOT NULL CHECK (position > 0),
    description_de        text NOT NULL CHECK (description_de <> ''),
    description_en        text NOT NULL CHECK (description_en <> ''),
    datatype_description  text NOT NULL DEFAULT '',
    -- The list types' values: [{"key": …, "name_de": …, "name_en": …}].
    choices               jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(choices) = 'array'),
    PRIMARY KEY (category, code),
    UNIQUE (category, position)
);

CREATE TABLE maengel.reports (
    id                  bigserial PRIMARY KEY,
    category            text NOT NULL REFERENCES maengel.categories ON UPDATE CASCADE,
    status              text NOT NULL DEFAULT 'eingegangen' CHECK (status IN ('eingegangen', 'geprueft',
                            'in_bearbeitung', 'erledigt', 'nicht_loesbar', 'duplikat', 'abgelehnt')),
    description         text NOT NULL CHECK (char_length(description) BETWEEN 1 AND 4000),
    -- Description and photos are public from this time on (NULL: not released yet).
    released_at         timestamptz,
    -- Staff withdrew the description (photos have their own flag), or the whole report.
    description_hidden  boolean NOT NULL DEFAULT false,
    hidden              boolean NOT NULL DEFAULT false,
    geom                geometry(Point, 25832) NOT NULL,
    address             text,
    district            text,
    attributes          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    -- Links sent with an Open311 request: kept as text, never fetched.
    media_urls          text[] NOT NULL DEFAULT '{}',
    reporter_email      text,
    reporter_name       text,
    reporter_phone      text,
    -- The reporter wants mail about changes.
    wants_updates       boolean NOT NULL DEFAULT false,
    -- The secret of the reporter's links (the "is it fixed?" question, stopping updates).
    secret              text NOT NULL UNIQUE,
    -- Open311 token: resolves to the id (tokens/{token}).
    token               text NOT NULL UNIQUE,
    -- The language of the reporter's mail.
    lang                text NOT NULL DEFAULT 'de' CHECK (lang IN ('de', 'en')),
    channel             text NOT NULL DEFAULT 'web' CHECK (channel IN ('web', 'open311')),
    api_client          text,
    supporters          integer NOT NULL DEFAULT 0 CHECK (supporters >= 0),
    duplicate_of        bigint REFERENCES maengel.reports,
    assigned_to         bigint REFERENCES auth.users ON DELETE SET NULL,
    status_note         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    -- The "is it fixed?" question went out.
    asked_fixed_at      timestamptz,
    -- Contact data and internal originals were deleted (retention or on request).
    personal_deleted_at timestamptz
);
COMMENT ON COLUMN maengel.reports.reporter_email IS 'personal';
COMMENT ON COLUMN maengel.reports.reporter_name IS 'personal';
COMMENT ON COLUMN maengel.reports.reporter_phone IS 'personal';
CREATE INDEX ON maengel.reports USING gist (geom);
CREATE INDEX ON maengel.reports (category, created_at);
CREATE INDEX ON maengel.reports (updated_at);
CREATE INDEX ON maengel.reports (created_at);
CREATE INDEX ON maengel.reports (lower(reporter_email)) WHERE reporter_email IS NOT NULL;
CREATE INDEX ON maengel.reports (closed_at) WHERE personal_deleted_at IS NULL;

-- Photos: the processed versions, stored in the database (atomic with the report, replicated,
-- nothing on a node's disk). `original`: re-encoded, EXIF-free, internal; `display`: what the
-- public sees once released (a redacted copy after staff black out areas); `thumb`.
CREATE TABLE maengel.photos (
    id           bigserial PRIMARY KEY,
    report_id    bigint NOT NULL REFERENCES maengel.reports ON DELETE CASCADE,
    position     smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
    original     bytea,
    display      bytea NOT NULL,
    thumb        bytea NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    redactions   jsonb NOT NULL DEFAULT '[]',
    hidden       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (report_id, position)
);

-- What happened to a report: status changes with their public notes, and internal notes.
CREATE TABLE maengel.events (
    id          bigserial PRIMARY KEY,
    report_id   bigint NOT NULL REFERENCES maengel.reports ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('status', 'note', 'internal', 'category', 'moved',
                    'merged', 'assigned', 'release', 'reopened', 'support')),
    status      text,
    public      boolean NOT NULL,
    text        text,
    staff_id    bigint REFERENCES auth.users ON DELETE SET NULL
);
CREATE INDEX ON maengel.events (report_id, at);
CREATE INDEX ON maengel.events (at) WHERE public;

-- Public status-note templates.
CREATE TABLE maengel.templates (
    id       bigserial PRIMARY KEY,
    status   text,
    title    text NOT NULL CHECK (title <> ''),
    text     text NOT NULL CHECK (text <> '')
);

-- Third-party Open311 clients: the key is stored as its SHA-256 only.
CREATE TABLE maengel.api_keys (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked     boolean NOT NULL DEFAULT false
);

-- The mail outbox (see core::mail).
CREATE TABLE maengel.outbox (
    id            bigserial PRIMARY KEY,
    recipient     text NOT NULL,
    subject       text NOT NULL,
    body          text NOT NULL,
    kind          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    next_attempt  timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    last_error    text
);
COMMENT ON COLUMN maengel.outbox.recipient IS 'personal';
CREATE INDEX ON maengel.outbox (next_attempt) WHERE sent_at IS NULL;

-- Daily digests sent, per department and day.
CREATE TABLE maengel.digests (
    department  text NOT NULL REFERENCES auth.departments ON UPDATE CASCADE ON DELETE CASCADE,
    day         date NOT NULL,
    PRIMARY KEY (department, day)
);

-- What the public sees: no reporter data, no internal notes; description only once released
-- and not withdrawn; hidden reports not at all.
CREATE VIEW maengel.public_reports AS
SELECT r.id,
       r.category,
       c.name_de AS category_title,
       r.status,
       CASE WHEN r.status IN ('eingegangen', 'geprueft', 'in_bearbeitung') THEN 'open' ELSE 'closed' END AS open311_status,
       CASE WHEN r.released_at <= now() AND NOT r.description_hidden THEN r.description END AS description,
       r.status_note,
       r.address,
       r.district,
       r.supporters,
       r.duplicate_of,
       r.created_at,
       r.updated_at,
       r.closed_at,
       r.geom
FROM maengel.reports r JOIN maengel.categories c ON c.code = r.category
WHERE NOT r.hidden;
COMMENT ON VIEW maengel.public_reports IS 'Defect reports without personal data';
COMMENT ON COLUMN maengel.public_reports.id IS 'Nummer';
COMMENT ON COLUMN maengel.public_reports.category IS 'Kategorie (Code)';
COMMENT ON COLUMN maengel.public_reports.category_title IS 'Kategorie';
COMMENT ON COLUMN maengel.public_reports.status IS 'Status';
COMMENT ON COLUMN maengel.public_reports.open311_status IS 'Status (Open311)';
COMMENT ON COLUMN maengel.public_reports.description IS 'Beschreibung (nach Freigabe)';
COMMENT ON COLUMN maengel.public_reports.status_note IS 'Hinweis der Verwaltung';
COMMENT ON COLUMN maengel.public_reports.address IS 'Adresse';
COMMENT ON COLUMN maengel.public_reports.district IS 'Stadtteil';
COMMENT ON COLUMN maengel.public_reports.supporters IS 'Unterstützungen';
COMMENT ON COLUMN maengel.public_reports.duplicate_of IS 'Duplikat von';
COMMENT ON COLUMN maengel.public_reports.created_at IS 'Gemeldet am';
COMMENT ON COLUMN maengel.public_reports.updated_at IS 'Geändert am';
COMMENT ON COLUMN maengel.public_reports.closed_at IS 'Abgeschlossen am';

-- The tile server hears of every change of a report (the view itself cannot carry triggers).
-- The collection's extent grows with the reports (the tiles draw nothing outside it): when a
-- report lies outside, the extent is widened and the whole collection announced as changed.
-- SECURITY DEFINER: the server's role may not write the catalog itself.
CREATE FUNCTION maengel.notify_tiles() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    b box2d;
    b2 box2d;
    e float8[];
    grown box2d;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT ST_Extent(ST_Transform(geom, 4326)) INTO b FROM new_rows;
        IF b IS NOT NULL THEN
            SELECT extent_crs84 INTO e FROM catalog.collections WHERE id = 'maengel';
            IF e IS NULL OR ST_XMin(b) < e[1] OR ST_YMin(b) < e[2] OR ST_XMax(b) > e[3] OR ST_YMax(b) > e[4] THEN
                grown := CASE WHEN e IS NULL THEN b
                    ELSE box2d(ST_Collect(b::geometry, ST_MakeEnvelope(e[1], e[2], e[3], e[4]))) END;
                UPDATE catalog.collections
                   SET extent_crs84 = ARRAY[ST_XMin(grown), ST_YMin(grown), ST_XMax(grown), ST_YMax(grown)],
                       updated_at = now()
                 WHERE id = 'maengel';
                PERFORM pg_notify('stadtkarte_tiles', json_build_object('collection', 'maengel')::text);
                RETURN NULL;
            END IF;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT ST_Extent(ST_Transform(geom, 4326)) INTO b2 FROM old_rows;
        b := CASE WHEN b IS NULL THEN b2 WHEN b2 IS NULL THEN b ELSE box2d(ST_Collect(b::geometry, b2::geometry)) END;
    END IF;
    IF b IS NOT NULL THEN
        PERFORM pg_notify('stadtkarte_tiles', json_build_object(
            'collection', 'maengel',
            'bbox', json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)))::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER notify_tiles_insert AFTER INSERT ON maengel.reports REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maengel.notify_tiles();
CREATE TRIGGER notify_tiles_update AFTER UPDATE ON maengel.reports REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maengel.notify_tiles();
CREATE TRIGGER notify_tiles_delete AFTER DELETE ON maengel.reports REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maengel.notify_tiles();

-- The reports as a collection of the OGC API and the vector tiles.
INSERT INTO catalog.collections (id, title, description, keywords, table_schema, table_name,
    geometry_type, storage_srid, temporal_column, license, license_url, attribution, min_zoom, max_zoom)
VALUES ('maengel', 'Mängelmeldungen',
    'Von Bürgerinnen und Bürgern gemeldete Mängel im öffentlichen Raum (Straßenschäden, Beleuchtung, Müll, …) mit Kategorie, Status und Ort; Beschreibungen nach Freigabe durch die Verwaltung. Ohne personenbezogene Daten.',
    ARRAY['Mängelmelder', 'Open311', 'Bürgerbeteiligung'], 'maengel', 'public_reports',
    'Point', 25832, 'created_at', 'Datenlizenz Deutschland – Zero – Version 2.0',
    'https://www.govdata.de/dl-de/zero-2-0', 'Stadt (Mängelmelder)', 8, 22)
ON CONFLICT (id) DO NOTHING;

-- Least privilege (see 0011): the server writes reports, photos, events, supporters, the outbox;
-- it reads categories and changes them for admins.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA maengel TO stadtkarte_server;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA maengel TO stadtkarte_server;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA maengel TO stadtkarte_server;
    GRANT SELECT, INSERT, UPDATE, DELETE ON auth.rate_limits TO stadtkarte_server;
    GRANT SELECT, INSERT ON auth.secrets TO stadtkarte_server;
    GRANT UPDATE (email) ON auth.departments TO stadtkarte_server;
END $$;
