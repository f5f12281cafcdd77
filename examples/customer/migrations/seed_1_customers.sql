-- Deterministic demo data: the same 10,000 customers and their orders on
-- every machine, generated inside PostgreSQL in one statement each.
-- Customers are spread over three regions (eu, us, apac).
-- Re-running is a no-op.
INSERT INTO customers (id, name, email, tier, region, created_at, updated_at)
SELECT
    'C-' || lpad(i::text, 6, '0'),
    (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','John','Radia','Ken','Margaret','Dennis'])[1 + i % 12]
        || ' ' ||
    (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Backus','Perlman','Thompson','Hamilton','Ritchie','Wirth'])[1 + (i / 12) % 13],
    lower((ARRAY['ada','grace','alan','edsger','barbara','donald','frances','john','radia','ken','margaret','dennis'])[1 + i % 12])
        || '.' || i || '@example.com',
    (ARRAY['standard','standard','standard','silver','gold'])[1 + i % 5],
    -- A third in each region, in runs of twelve: C-000001..C-000011 eu,
    -- C-000012..C-000023 us, C-000024..C-000035 apac, C-000036.. eu again.
    (ARRAY['eu','us','apac'])[1 + (i / 12) % 3],
    timestamptz '2024-01-01 00:00:00+00' + (i * interval '37 minutes'),
    timestamptz '2024-01-01 00:00:00+00' + (i * interval '37 minutes')
FROM generate_series(1, $1::int) AS i
ON CONFLICT (id) DO NOTHING;
