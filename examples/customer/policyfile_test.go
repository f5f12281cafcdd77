package main

import "fmt"

// demoPolicyText is a policy file like the demo's (internal/demo): the
// sample's rules with a limit on searches that a test tightens while the
// server runs.
func demoPolicyText(searchesPerMinute int) string {
	return fmt.Sprintf(`version: 1
tools:
  - name: search_customers
    rate: {calls: %d, per: 1m, burst: %d}
  - name: "get_customer*"
    scopes: [customers:read]
  - name: update_customer_email
    scopes: [customers:write]
    sensitive: [new_email]
`, searchesPerMinute, min(searchesPerMinute, 20))
}
