-- Development plans (Bebauungspläne) from XPlanGML: plans, their parts (Bereiche), the zoning
-- areas with first-class columns, every other plan object generically, and the documents
-- (plan PDF, georeferenced scan) that came with a plan. Geometries carry the storage SRID.

CREATE SCHEMA IF NOT EXISTS plans;
COMMENT ON SCHEMA plans IS 'XPlanung: development plans imported from XPlanGML';

CREATE TABLE plans.bebauungsplaene (
    id                    text PRIMARY KEY,            -- gml:id of the BP_Plan
    name                  text NOT NULL,
    nummer                text,
    planart               text,
    planart_text          text,
    rechtsstand           text,
    rechtsstand_text      text,
    gemeinde              text,
    ags                   text,
    ortsteil              text,
    aufstellungsbeschluss date,
    satzungsbeschluss     date,
    rechtsverordnung      date,
    ausfertigung          date,
    inkrafttreten         date,
    techn_herstellung     date,
    beschreibung          text,
    xplan_version         text NOT NULL,
    quelle                text NOT NULL,
    importiert_am         timestamptz NOT NULL DEFAULT now(),
    attribute             jsonb NOT NULL DEFAULT '{}',
    geom                  geometry(MultiPolygon)
);

CREATE TABLE plans.bereiche (
    id        bigserial PRIMARY KEY,
    gml_id    text NOT NULL,
    plan_id   text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    nummer    text,
    name      text,
    attribute jsonb NOT NULL DEFAULT '{}',
    geom      geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);

CREATE TABLE plans.baugebiete (
    id                 bigserial PRIMARY KEY,
    gml_id             text NOT NULL,
    plan_id            text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id     text,
    allg_art           text,
    allg_art_text      text,
    besondere_art      text,
    besondere_art_text text,
    grz                double precision,
    gfz                double precision,
    geschosse_min      integer,
    geschosse_max      integer,
    bauweise           text,
    bauweise_text      text,
    attribute          jsonb NOT NULL DEFAULT '{}',
    geom               geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);

CREATE TABLE plans.planobjekte (
    id        bigserial PRIMARY KEY,
    gml_id    text NOT NULL,
    plan_id   text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    objektart text NOT NULL,
    attribute jsonb NOT NULL DEFAULT '{}',
    geom      geometry,
    UNIQUE (plan_id, gml_id)
);

CREATE TABLE plans.dokumente (
    plan_id      text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    datei        text NOT NULL,
    art          text NOT NULL CHECK (art IN ('Dokument', 'Scan')),
    name         text,
    typ          text,
    media_type   text NOT NULL,
    inhalt       bytea NOT NULL,
    georef_datei text,
    georef       bytea,
    PRIMARY KEY (plan_id, datei)
);

CREATE INDEX ON plans.bebauungsplaene USING gist (geom);
CREATE INDEX ON plans.bereiche USING gist (geom);
CREATE INDEX ON plans.baugebiete USING gist (geom);
CREATE INDEX ON plans.planobjekte USING gist (geom);
CREATE INDEX ON plans.baugebiete (plan_id);
CREATE INDEX ON plans.planobjekte (plan_id);
