-- The petitions map (schema `petitions`): petitions with a place (a point, an area or
-- districts), signatures confirmed by e-mail (a POST from the page the link opens, never the GET
-- itself), the counts per district kept exact by a trigger, comments with report-and-hide, and the
-- mail outbox. Personal data (names, e-mail addresses, postcodes, client hashes) lives only in
-- `petitions.petitions.creator_*`, `petitions.signatures` and the outbox; it is anonymised after
-- closing (retention). The public reads the views `petitions.public_petitions` and
-- `petitions.public_counts`, which hold no personal data.

CREATE SCHEMA IF NOT EXISTS petitions;
COMMENT ON SCHEMA petitions IS 'Petitions map; personal data in petitions.creator_*, signatures and outbox';

CREATE TABLE petitions.topics (
    code      text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_-]{0,62}$'),
    name_de   text NOT NULL CHECK (name_de <> ''),
    name_en   text NOT NULL CHECK (name_en <> ''),
    position  integer NOT NULL DEFAULT 0
);
INSERT INTO petitions.topics (code, name_de, name_en, position) VALUES
    ('verkehr', 'Verkehr und Mobilität', 'Traffic and mobility', 1),
    ('umwelt', 'Umwelt und Grün', 'Environment and green spaces', 2),
    ('bauen', 'Bauen und Stadtentwicklung', 'Building and urban development', 3),
    ('soziales', 'Soziales und Gesundheit', 'Social affairs and health', 4),
    ('bildung', 'Schule, Kita und Bildung', 'Schools, childcare and education', 5),
    ('kultur', 'Kultur, Sport und Freizeit', 'Culture, sports and leisure', 6),
    ('sonstiges', 'Sonstiges', 'Other', 7);

CREATE TABLE petitions.petitions (
    id                    bigserial PRIMARY KEY,
    -- pending: the creator has not confirmed the e-mail yet; sponsoring: collecting sponsor
    -- signatures; moderation: waiting for a moderator; open: signing; closed: deadline passed
    -- or closed early; rejected: by a moderator (reason code and text); hidden: by staff.
    status                text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sponsoring',
                              'moderation', 'open', 'closed', 'rejected', 'hidden')),
    title                 text NOT NULL CHECK (char_length(title) BETWEEN 10 AND 150),
    -- The title as the creator wrote it, once a moderator edited it.
    original_title        text,
    body                  text NOT NULL CHECK (char_length(body) BETWEEN 30 AND 6000),
    topic                 text NOT NULL REFERENCES petitions.topics ON UPDATE CASCADE,
    place_kind            text NOT NULL CHECK (place_kind IN ('point', 'area', 'districts')),
    -- The districts the place lies in (or that were chosen).
    districts             text[] NOT NULL DEFAULT '{}',
    geom                  geometry(Geometry, 25832) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    creator_name          text,
    creator_email         text,
    -- The creator's name is shown on the petition page (their choice).
    creator_public        boolean NOT NULL DEFAULT false,
    lang                  text NOT NULL DEFAULT 'de' CHECK (lang IN ('de', 'en')),
    -- SHA-256 of the creator's confirmation token; of the sponsors' link.
    confirm_hash          bytea UNIQUE,
    sponsor_key           text NOT NULL UNIQUE,
    flagged               boolean NOT NULL DEFAULT false,
    moderation_note       text,
    reject_code           text CHECK (reject_code IS NULL OR reject_code IN ('duplicate', 'irrelevant',
                              'not_city', 'offensive', 'advertising', 'personal', 'unclear', 'other')),
    reject_reason         text,
    hidden_reason         text,
    response              text,
    response_at           timestamptz,
    -- Fixed when published.
    threshold             integer NOT NULL CHECK (threshold > 0),
    residents_only        boolean NOT NULL,
    threshold_reached_at  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    confirmed_at          timestamptz,
    published_at          timestamptz,
    deadline              timestamptz,
    closed_at             timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- Creator and signers were anonymised (retention or on request).
    anonymised_at         timestamptz
);
COMMENT ON COLUMN petitions.petitions.creator_name IS 'personal';
COMMENT ON COLUMN petitions.petitions.creator_email IS 'personal';
CREATE INDEX ON petitions.petitions USING gist (geom);
CREATE INDEX ON petitions.petitions (status, deadline);
CREATE INDEX ON petitions.petitions (lower(creator_email)) WHERE creator_email IS NOT NULL;
CREATE INDEX ON petitions.petitions USING gin (districts);

