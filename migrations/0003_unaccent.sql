-- Accent-insensitive comparison for CQL2 ACCENTI (OGC API Features Part 3).
CREATE EXTENSION IF NOT EXISTS unaccent;
