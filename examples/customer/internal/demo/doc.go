// Package demo is the customer server's scripted demo (customer -demo): it
// creates its own database, starts the server in process through a
// [StartFunc] the command supplies, and drives a client session over
// streamable HTTP through every layer, printing PASS or FAIL for each step.
//
// The demo sees the server as a client and an operator would: MCP calls
// and lists, the admin listener's /metrics and /readyz, the audit trail
// file and the database. What only the process that runs the server can
// do (start it from an environment, change a tool definition while it
// serves, stop it to seal the audit trail) goes through [Server].
package demo