CREATE TABLE petitions.signatures (
    id               bigserial PRIMARY KEY,
    petition_id      bigint NOT NULL REFERENCES petitions.petitions ON DELETE CASCADE,
    name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email            text,
    -- Lower case, plus-suffix removed, dots removed for Gmail: one signature per person.
    email_canonical  text,
    email_domain     text,
    -- 1; 2 for a household's second signature (same e-mail, other name, same postcode).
    slot             smallint NOT NULL DEFAULT 1 CHECK (slot IN (1, 2)),
    postcode         text,
    -- NULL: outside the city or not said.
    district         text,
    resident         boolean NOT NULL,
    visibility       text NOT NULL CHECK (visibility IN ('public', 'district', 'anonymous')),
    sponsor          boolean NOT NULL DEFAULT false,
    token_hash       bytea UNIQUE,
    client_hash      text,
    lang             text NOT NULL DEFAULT 'de' CHECK (lang IN ('de', 'en')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    confirmed_at     timestamptz,
    invalidated_at   timestamptz,
    invalid_reason   text,
    anonymised_at    timestamptz
);
COMMENT ON COLUMN petitions.signatures.name IS 'personal';
COMMENT ON COLUMN petitions.signatures.email IS 'personal';
COMMENT ON COLUMN petitions.signatures.email_canonical IS 'personal';
COMMENT ON COLUMN petitions.signatures.postcode IS 'personal';
COMMENT ON COLUMN petitions.signatures.client_hash IS 'personal';
CREATE UNIQUE INDEX signatures_one_per_email ON petitions.signatures (petition_id, email_canonical, slot)
    WHERE email_canonical IS NOT NULL;
CREATE INDEX ON petitions.signatures (petition_id, confirmed_at);
CREATE INDEX ON petitions.signatures (created_at);
CREATE INDEX ON petitions.signatures (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX ON petitions.signatures (email_domain, created_at);
CREATE INDEX ON petitions.signatures (client_hash, created_at);

-- Confirmed, valid signatures per petition, district ('' outside or unknown) and residency:
-- kept by the trigger below, in the same transaction as the change, so they are exact. Each
-- count is split over eight rows (by the signature's id), so that concurrent confirmations in
-- one district do not wait for each other's row lock; readers add them up.
CREATE TABLE petitions.counts (
    petition_id  bigint NOT NULL REFERENCES petitions.petitions ON DELETE CASCADE,
    district     text NOT NULL DEFAULT '',
    resident     boolean NOT NULL,
    shard        smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 7),
    n            integer NOT NULL CHECK (n >= 0),
    PRIMARY KEY (petition_id, district, resident, shard)
);

CREATE FUNCTION petitions.count_signature() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was boolean := false;
    now_counts boolean := false;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        was := OLD.confirmed_at IS NOT NULL AND OLD.invalidated_at IS NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        now_counts := NEW.confirmed_at IS NOT NULL AND NEW.invalidated_at IS NULL;
    END IF;
    IF was AND (NOT now_counts OR OLD.district IS DISTINCT FROM NEW.district OR OLD.resident <> NEW.resident) THEN
        UPDATE petitions.counts SET n = n - 1
         WHERE petition_id = OLD.petition_id AND district = coalesce(OLD.district, '') AND resident = OLD.resident
           AND shard = OLD.id % 8;
    END IF;
    IF now_counts AND (NOT was OR OLD.district IS DISTINCT FROM NEW.district OR OLD.resident <> NEW.resident) THEN
        INSERT INTO petitions.counts (petition_id, district, resident, shard, n)
        VALUES (NEW.petition_id, coalesce(NEW.district, ''), NEW.resident, NEW.id % 8, 1)
        ON CONFLICT (petition_id, district, resident, shard) DO UPDATE SET n = petitions.counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER count_signature AFTER INSERT OR UPDATE OF confirmed_at, invalidated_at, district, resident
    OR DELETE ON petitions.signatures FOR EACH ROW EXECUTE FUNCTION petitions.count_signature();

CREATE TABLE petitions.comments (
    id           bigserial PRIMARY KEY,
    petition_id  bigint NOT NULL REFERENCES petitions.petitions ON DELETE CASCADE,
    -- The name the author chose to show (may be empty: anonymous).
    author       text NOT NULL DEFAULT '' CHECK (char_length(author) <= 80),
    body         text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
    client_hash  text,
    reports      integer NOT NULL DEFAULT 0,
    hidden       boolean NOT NULL DEFAULT false,
    hidden_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN petitions.comments.client_hash IS 'personal';
CREATE INDEX ON petitions.comments (petition_id, created_at);
CREATE TABLE petitions.comment_reports (
    comment_id   bigint NOT NULL REFERENCES petitions.comments ON DELETE CASCADE,
    client_hash  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (comment_id, client_hash)
);
COMMENT ON COLUMN petitions.comment_reports.client_hash IS 'personal';

-- The mail outbox (see core::mail).
CREATE TABLE petitions.outbox (
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
COMMENT ON COLUMN petitions.outbox.recipient IS 'personal';
CREATE INDEX ON petitions.outbox (next_attempt) WHERE sent_at IS NULL;

-- What the public sees: published petitions (open, closed, rejected) without personal data,
-- with their counts.
CREATE VIEW petitions.public_petitions AS
SELECT p.id,
       p.title,
       p.topic,
       t.name_de AS topic_title,
       p.status,
       p.place_kind,
       array_to_string(p.districts, ', ') AS districts,
       coalesce(c.total, 0)::integer AS signatures,
       coalesce(c.residents, 0)::integer AS residents,
       p.threshold,
       p.residents_only,
       p.threshold_reached_at,
       p.published_at,
       p.deadline,
       p.closed_at,
       p.response_at,
       p.reject_code,
       p.geom
FROM petitions.petitions p
JOIN petitions.topics t ON t.code = p.topic
LEFT JOIN (SELECT petition_id, sum(n) AS total, sum(n) FILTER (WHERE resident) AS residents
             FROM petitions.counts GROUP BY petition_id) c ON c.petition_id = p.id
WHERE p.status IN ('open', 'closed', 'rejected');
COMMENT ON VIEW petitions.public_petitions IS 'Petitions with their counts, without personal data';
COMMENT ON COLUMN petitions.public_petitions.id IS 'Nummer';
COMMENT ON COLUMN petitions.public_petitions.title IS 'Titel';
COMMENT ON COLUMN petitions.public_petitions.topic IS 'Thema (Code)';
COMMENT ON COLUMN petitions.public_petitions.topic_title IS 'Thema';
COMMENT ON COLUMN petitions.public_petitions.status IS 'Status';
COMMENT ON COLUMN petitions.public_petitions.place_kind IS 'Art des Orts';
COMMENT ON COLUMN petitions.public_petitions.districts IS 'Stadtteile';
COMMENT ON COLUMN petitions.public_petitions.signatures IS 'Unterschriften';
COMMENT ON COLUMN petitions.public_petitions.residents IS 'Unterschriften aus der Stadt';
COMMENT ON COLUMN petitions.public_petitions.threshold IS 'Quorum';
COMMENT ON COLUMN petitions.public_petitions.residents_only IS 'Nur Einwohner zählen';
COMMENT ON COLUMN petitions.public_petitions.threshold_reached_at IS 'Quorum erreicht am';
COMMENT ON COLUMN petitions.public_petitions.published_at IS 'Veröffentlicht am';
COMMENT ON COLUMN petitions.public_petitions.deadline IS 'Zeichnungsfrist';
COMMENT ON COLUMN petitions.public_petitions.closed_at IS 'Geschlossen am';
COMMENT ON COLUMN petitions.public_petitions.response_at IS 'Antwort des Rats am';
COMMENT ON COLUMN petitions.public_petitions.reject_code IS 'Ablehnungsgrund';

-- The tile server hears of changes of petitions (not of every signature: the counts in tiles
-- are refreshed with the petition, the pages read them live). Petitions change rarely (a
-- moderator's action), so the collection's extent (the tiles draw nothing outside it) is simply
-- computed again. SECURITY DEFINER: the server's role may not write the catalog itself.
CREATE FUNCTION petitions.notify_tiles() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    b box2d;
BEGIN
    SELECT ST_Extent(ST_Transform(geom, 4326)) INTO b FROM petitions.public_petitions;
    UPDATE catalog.collections
       SET extent_crs84 = CASE WHEN b IS NULL THEN NULL
                               ELSE ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)] END,
           updated_at = now()
     WHERE id = 'petitionen' AND extent_crs84 IS DISTINCT FROM
           CASE WHEN b IS NULL THEN NULL ELSE ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)] END;
    PERFORM pg_notify('stadtkarte_tiles', json_build_object('collection', 'petitionen')::text);
    RETURN NULL;
END $$;
-- For each row changed (an UPDATE that changes nothing — a signature's threshold check — costs
-- nothing); one notification per transaction, as PostgreSQL folds equal ones.
CREATE TRIGGER notify_tiles AFTER INSERT OR UPDATE OR DELETE ON petitions.petitions
    FOR EACH ROW EXECUTE FUNCTION petitions.notify_tiles();

-- The petitions as a collection of the OGC API and the vector tiles.
INSERT INTO catalog.collections (id, title, description, keywords, table_schema, table_name,
    geometry_type, storage_srid, temporal_column, license, license_url, attribution, min_zoom, max_zoom)
VALUES ('petitionen', 'Petitionen',
    'Petitionen an den Stadtrat mit ihrem Ort (Punkt, Fläche oder Stadtteile), Thema, Status, Frist und Zahl der Unterschriften. Ohne personenbezogene Daten.',
    ARRAY['Petitionen', 'Bürgerbeteiligung'], 'petitions', 'public_petitions',
    'Geometry', 25832, 'published_at', 'Datenlizenz Deutschland – Zero – Version 2.0',
    'https://www.govdata.de/dl-de/zero-2-0', 'Stadt (Petitionen)', 0, 22)
ON CONFLICT (id) DO NOTHING;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA petitions TO stadtkarte_server;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA petitions TO stadtkarte_server;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA petitions TO stadtkarte_server;
END $$;
