-- One address per customer, whatever its letter case: update_customer_email
-- must not let a customer take another customer's address. The unique
-- index replaces the plain one on the same expression. On a database that
-- already holds two customers with one address this migration fails (and
-- the server does not start) until an operator resolves them:
--   SELECT lower(email), array_agg(id) FROM customers GROUP BY 1 HAVING count(*) > 1;
CREATE UNIQUE INDEX IF NOT EXISTS customers_email_lower_key ON customers (lower(email));
DROP INDEX IF EXISTS customers_email_idx;
