-- Typed tables for the plan objects a citizen's map draws and styles by their attributes: the
-- overbuildable areas, building limits and building lines, the traffic areas, green areas and
-- community facilities of a Bebauungsplan. Until now these lay in `plans.planobjekte` as JSON;
-- with their codes and German labels as columns they can be served, filtered and styled like
-- `plans.baugebiete`. Each table follows that table's shape: a serial `id` (the catalog's feature
-- id), the object's `gml_id` unique within its plan, the plan (a plan imported again replaces
-- its rows through the cascade), the Bereich, the remaining attributes as JSON, the geometry in
-- the storage CRS (set by the importer, as for the other plan tables).

CREATE TABLE plans.ueberbaubare_flaechen (
    id             bigserial PRIMARY KEY,
    gml_id         text NOT NULL,
    plan_id        text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id text,
    attribute      jsonb NOT NULL DEFAULT '{}',
    geom           geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.ueberbaubare_flaechen IS 'BP_UeberbaubareGrundstuecksFlaeche';

CREATE TABLE plans.baugrenzen (
    id             bigserial PRIMARY KEY,
    gml_id         text NOT NULL,
    plan_id        text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id text,
    attribute      jsonb NOT NULL DEFAULT '{}',
    geom           geometry(MultiLineString),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.baugrenzen IS 'BP_BauGrenze';

CREATE TABLE plans.baulinien (
    id             bigserial PRIMARY KEY,
    gml_id         text NOT NULL,
    plan_id        text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id text,
    attribute      jsonb NOT NULL DEFAULT '{}',
    geom           geometry(MultiLineString),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.baulinien IS 'BP_BauLinie';

CREATE TABLE plans.strassenverkehrsflaechen (
    id               bigserial PRIMARY KEY,
    gml_id           text NOT NULL,
    plan_id          text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id   text,
    nutzungsform     text,
    nutzungsform_text text,
    attribute        jsonb NOT NULL DEFAULT '{}',
    geom             geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.strassenverkehrsflaechen IS 'BP_StrassenVerkehrsFlaeche';

CREATE TABLE plans.verkehrsflaechen_besonderer_zweckbestimmung (
    id                   bigserial PRIMARY KEY,
    gml_id               text NOT NULL,
    plan_id              text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id       text,
    zweckbestimmung      text,
    zweckbestimmung_text text,
    nutzungsform         text,
    nutzungsform_text    text,
    attribute            jsonb NOT NULL DEFAULT '{}',
    geom                 geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.verkehrsflaechen_besonderer_zweckbestimmung IS
    'BP_VerkehrsflaecheBesondererZweckbestimmung';

CREATE TABLE plans.gruenflaechen (
    id                   bigserial PRIMARY KEY,
    gml_id               text NOT NULL,
    plan_id              text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id       text,
    zweckbestimmung      text,
    zweckbestimmung_text text,
    nutzungsform         text,
    nutzungsform_text    text,
    attribute            jsonb NOT NULL DEFAULT '{}',
    geom                 geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.gruenflaechen IS 'BP_GruenFlaeche';

CREATE TABLE plans.gemeinbedarfsflaechen (
    id                   bigserial PRIMARY KEY,
    gml_id               text NOT NULL,
    plan_id              text NOT NULL REFERENCES plans.bebauungsplaene ON DELETE CASCADE,
    bereich_gml_id       text,
    zweckbestimmung      text,
    zweckbestimmung_text text,
    attribute            jsonb NOT NULL DEFAULT '{}',
    geom                 geometry(MultiPolygon),
    UNIQUE (plan_id, gml_id)
);
COMMENT ON TABLE plans.gemeinbedarfsflaechen IS 'BP_GemeinbedarfsFlaeche';

CREATE INDEX ON plans.ueberbaubare_flaechen USING gist (geom);
CREATE INDEX ON plans.baugrenzen USING gist (geom);
CREATE INDEX ON plans.baulinien USING gist (geom);
CREATE INDEX ON plans.strassenverkehrsflaechen USING gist (geom);
CREATE INDEX ON plans.verkehrsflaechen_besonderer_zweckbestimmung USING gist (geom);
CREATE INDEX ON plans.gruenflaechen USING gist (geom);
CREATE INDEX ON plans.gemeinbedarfsflaechen USING gist (geom);
CREATE INDEX ON plans.ueberbaubare_flaechen (plan_id);
CREATE INDEX ON plans.baugrenzen (plan_id);
CREATE INDEX ON plans.baulinien (plan_id);
CREATE INDEX ON plans.strassenverkehrsflaechen (plan_id);
CREATE INDEX ON plans.verkehrsflaechen_besonderer_zweckbestimmung (plan_id);
CREATE INDEX ON plans.gruenflaechen (plan_id);
CREATE INDEX ON plans.gemeinbedarfsflaechen (plan_id);

-- The server reads what it serves (migration 0011 grants the schema's existing tables and sets
-- default privileges for the migration owner's new ones; said again here so that a database
-- whose tables were created by another owner serves these too).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stadtkarte_server') THEN
        GRANT SELECT ON plans.ueberbaubare_flaechen, plans.baugrenzen, plans.baulinien,
            plans.strassenverkehrsflaechen, plans.verkehrsflaechen_besonderer_zweckbestimmung,
            plans.gruenflaechen, plans.gemeinbedarfsflaechen TO stadtkarte_server;
    END IF;
END $$;
