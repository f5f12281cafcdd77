package pin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"sync"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MetaKey is the key under which a tools/list result's _meta carries the
// digest of the pinned set ([Manifest].Set), for clients to pin.
const MetaKey = "io.github.bulwark-mcp/tools-digest"

// Config configures [Pins].
type Config struct {
	// Manifest is the pinned set, typically read with [ReadManifest] from
	// the file written at release. Nil pins the definitions given to [New].
	Manifest *Manifest
	// File, used when Manifest is nil, names a manifest file pinned on
	// first use: when it exists, [New] reads it and pins it as Manifest;
	// when it does not, New writes the definitions' manifest to it, so
	// every later start must serve the same definitions. A file that
	// cannot be read or does not hold a manifest is an error.
	File string
	// AlertOnly serves tools whose definition differs from the pinned one,
	// and only reports them through OnChange. By default they are refused:
	// New fails, and a definition that changes while the server runs is
	// neither listed nor called.
	AlertOnly bool
	// OnChange is told of every difference found, once per tool and
	// definition: at New, and when a tool is listed or called. It runs on
	// the caller's goroutine, outside any lock.
	OnChange func(ctx context.Context, c Difference)
}

// Pins holds the pinned definitions of a server's tools and checks the
// served ones against them. It is safe for concurrent use.
type Pins struct {
	server    *mcp.Server
	pinned    *Manifest
	alertOnly bool
	onChange  func(context.Context, Difference)

	digests sync.Map // *mcp.Tool -> verdict
	alerted sync.Map // "name digest" -> struct{}
}

// verdict is what Pins found about one definition.
type verdict struct {
	digest string
	hidden error
}

// New pins the definitions of s's tools, as bulwark's registry holds them
// (bulwark.Tools: what bulwark.AddTool, AddToolHandler and Register
// registered, and what Use learned from the server), so call it once the
// tools are added. The definitions are checked for hidden characters
// ([Scan]; always an error) and against cfg.Manifest (or cfg.File) when
// one is given.
func New(s *mcp.Server, cfg Config) (*Pins, error) {
	if s == nil {
		return nil, errors.New("pin: nil server")
	}
	tools := bulwark.Tools(s)
	if err := Scan(tools...); err != nil {
		return nil, err
	}
	current, err := ManifestOf(tools)
	if err != nil {
		return nil, err
	}
	if cfg.Manifest == nil && cfg.File != "" {
		cfg.Manifest, err = ReadManifest(cfg.File)
		if errors.Is(err, fs.ErrNotExist) {
			if err := current.WriteFile(cfg.File); err != nil {
				return nil, fmt.Errorf("pin: %w", err)
			}
		} else if err != nil {
			return nil, err
		}
	}
	p := &Pins{server: s, pinned: cfg.Manifest, alertOnly: cfg.AlertOnly, onChange: cfg.OnChange}
	if p.pinned == nil {
		p.pinned = current
	} else {
		pinned := &Manifest{Set: cfg.Manifest.Set, Tools: maps.Clone(cfg.Manifest.Tools)}
		p.pinned = pinned
		changes := pinned.Diff(current)
		if len(changes) > 0 && !p.alertOnly {
			lines := make([]string, len(changes))
			for i, c := range changes {
				lines[i] = c.String()
			}
			return nil, fmt.Errorf("pin: the tools differ from the pinned manifest: %s", strings.Join(lines, "; "))
		}
		for _, c := range changes {
			p.alert(context.Background(), c)
		}
	}
	return p, nil
}

// Manifest returns the pinned manifest (a copy), to write with
// [Manifest.WriteFile].
func (p *Pins) Manifest() *Manifest {
	return &Manifest{Set: p.pinned.Set, Tools: maps.Clone(p.pinned.Tools)}
}

// Middleware returns the layer that refuses a tools/call whose tool's
// definition differs from the pinned one (or holds hidden characters),
// and removes such tools from tools/list results, which it marks with the
// pinned set's digest under [MetaKey]. With Config.AlertOnly it only
// reports them. Other methods pass through.
func Middleware(p *Pins) bulwark.Middleware {
	if p == nil {
		panic(errors.New("pin: Middleware needs Pins built with New"))
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			if c != nil && c.Method == bulwark.MethodListTools {
				res, err := next(ctx, req)
				if err == nil {
					p.filterList(ctx, c)
				}
				return res, err
			}
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req)
			}
			def := bulwark.ToolFrom(ctx)
			if def == nil {
				// Unknown to the registry: the SDK answers it.
				return next(ctx, req)
			}
			if err := p.check(ctx, def); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}

// check returns the refusal for a call of def, or nil.
func (p *Pins) check(ctx context.Context, def *mcp.Tool) *bulwark.Error {
	v := p.verdict(def)
	if v.hidden != nil {
		return bulwark.PermissionDenied(fmt.Sprintf("tool %q is not served: its definition holds hidden characters", def.Name))
	}
	pinned, ok := p.pinned.Tools[def.Name]
	if ok && pinned == v.digest {
		return nil
	}
	ch := Difference{Tool: def.Name, Kind: "changed", Old: pinned, New: v.digest}
	if !ok {
		ch.Kind = "added"
	}
	p.alert(ctx, ch)
	if p.alertOnly {
		return nil
	}
	return bulwark.PermissionDenied(fmt.Sprintf("tool %q is not served: its definition is not the one pinned for this server", def.Name))
}

func (p *Pins) verdict(def *mcp.Tool) verdict {
	if v, ok := p.digests.Load(def); ok {
		return v.(verdict)
	}
	d, err := Digest(def)
	v := verdict{digest: d, hidden: Scan(def)}
	if err != nil {
		v.hidden = err
	}
	p.digests.Store(def, v)
	return v
}

// filterList marks the tools/list result with the pinned set's digest and
// removes what check refuses.
func (p *Pins) filterList(ctx context.Context, c *bulwark.Call) {
	list, ok := c.Result().(*mcp.ListToolsResult)
	if !ok || list == nil {
		return
	}
	out := *list
	out.Meta = maps.Clone(list.Meta)
	if out.Meta == nil {
		out.Meta = mcp.Meta{}
	}
	out.Meta[MetaKey] = p.pinned.Set
	out.Tools = make([]*mcp.Tool, 0, len(list.Tools))
	for _, t := range list.Tools {
		if t == nil {
			continue
		}
		// Decide by the registry's definition, as calls are decided: the
		// SDK lists its own copy, with schemas it inferred.
		def, ok := bulwark.LookupTool(p.server, t.Name)
		if !ok {
			def = t
		}
		if p.check(ctx, def) != nil {
			continue
		}
		out.Tools = append(out.Tools, t)
	}
	c.SetResult(&out)
}

// alert tells OnChange of c, once per tool and definition.
func (p *Pins) alert(ctx context.Context, c Difference) {
	if p.onChange == nil {
		return
	}
	if _, seen := p.alerted.LoadOrStore(c.Tool+" "+c.New, struct{}{}); seen {
		return
	}
	p.onChange(ctx, c)
}
