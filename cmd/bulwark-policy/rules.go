package main

import "github.com/bulwark-mcp/bulwark/policy"

// compiler is the rule compiler files are checked with.
func compiler() policy.Compiler { return nil }
