package main

import (
	"cmp"
	"context"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/budget"
	"github.com/bulwark-mcp/bulwark/budget/redisbudget"
	"github.com/bulwark-mcp/bulwark/output"
	"github.com/bulwark-mcp/bulwark/pin"
)

// agentConfig configures the layers that guard against a misbehaving or
// manipulated model: the output filter, loop and budget limits, and tool
// pinning.
type agentConfig struct {
	// OutputMaxBytes caps each result's text (OUTPUT_MAX_BYTES, default
	// 65536); larger results are cut with a note the model reads.
	OutputMaxBytes int
	// LoopLimit is how many identical calls (same principal, tool and
	// arguments) a minute allows (LOOP_LIMIT, default 0: no limit).
	LoopLimit int
	// SessionCalls is each session's budget of calls per hour
	// (SESSION_CALL_BUDGET, default 0: none).
	SessionCalls int
	// PinFile is the manifest of the tools' definitions (TOOLS_PIN_FILE):
	// when it exists the server refuses to start with other definitions;
	// when it does not, the server writes it. Empty: the definitions are
	// pinned at start only.
	PinFile string
}

func loadAgentConfig(r *envReader) agentConfig {
	return agentConfig{
		OutputMaxBytes: r.integer("OUTPUT_MAX_BYTES", 64<<10, 256, 16<<20),
		LoopLimit:      r.integer("LOOP_LIMIT", 0, 0, 1_000_000),
		SessionCalls:   r.integer("SESSION_CALL_BUDGET", 0, 0, 1_000_000_000),
		PinFile:        r.str("TOOLS_PIN_FILE", ""),
	}
}

// buildAgentLayers builds the output filter and the loop and budget
// limits (shared through Redis when REDIS_URL is set).
func (l *layers) buildAgentLayers(s *Server) error {
	cfg := s.cfg.Agent
	f, err := output.New(output.Config{
		Cap: bulwark.Fixed(output.Cap{Bytes: cfg.OutputMaxBytes, Items: 100}),
	})
	if err != nil {
		return &ConfigError{Var: "OUTPUT_MAX_BYTES", Reason: err.Error()}
	}
	l.output = output.Middleware(f)

	if cfg.LoopLimit == 0 && cfg.SessionCalls == 0 {
		return nil
	}
	// A LoopLimit of 0 turns the loop check off (-1 to the Ledger).
	bcfg := budget.Config{Repeats: cmp.Or(cfg.LoopLimit, -1), Session: budget.Allowance{Calls: int64(cfg.SessionCalls)}}
	if l.redis != nil {
		if bcfg.Store, err = redisbudget.New(l.redis, redisbudget.Config{Prefix: s.cfg.RedisPrefix + "budget:"}); err != nil {
			return err
		}
	}
	ledger, err := budget.New(bcfg)
	if err != nil {
		return &ConfigError{Var: "LOOP_LIMIT", Reason: err.Error()}
	}
	l.budget = budget.Middleware(ledger)
	return nil
}

// pinTools pins the registered tools' definitions, against TOOLS_PIN_FILE
// when it exists, and writes the file when it does not. A definition that
// changes while the server runs is then refused and logged.
func (l *layers) pinTools(s *Server) error {
	if l.bare {
		return nil
	}
	p, err := pin.New(s.mcp, pin.Config{File: s.cfg.Agent.PinFile, OnChange: func(_ context.Context, c pin.Difference) {
		s.log.Error("a tool definition differs from the pinned one; the tool is refused", "tool", c.Tool, "change", c.Kind, "pinned", c.Old, "served", c.New)
	}})
	if err != nil {
		return &ConfigError{Var: "TOOLS_PIN_FILE", Reason: err.Error()}
	}
	s.log.Info("tool definitions pinned", "file", s.cfg.Agent.PinFile, "set", p.Manifest().Set)
	l.pin = pin.Middleware(p)
	return nil
}
