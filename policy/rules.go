package policy

import (
	"context"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Compiler compiles the expressions of a policy file: an entry's rule
// (which must yield a bool) and its rate_key (a string). Package
// policy/celrule provides one for CEL; a program that imports neither
// links no expression language, and a file with rules then fails to load.
//
// Compile runs when a file is loaded, once for every tool an entry names,
// so a rule is checked against each tool's input schema: reading an
// argument the tool does not have is an error then, not at call time.
type Compiler interface {
	Compile(src Source) (Program, error)
}

// Source is one expression to compile.
type Source struct {
	Expr string
	// Tool is the tool the expression is compiled for, with its input
	// schema; for a resource or prompt entry it holds only the entry's name.
	Tool *mcp.Tool
	// Kind is "tool", "resource" or "prompt".
	Kind string
	// Result is what the expression must yield.
	Result Result
}

// Result is the type an expression must yield.
type Result int

const (
	Bool   Result = iota // a rule: true allows the call
	String               // a rate-limit key
)

// Program is a compiled expression. Eval must be safe for concurrent use
// and bounded in cost; an error refuses the call.
type Program interface {
	Eval(ctx context.Context, in *Input) (any, error)
}

// Input is what a program sees of one call.
type Input struct {
	Principal *bulwark.Principal // nil only for an unauthenticated call
	// Tool is the tool called (with its annotations), or for a resource or
	// prompt a definition holding only the name the entry matched.
	Tool *mcp.Tool
	// Args are the call's arguments (tools/call) or the method's params,
	// decoded from JSON; never nil.
	Args map[string]any
	Now  time.Time
}
