-- Least privilege. The server reads as customer_reader, which can only
-- SELECT, and writes as customer_writer, which can change an email, add a
-- note and keep idempotency records, and nothing else: it cannot delete a
-- customer, rewrite a name or touch orders. Roles are cluster-wide in
-- PostgreSQL, so they are created only when missing (an operator may create
-- them beforehand, with passwords, and then the migrator needs no CREATEROLE).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'customer_reader') THEN
        BEGIN
            CREATE ROLE customer_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'customer_writer') THEN
        BEGIN
            CREATE ROLE customer_writer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO customer_reader, customer_writer;

GRANT SELECT ON customers, orders, customer_notes TO customer_reader;

GRANT SELECT ON customers, customer_notes TO customer_writer;
GRANT UPDATE (email, updated_at) ON customers TO customer_writer;
GRANT INSERT ON customer_notes TO customer_writer;
GRANT USAGE ON SEQUENCE customer_notes_id_seq TO customer_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO customer_writer;
