package celrule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/policy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Config configures a [Compiler].
type Config struct {
	// CostLimit bounds the work of one evaluation, in CEL's cost units
	// (roughly one per operation, more for string and list work); an
	// evaluation that exceeds it fails, which refuses the call. Zero means
	// 10,000, far above any rule of a few comparisons.
	CostLimit uint64
}

// Compiler compiles CEL rules for policy files; give it to
// policy.Config.Rules.
type Compiler struct {
	cost uint64
}

// New returns a Compiler.
func New(cfg Config) *Compiler {
	if cfg.CostLimit == 0 {
		cfg.CostLimit = 10_000
	}
	return &Compiler{cost: cfg.CostLimit}
}

// Names of the object types rules see.
const (
	principalType = "bulwark.Principal"
	toolType      = "bulwark.Tool"
	argsType      = "bulwark.Arguments"
)

// Compile checks src against the tool's input schema and returns a
// program; see the package documentation for the variables.
func (c *Compiler) Compile(src policy.Source) (policy.Program, error) {
	args, typed := argumentFields(src.Tool)
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	prov := &provider{Registry: reg, structs: map[string]map[string]*types.FieldType{
		principalType: principalFields,
		toolType:      toolFields,
		argsType:      args,
	}}
	var argsDecl *types.Type = types.NewObjectType(argsType)
	if !typed {
		// The tool does not list its arguments: anything may be read.
		argsDecl = types.NewMapType(types.StringType, types.DynType)
	}
	env, err := cel.NewEnv(
		cel.CustomTypeProvider(prov),
		cel.CustomTypeAdapter(reg),
		cel.Variable("principal", types.NewObjectType(principalType)),
		cel.Variable("tool", types.NewObjectType(toolType)),
		cel.Variable("args", argsDecl),
		cel.Variable("now", types.TimestampType),
	)
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src.Expr)
	if iss.Err() != nil {
		return nil, errors.New(oneLine(iss.Err().Error()))
	}
	want := types.BoolType
	if src.Result == policy.String {
		want = types.StringType
	}
	if !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(types.DynType) {
		return nil, fmt.Errorf("yields %s, not %s", ast.OutputType(), want)
	}
	prg, err := env.Program(ast, cel.CostLimit(c.cost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	return &program{prg: prg, want: src.Result}, nil
}

func oneLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: <input>:")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

type program struct {
	prg  cel.Program
	want policy.Result
}

// Eval runs the rule for one call.
func (p *program) Eval(ctx context.Context, in *policy.Input) (any, error) {
	a := activation{in: in, args: in.Args}
	var out ref.Val
	var err error
	if ctx.Done() == nil {
		out, _, err = p.prg.Eval(&a) // nothing to interrupt: skip the checks
	} else {
		out, _, err = p.prg.ContextEval(ctx, &a)
	}
	if err != nil {
		return nil, err
	}
	switch v := out.(type) {
	case types.Bool:
		if p.want == policy.Bool {
			return bool(v), nil
		}
	case types.String:
		if p.want == policy.String {
			return string(v), nil
		}
	}
	return nil, fmt.Errorf("yields %s", out.Type())
}

// activation gives the variables of one evaluation without copying the
// principal or the tool: their fields are read where they are.
type activation struct {
	in   *policy.Input
	args map[string]any
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "principal":
		if a.in.Principal == nil {
			return &bulwark.Principal{}, true
		}
		return a.in.Principal, true
	case "tool":
		return a.in.Tool, true
	case "args":
		return a.args, true
	case "now":
		return types.Timestamp{Time: a.in.Now}, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// provider adds the object types rules see to CEL's registry.
type provider struct {
	*types.Registry
	structs map[string]map[string]*types.FieldType
}

func (p *provider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

func (p *provider) FindStructFieldNames(name string) ([]string, bool) {
	if fs, ok := p.structs[name]; ok {
		names := make([]string, 0, len(fs))
		for n := range fs {
			names = append(names, n)
		}
		return names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if fs, ok := p.structs[name]; ok {
		f, ok := fs[field]
		return f, ok
	}
	return p.Registry.FindStructFieldType(name, field)
}

func (p *provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.structs[name]; ok {
		return types.NewErr("rules cannot build %s values", name)
	}
	return p.Registry.NewValue(name, fields)
}

// field builds a field read from a Go value of type T.
func field[T any](t *types.Type, get func(T) any) *types.FieldType {
	return &types.FieldType{
		Type: t,
		IsSet: func(target any) bool {
			_, ok := target.(T)
			return ok
		},
		GetFrom: func(target any) (any, error) {
			v, ok := target.(T)
			if !ok {
				return nil, fmt.Errorf("no such field on %T", target)
			}
			return get(v), nil
		},
	}
}

var stringList = types.NewListType(types.StringType)

var principalFields = map[string]*types.FieldType{
	"id":     field(types.StringType, func(p *bulwark.Principal) any { return p.ID }),
	"method": field(types.StringType, func(p *bulwark.Principal) any { return p.Method }),
	"scopes": field(stringList, func(p *bulwark.Principal) any { return nonNil(p.Scopes) }),
	"roles":  field(stringList, func(p *bulwark.Principal) any { return nonNil(p.Roles) }),
	"claims": field(types.NewMapType(types.StringType, types.DynType), func(p *bulwark.Principal) any {
		if p.Claims == nil {
			return map[string]any{}
		}
		return p.Claims
	}),
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var toolFields = map[string]*types.FieldType{
	"name":        field(types.StringType, func(t *mcp.Tool) any { return t.Name }),
	"title":       field(types.StringType, func(t *mcp.Tool) any { return t.Title }),
	"read_only":   field(types.BoolType, func(t *mcp.Tool) any { return bulwark.IsReadOnly(t) }),
	"idempotent":  field(types.BoolType, func(t *mcp.Tool) any { return bulwark.IsIdempotent(t) }),
	"destructive": field(types.BoolType, func(t *mcp.Tool) any { return bulwark.IsDestructive(t) }),
}

// argumentFields types the tool's top-level arguments from its input
// schema; typed is false when the schema does not list them.
func argumentFields(t *mcp.Tool) (fields map[string]*types.FieldType, typed bool) {
	fields = map[string]*types.FieldType{}
	if t == nil || t.InputSchema == nil {
		return fields, false
	}
	var schema struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	b, err := json.Marshal(t.InputSchema)
	if err != nil || json.Unmarshal(b, &schema) != nil || schema.Properties == nil {
		return fields, false
	}
	for name, prop := range schema.Properties {
		fields[name] = argField(name, celType(prop.Type))
	}
	return fields, true
}

func celType(t any) *types.Type {
	s, _ := t.(string)
	switch s {
	case "string":
		return types.StringType
	case "integer":
		return types.IntType
	case "number":
		return types.DoubleType
	case "boolean":
		return types.BoolType
	case "array":
		return types.NewListType(types.DynType)
	case "object":
		return types.NewMapType(types.StringType, types.DynType)
	}
	return types.DynType
}

// argField reads one argument from the decoded arguments. A missing
// argument is an error (which refuses the call) unless the rule asks
// has(args.name) first.
func argField(name string, t *types.Type) *types.FieldType {
	return &types.FieldType{
		Type: t,
		IsSet: func(target any) bool {
			m, _ := target.(map[string]any)
			_, ok := m[name]
			return ok
		},
		GetFrom: func(target any) (any, error) {
			m, _ := target.(map[string]any)
			v, ok := m[name]
			if !ok {
				return nil, fmt.Errorf("argument %s is absent", name)
			}
			if f, isFloat := v.(float64); isFloat && t == types.IntType && f == float64(int64(f)) {
				// JSON decodes every number as float64; the schema says integer.
				return int64(f), nil
			}
			return v, nil
		},
	}
}

var _ policy.Compiler = (*Compiler)(nil)
