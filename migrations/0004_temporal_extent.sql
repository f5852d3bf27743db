-- The temporal extent of a collection with a temporal column, kept with the other statistics
-- so that /collections need not scan tables.
ALTER TABLE catalog.collections
    ADD COLUMN temporal_extent timestamptz[] CHECK (temporal_extent IS NULL OR cardinality(temporal_extent) = 2);
