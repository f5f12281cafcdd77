// Package bulwark makes MCP servers built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) ready for production, one small
// layer at a time.
//
// The full package documentation is being written; see README.md.
package bulwark
