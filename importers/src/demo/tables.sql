-- The demo city's tables, recreated on every `stadtkarte demo` inside its transaction.
DELETE FROM catalog.collections
 WHERE id IN ('stadtteile', 'gewaesser', 'strassen', 'gebaeude', 'poi');
DROP TABLE IF EXISTS data.stadtteile, data.gewaesser, data.strassen, data.gebaeude, data.poi;

CREATE TABLE data.stadtteile (
    id         integer PRIMARY KEY,
    name       text NOT NULL,
    schluessel text NOT NULL,
    plz        text NOT NULL,
    geom       geometry(MultiPolygon, 25832) NOT NULL
);
CREATE TABLE data.gewaesser (
    id   integer PRIMARY KEY,
    name text NOT NULL,
    art  text NOT NULL,
    geom geometry(MultiPolygon, 25832) NOT NULL
);
CREATE TABLE data.strassen (
    id        bigint PRIMARY KEY,
    name      text NOT NULL,
    klasse    text NOT NULL,
    stadtteil text NOT NULL,
    geom      geometry(LineString, 25832) NOT NULL
);
CREATE TABLE data.gebaeude (
    id             bigint PRIMARY KEY,
    funktion       text NOT NULL,
    geschosse      smallint NOT NULL,
    hoehe          real NOT NULL,
    strasse        text NOT NULL,
    hausnummer     text NOT NULL,
    plz            text NOT NULL,
    stadtteil      text NOT NULL,
    fertigstellung date NOT NULL,
    geom           geometry(Polygon, 25832) NOT NULL
);
-- The names people read (as an import keeps a source's own column names): queryables' titles,
-- the map's feature panel, download headers.
COMMENT ON COLUMN data.gebaeude.funktion IS 'Gebäudefunktion';
COMMENT ON COLUMN data.gebaeude.geschosse IS 'Geschosse';
COMMENT ON COLUMN data.gebaeude.hoehe IS 'Höhe (m)';
COMMENT ON COLUMN data.gebaeude.strasse IS 'Straße';
COMMENT ON COLUMN data.gebaeude.hausnummer IS 'Hausnummer';
COMMENT ON COLUMN data.gebaeude.plz IS 'Postleitzahl';
COMMENT ON COLUMN data.gebaeude.stadtteil IS 'Stadtteil';
COMMENT ON COLUMN data.gebaeude.fertigstellung IS 'Fertigstellung';
CREATE TABLE data.poi (
    id        bigint PRIMARY KEY,
    name      text NOT NULL,
    funktion  text NOT NULL,
    stadtteil text NOT NULL,
    geom      geometry(Point, 25832) NOT NULL
);
