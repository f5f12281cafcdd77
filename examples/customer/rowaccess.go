package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Row-level access. A principal may be limited to some customers by the
// policy file's principals section:
//
//	principals:
//	  support-eu:
//	    attributes:
//	      regions: [eu]                 # every customer of these regions
//	      customers: [C-000042]         # and these customers
//
// A principal the file names with a regions or customers attribute
// reaches the customers of those regions and those customers, and no
// other (an empty list reaches nothing). A principal without either
// attribute, any principal when POLICY_FILE is unset, and the anonymous
// caller of a server without authentication reach every customer.
//
// The reach is applied inside each query (store.go), so a customer out of
// reach and a customer that does not exist are the same statement finding
// no row: the same answer, in the same time. Only the audit record tells
// them apart (field row_access=outside_reach).

// Reach is the set of customers a call may see. The zero value reaches
// every customer.
type Reach struct {
	// Limited is false when the call reaches every customer; otherwise
	// only the customers of Regions and the customers named in IDs.
	Limited bool
	Regions []string
	IDs     []string
}

// args are the three leading parameters ($1, $2, $3) of every query that
// applies a reach (see reachSQL). Slices are never nil, so = ANY($n) reads
// an empty array rather than NULL.
func (r Reach) args() []any {
	return []any{r.Limited, append([]string{}, r.Regions...), append([]string{}, r.IDs...)}
}

// reachOf reads the reach of a principal from the policy file's attributes
// "regions" and "customers".
func reachOf(attrs map[string][]string) Reach {
	regions, hasRegions := attrs["regions"]
	ids, hasIDs := attrs["customers"]
	if !hasRegions && !hasIDs {
		return Reach{}
	}
	return Reach{Limited: true, Regions: slices.Clone(regions), IDs: slices.Clone(ids)}
}

type reachKey struct{}

// reachFrom is the reach of the call in ctx: every customer when no reach
// was set (no policy file, or the layers are off).
func reachFrom(ctx context.Context) Reach {
	r, _ := ctx.Value(reachKey{}).(Reach)
	return r
}

// rowAccess resolves the caller's reach once per call, from the policy in
// force, and hands it to the handlers in the context. A limited call's
// record says so (field reach=limited), so an audit reader knows a list
// was filtered. It runs after auth, which names the caller.
func rowAccess(eng *policy.Engine) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			if c.PrincipalID() == "" {
				return next(ctx, req)
			}
			r := reachOf(eng.Snapshot().Attributes(c.PrincipalID()))
			if r.Limited {
				c.SetField("reach", "limited")
			}
			return next(context.WithValue(ctx, reachKey{}, r), req)
		}
	}
}

// errOutsideReach is a customer that exists but is outside the caller's
// reach. It is errNotFound to everything that answers the client, so the
// answer cannot differ from that for a customer that does not exist.
var errOutsideReach = fmt.Errorf("%w (outside the caller's reach)", errNotFound)

// noteOutsideReach records, for the audit trail only, that the customer
// err is about exists but was withheld.
func noteOutsideReach(ctx context.Context, err error) {
	if errors.Is(err, errOutsideReach) {
		bulwark.CallFrom(ctx).SetField("row_access", "outside_reach")
	}
}
