-- Open data: datasets publish aerial-imagery epochs too. The foreign key to the epoch is checked
-- at commit and does not cascade: `import imagery --replace` deletes and re-inserts the epoch's
-- row in one transaction, and the dataset must keep the epoch through that. An epoch that a
-- dataset still publishes cannot be removed; unlink it first (`stadtkarte dataset update`).
CREATE TABLE catalog.dataset_imagery (
    dataset_id text NOT NULL REFERENCES catalog.datasets ON DELETE CASCADE ON UPDATE CASCADE,
    imagery_id text NOT NULL REFERENCES catalog.imagery ON UPDATE CASCADE
                   DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (dataset_id, imagery_id)
);
CREATE INDEX ON catalog.dataset_imagery (imagery_id);
