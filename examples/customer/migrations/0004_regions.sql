-- Row-level access: every customer belongs to a region, and a principal
-- may be limited to some regions (or to named customers) by the policy
-- file's principals section. Existing customers are placed in 'eu'; move
-- them with UPDATE customers SET region = ... as an owner. The queries
-- filter on the region inside each statement (store.go), so the readers
-- need no new grant: SELECT on customers covers the column.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS region text NOT NULL DEFAULT 'eu'
    CONSTRAINT customers_region_check CHECK (region ~ '^[a-z][a-z0-9-]{0,31}$');
-- Searches of a limited caller walk the customers of its regions in ID order.
CREATE INDEX IF NOT EXISTS customers_region_id_idx ON customers (region, id);
