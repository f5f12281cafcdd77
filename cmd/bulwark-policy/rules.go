package main

import (
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
)

// compiler is the rule compiler files are checked with: the one servers
// use, so a rule that passes here compiles there.
func compiler() policy.Compiler { return celrule.New(celrule.Config{}) }
