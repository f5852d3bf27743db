-- Live tiles: statement-level triggers on every collection table report the bounding box (in
-- CRS84) of what changed through NOTIFY, so the tile server evicts exactly the affected tiles.
-- catalog.register installs the triggers; the function takes the geometry column and the
-- collection id as arguments.
CREATE FUNCTION catalog.notify_tiles() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    geom text := TG_ARGV[0];
    b box2d;
    b2 box2d;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT ST_Extent(ST_Transform(%I, 4326)) FROM new_rows', geom) INTO b;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT ST_Extent(ST_Transform(%I, 4326)) FROM old_rows', geom) INTO b2;
        b := CASE WHEN b IS NULL THEN b2 WHEN b2 IS NULL THEN b ELSE box2d(ST_Collect(b::geometry, b2::geometry)) END;
    END IF;
    IF b IS NOT NULL THEN
        PERFORM pg_notify('stadtkarte_tiles', json_build_object(
            'collection', TG_ARGV[1],
            'bbox', json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)))::text);
    END IF;
    RETURN NULL;
END $$;
