-- Every customer has 1 to 8 orders, about 45,000 in all.
INSERT INTO orders (id, customer_id, placed_at, total_cents, status)
SELECT
    i * 10 + j,
    'C-' || lpad(i::text, 6, '0'),
    timestamptz '2024-06-01 00:00:00+00' + ((i * 7 + j * 13) % 500) * interval '1 day' + j * interval '1 hour',
    500 + ((i * 7919 + j * 104729) % 50000),
    (ARRAY['placed','shipped','delivered','delivered','returned'])[1 + (i + j) % 5]
FROM generate_series(1, $1::int) AS i
CROSS JOIN LATERAL generate_series(1, 1 + i % 8) AS j
ON CONFLICT (id) DO NOTHING;
