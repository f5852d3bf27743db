CREATE INDEX ON data.stadtteile USING gist (geom);
CREATE INDEX ON data.gewaesser USING gist (geom);
CREATE INDEX ON data.strassen USING gist (geom);
CREATE INDEX ON data.gebaeude USING gist (geom);
CREATE INDEX ON data.poi USING gist (geom);
ANALYZE data.stadtteile, data.gewaesser, data.strassen, data.gebaeude, data.poi;
