package main

import (
	"context"
	"strconv"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/bulwark-mcp/bulwark/policy/celrule"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// buildPolicy reads POLICY_FILE, when set, and lets it govern the calls:
// its scopes, roles and (CEL) rules are required on top of the built-in ones, its rate
// limits apply besides RATE_LIMIT (rateLimit, which it appends to the chain
// with the file's layers, or alone), its timeouts replace TOOL_TIMEOUT. The
// file is watched (and reread on SIGHUP): a valid change applies to the
// next call, an invalid one is refused with a log line and an audit record,
// and the policy in force stays. Every load is an audit record of kind
// "policy" with the file's digest. Its principals section limits
// principals to some customers (rowaccess.go); an accepted reload empties
// the customer entries of the cache, so a narrowed reach is not outlived by
// answers cached under the old one.
func (l *layers) buildPolicy(ctx context.Context, s *Server, rateLimit bulwark.Middleware) error {
	cfg := s.cfg
	if cfg.PolicyFile == "" {
		l.use(rateLimit)
		return nil
	}
	eng, err := policy.New(policy.Config{
		Path: cfg.PolicyFile,
		// The layers are built before the tools are registered: until
		// then, the definitions the server is about to serve.
		Tools: func() []*mcp.Tool {
			if ts := bulwark.Tools(s.mcp); len(ts) > 0 {
				return ts
			}
			return toolDefsList()
		},
		Rules:    celrule.New(celrule.Config{}),
		OnReload: l.recordPolicy,
		Alert: func(r policy.Reload) {
			s.log.Error("policy file refused; the policy in force stays", "file", r.Path, "digest", r.Digest, "err", r.Err)
		},
	})
	if err != nil {
		return &ConfigError{Var: "POLICY_FILE", Reason: err.Error()}
	}
	l.policy = eng
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Watch(wctx); err != nil {
			s.log.Error("policy file not watched: reload with SIGHUP", "err", err)
		}
	}()
	s.onClose(func(context.Context) error { stop(); <-done; return nil })

	// The file's rates, per principal and tool; a tool it gives no rate is
	// exempt from this limiter (RATE_LIMIT still applies).
	limiter, err := ratelimit.NewLimiter(l.limitStore, ratelimit.Config{
		Name:  "policy",
		Key:   ratelimit.ByPrincipalAndTool,
		Limit: policy.Value(eng, func(t *policy.Terms) ratelimit.Limit { return t.Rate.Limit() }),
	})
	if err != nil {
		return err
	}
	// The pin is outermost of what reads the policy, so one call sees one
	// file throughout; authorization and the caller's reach come after
	// auth has found the caller, and before the cache, whose entries are
	// per principal.
	l.use(eng.Middleware(), policyAuthorization(eng, cfg.HasAuth()), rowAccess(eng), rateLimit, ratelimit.Middleware(limiter))
	return nil
}

// policyAuthorization applies the policy's scopes, roles and rules to the
// caller auth found, on the methods that act on a tool, resource or prompt.
// Without authentication there is no caller to hold scopes, and the
// policy's authorization is not applied.
func policyAuthorization(eng *policy.Engine, enabled bool) bulwark.Middleware {
	if !enabled {
		return nil
	}
	authorize := eng.Authorize()
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			switch c := bulwark.CallFrom(ctx); c.Method {
			case bulwark.MethodCallTool, bulwark.MethodReadResource, bulwark.MethodGetPrompt:
				def := c.Def
				if def == nil || c.Method != bulwark.MethodCallTool {
					def = &mcp.Tool{Name: c.Target}
				}
				if err := authorize(ctx, c.Principal(), def); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	}
}

// recordPolicy writes an audit record for a load of the policy file and,
// after an accepted reload, drops the cached customer answers: they were
// read under the reach of the old file.
func (l *layers) recordPolicy(r policy.Reload) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.Err == nil && r.Trigger != "start" && l.cacheEngine != nil {
		// A store failure is counted and logged by the cache; entries then
		// live until their TTL (CACHE_TTL) ends.
		_ = l.cacheEngine.Invalidate(ctx, "customer*", "customers:search")
	}
	if l.auditLog == nil {
		return
	}
	rec := &audit.Record{Kind: "policy", Time: time.Now().UTC(), Outcome: "ok", Fields: map[string]string{
		"file": r.Path, "digest": r.Digest, "trigger": r.Trigger, "generation": strconv.FormatUint(r.Generation, 10),
	}}
	if r.Err != nil {
		rec.Outcome = "refused"
		rec.Detail = r.Err.Error()
	}
	// A record that cannot be kept is handled and counted by the Logger.
	_ = l.auditLog.Log(ctx, rec)
}
