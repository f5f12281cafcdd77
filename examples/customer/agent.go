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

// buildAgentLayers builds the loop and budget limits (shared through
// Redis when REDIS_URL is set) and the output filter.
func (l *layers) buildAgentLayers(s *Server) error {
	cfg := s.cfg
	if cfg.LoopLimit != 0 || cfg.SessionCalls != 0 {
		// A LoopLimit of 0 turns the loop check off (-1 to the Ledger).
		bcfg := budget.Config{Repeats: cmp.Or(cfg.LoopLimit, -1), Session: budget.Allowance{Calls: int64(cfg.SessionCalls)}}
		if l.redis != nil {
			var err error
			if bcfg.Store, err = redisbudget.New(l.redis, redisbudget.Config{Prefix: cfg.RedisPrefix + "budget:"}); err != nil {
				return err
			}
		}
		ledger, err := budget.New(bcfg)
		if err != nil {
			return &ConfigError{Var: "LOOP_LIMIT", Reason: err.Error()}
		}
		l.use(budget.Middleware(ledger))
	}
	f, err := output.New(output.Config{
		Cap: bulwark.Fixed(output.Cap{Bytes: cfg.OutputMaxBytes, Items: 100}),
	})
	if err != nil {
		return &ConfigError{Var: "OUTPUT_MAX_BYTES", Reason: err.Error()}
	}
	l.use(output.Middleware(f))
	return nil
}

// pinTools pins the registered tools' definitions, against TOOLS_PIN_FILE
// when it exists, and writes the file when it does not. A definition that
// changes while the server runs is then refused and logged.
func (l *layers) pinTools(s *Server) error {
	if l.bare {
		return nil
	}
	p, err := pin.New(s.mcp, pin.Config{File: s.cfg.PinFile, OnChange: func(_ context.Context, c pin.Difference) {
		s.log.Error("a tool definition differs from the pinned one; the tool is refused", "tool", c.Tool, "change", c.Kind, "pinned", c.Old, "served", c.New)
	}})
	if err != nil {
		return &ConfigError{Var: "TOOLS_PIN_FILE", Reason: err.Error()}
	}
	s.log.Info("tool definitions pinned", "file", s.cfg.PinFile, "set", p.Manifest().Set)
	l.chain[l.pinAt] = pin.Middleware(p)
	return nil
}
