-- Foundation: PostGIS, the schemas, the collection catalog and the audit log.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS catalog;
COMMENT ON SCHEMA catalog IS 'What the platform serves: collections, datasets, imagery, audit log';
CREATE SCHEMA IF NOT EXISTS data;
COMMENT ON SCHEMA data IS 'Imported and generated layers, one table per collection';

-- The one source of truth for what is served. Nothing is served from a table not listed here.
CREATE TABLE catalog.collections (
    id               text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{0,62}$'),
    title            text NOT NULL CHECK (title <> ''),
    description      text NOT NULL DEFAULT '',
    keywords         text[] NOT NULL DEFAULT '{}',
    table_schema     text NOT NULL DEFAULT 'data',
    table_name       text NOT NULL,
    id_column        text NOT NULL DEFAULT 'id',
    geometry_column  text NOT NULL DEFAULT 'geom',
    geometry_type    text NOT NULL CHECK (geometry_type IN (
                         'Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString',
                         'MultiPolygon', 'GeometryCollection', 'Geometry')),
    storage_srid     integer NOT NULL DEFAULT 25832,
    temporal_column  text,
    license          text NOT NULL,
    license_url      text,
    attribution      text NOT NULL,
    min_zoom         smallint NOT NULL DEFAULT 0 CHECK (min_zoom BETWEEN 0 AND 24),
    max_zoom         smallint NOT NULL DEFAULT 22 CHECK (max_zoom BETWEEN 0 AND 24),
    publish_features boolean NOT NULL DEFAULT true,
    publish_tiles    boolean NOT NULL DEFAULT true,
    feature_count    bigint,
    -- Bounding box in CRS84: minimum longitude, minimum latitude, maximum longitude, maximum latitude.
    extent_crs84     double precision[] CHECK (extent_crs84 IS NULL OR cardinality(extent_crs84) = 4),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (table_schema, table_name),
    CHECK (min_zoom <= max_zoom)
);

-- A catalog entry must point at an existing table with the named columns, so the names the
-- servers read from the catalog are always real identifiers.
CREATE FUNCTION catalog.check_collection_table() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rel regclass := to_regclass(format('%I.%I', NEW.table_schema, NEW.table_name));
    col text;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'collection %: table %.% does not exist', NEW.id, NEW.table_schema, NEW.table_name;
    END IF;
    FOREACH col IN ARRAY array_remove(ARRAY[NEW.id_column, NEW.geometry_column, NEW.temporal_column], NULL) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = rel AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
            RAISE EXCEPTION 'collection %: table %.% has no column %', NEW.id, NEW.table_schema, NEW.table_name, col;
        END IF;
    END LOOP;
    RETURN NEW;
END $$;

CREATE TRIGGER collections_check_table
    BEFORE INSERT OR UPDATE ON catalog.collections
    FOR EACH ROW EXECUTE FUNCTION catalog.check_collection_table();

-- Who changed what, when: imports, catalog changes, staff actions.
CREATE TABLE catalog.audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    subject text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_subject_at ON catalog.audit_log (subject, at DESC);
