-- Aerial imagery: one row per epoch (e.g. "Luftbild 1958"). An epoch is a tile pyramid aligned to
-- WebMercatorQuad, stored as one Cloud-Optimized GeoTIFF per zoom level (WebP tiles with alpha)
-- under the configured imagery folder; `levels` lists them. A new import writes new files under a
-- new `version` and swaps the row in one transaction, so a reader sees the old or the new epoch.
CREATE TABLE catalog.imagery (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{0,62}$'),
    title         text NOT NULL CHECK (title <> ''),
    description   text NOT NULL DEFAULT '',
    year          integer NOT NULL CHECK (year BETWEEN 1800 AND 2200),
    source        text NOT NULL DEFAULT '',
    license       text NOT NULL,
    attribution   text NOT NULL,
    grayscale     boolean NOT NULL,
    -- Finest ground resolution of the source in metres per pixel.
    resolution_m  double precision NOT NULL CHECK (resolution_m > 0),
    footprint     geometry(MultiPolygon, 4326) NOT NULL,
    min_zoom      smallint NOT NULL CHECK (min_zoom BETWEEN 0 AND 24),
    max_zoom      smallint NOT NULL CHECK (max_zoom BETWEEN 0 AND 24),
    tile_format   text NOT NULL DEFAULT 'webp' CHECK (tile_format IN ('webp', 'jpeg')),
    -- Changes with every import; part of the file names and the tiles' ETags.
    version       text NOT NULL,
    -- [{"zoom": 19, "part": 0, "file": "luftbild-2023/v…/z19-p0.tif", "tiles": 1234, "bytes": 5678}, …]
    levels        jsonb NOT NULL,
    source_bytes  bigint NOT NULL,
    storage_bytes bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (min_zoom <= max_zoom)
);
CREATE INDEX ON catalog.imagery (year);
