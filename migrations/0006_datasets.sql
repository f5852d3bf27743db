-- Open data: the dataset registry. A dataset is what the open-data portal lists (DCAT-AP.de
-- dcat:Dataset); it publishes one or more collections. `modified` is not stored: it follows the
-- data (the latest updated_at of its collections, or the metadata's own change).
CREATE TABLE catalog.datasets (
    id                        text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{0,62}$'),
    title                     text NOT NULL CHECK (title <> ''),
    title_en                  text,
    description               text NOT NULL CHECK (description <> ''),
    description_en            text,
    keywords                  text[] NOT NULL DEFAULT '{}',
    -- EU data themes (http://publications.europa.eu/resource/authority/data-theme/…)
    themes                    text[] NOT NULL DEFAULT '{}' CHECK (themes <@ ARRAY[
                                  'AGRI', 'ECON', 'EDUC', 'ENER', 'ENVI', 'GOVE', 'HEAL', 'INTR',
                                  'JUST', 'REGI', 'SOCI', 'TECH', 'TRAN']::text[]),
    -- dcat-ap.de licence vocabulary (http://dcat-ap.de/def/licenses/…)
    license                   text NOT NULL CHECK (license LIKE 'http://dcat-ap.de/def/licenses/%'),
    attribution               text NOT NULL CHECK (attribution <> ''),
    publisher_name            text NOT NULL,
    publisher_url             text,
    contact_name              text NOT NULL,
    contact_email             text NOT NULL CHECK (contact_email ~ '^[^@\s]+@[^@\s]+$'),
    contributor_id            text NOT NULL CHECK (contributor_id LIKE 'http://dcat-ap.de/def/contributors/%'),
    political_geocoding       text NOT NULL,
    political_geocoding_level text NOT NULL,
    temporal_start            date,
    temporal_end              date CHECK (temporal_end IS NULL OR temporal_start IS NULL OR temporal_end >= temporal_start),
    -- EU frequency (http://publications.europa.eu/resource/authority/frequency/…)
    accrual_periodicity       text NOT NULL DEFAULT 'IRREG' CHECK (accrual_periodicity IN (
                                  'CONT', 'UPDATE_CONT', 'DAILY', 'WEEKLY', 'BIWEEKLY', 'MONTHLY',
                                  'QUARTERLY', 'BIANNUAL', 'ANNUAL', 'BIENNIAL', 'IRREG', 'NEVER',
                                  'UNKNOWN')),
    issued                    timestamptz NOT NULL DEFAULT now(),
    metadata_modified         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog.dataset_collections (
    dataset_id    text NOT NULL REFERENCES catalog.datasets ON DELETE CASCADE ON UPDATE CASCADE,
    collection_id text NOT NULL REFERENCES catalog.collections ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (dataset_id, collection_id)
);
CREATE INDEX ON catalog.dataset_collections (collection_id);
