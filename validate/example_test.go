package validate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// call sends one tools/call to s through a real client over in-memory
// transports and returns what the client read.
func call(s *mcp.Server, tool string, args any) string {
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		return err.Error()
	}
	defer ss.Wait()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		return err.Error()
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "error: " + err.Error()
	}
	return bulwarktest.ResultText(res)
}

// check runs mw once around a handler that answers "ok", with def as the
// tool's registered definition, and prints the outcome.
func check(mw bulwark.Middleware, def *mcp.Tool, tool, args string) {
	req := bulwarktest.Request(tool, json.RawMessage(args))
	ctx, _ := bulwarktest.Context(context.Background(), req, def)
	rec := &bulwarktest.Recorder{}
	if _, err := mw(rec.Handle)(ctx, req); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", string(rec.Calls()[0].Arguments))
}

type UpdateEmail struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func ExampleMiddleware() {
	s := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	schema := validate.MustSchema[UpdateEmail](
		validate.On("id", validate.FormatID()),
		validate.On("email", validate.FormatEmail()),
	)
	bulwark.AddTool(s, &mcp.Tool{Name: "update_email", InputSchema: schema},
		func(ctx context.Context, req *mcp.CallToolRequest, in UpdateEmail) (*mcp.CallToolResult, any, error) {
			return bulwarktest.TextResult("updated " + in.ID), nil, nil
		})
	bulwark.Use(s, bulwark.Recover(nil), validate.Middleware(validate.Config{}))

	fmt.Println(call(s, "update_email", map[string]any{"id": "c-1", "email": "ada@example.com"}))
	fmt.Println(call(s, "update_email", map[string]any{"id": "c-1", "email": "Ada <ada@example.com>"}))
	fmt.Println(call(s, "update_email", map[string]any{"id": "c-1", "email": "ada@example.com", "admin": true}))
	fmt.Println(call(s, "update_email", map[string]any{"id": "c\x001", "email": "ada@example.com"}))
	// Output:
	// updated c-1
	// argument "email": must be a bare address like name@example.com, without a display name, quotes, comments or spaces
	// argument "admin": is not a known field; known fields are email, id
	// argument "id": must not contain control character U+0000
}

func ExampleConfig() {
	mw := validate.Middleware(validate.Config{Limits: bulwark.Fixed(validate.Limits{MaxStringBytes: 10, MaxDepth: 2})})
	check(mw, nil, "search", `{"q":"a very long query"}`)
	check(mw, nil, "search", `{"q":{"nested":{"too":"deep"}}}`)
	// Output:
	// argument "q": must be at most 10 bytes
	// argument "q.nested": is nested too deeply: at most 2 levels of objects and arrays are allowed
}

// Limits differ per tool with bulwark.ByTool.
func ExampleConfig_perTool() {
	mw := validate.Middleware(validate.Config{Limits: bulwark.ByTool(
		validate.Limits{MaxBytes: 32},
		map[string]validate.Limits{"upload": {MaxBytes: 1 << 20}},
	)})
	args := `{"content":"` + strings.Repeat("x", 40) + `"}`
	check(mw, nil, "search", args)
	check(mw, nil, "upload", `{"content":"short"}`)
	// Output:
	// arguments are 54 bytes; they must be at most 32 bytes
	// ok: {"content":"short"}
}

// Limits can depend on anything about the call, such as the caller's role.
func ExampleConfig_perCall() {
	mw := validate.Middleware(validate.Config{Limits: func(ctx context.Context, req *mcp.CallToolRequest) validate.Limits {
		if bulwark.CallFrom(ctx).Principal().HasRole("bulk") {
			return validate.Limits{MaxItems: 1000}
		}
		return validate.Limits{MaxItems: 2}
	}})
	check(mw, nil, "tag", `{"ids":["a","b","c"]}`)
	// Output:
	// argument "ids": must have at most 2 items
}

func ExampleConfig_noControlCharacters() {
	mw := validate.Middleware(validate.Config{NoControlCharacters: true}) // not even tabs or line breaks
	check(mw, nil, "rename", `{"name":"two\nlines"}`)
	// Output:
	// argument "name": must not contain control character U+000A
}

func ExampleConfig_normalizeNFC() {
	mw := validate.Middleware(validate.Config{NormalizeNFC: true})
	check(mw, nil, "find", `{"name":"Jose\u0301"}`) // e + combining acute accent
	// Output:
	// ok: {"name":"José"}
}

func ExampleConfig_strict() {
	def := &mcp.Tool{Name: "lookup", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"id":{"type":"string"},"fields":{"type":"array"}}}`)}
	check(validate.Middleware(validate.Config{}), def, "lookup", `{"id":"c-1","admin":true}`)
	check(validate.Middleware(validate.Config{Strict: true}), def, "lookup", `{"id":"c-1","admin":true}`)
	// Output:
	// ok: {"id":"c-1","admin":true}
	// argument "admin": is not a known field; known fields are fields, id
}

func ExampleConfig_ignoreSchema() {
	def := &mcp.Tool{Name: "t", InputSchema: json.RawMessage(`{"type":"object","required":["id"]}`)}
	check(validate.Middleware(validate.Config{IgnoreSchema: true}), def, "t", `{}`)
	// Output:
	// ok: {}
}

func ExampleConfig_formats() {
	def := &mcp.Tool{Name: "ship", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"sku":{"type":"string","format":"sku"}}}`)}
	mw := validate.Middleware(validate.Config{Formats: map[string]func(string) error{"sku": func(s string) error {
		if !strings.HasPrefix(s, "SKU-") {
			return &validate.Violation{Rule: "sku", Message: "must start with SKU-"}
		}
		return nil
	}}})
	check(mw, def, "ship", `{"sku":"12345"}`)
	// Output:
	// argument "sku": must start with SKU-
}

func ExampleCompileSchemas() {
	bad := &mcp.Tool{Name: "find", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"q":{"type":"string","pattern":"[unclosed"}}}`)}
	fmt.Println(validate.CompileSchemas(bad) != nil)
	// Output:
	// true
}

func ExampleID() {
	fmt.Println(validate.ID("cust-1042"))
	fmt.Println(validate.ID("../etc/passwd"))
	// Output:
	// <nil>
	// may contain only ASCII letters, digits and '-'
}

func ExampleEmail() {
	for _, s := range []string{"ada@example.com", "ada@localhost", "ada@example.com\r\nBcc: eve@example.com"} {
		fmt.Println(validate.Email(s))
	}
	// Output:
	// <nil>
	// must have a domain with a dot, like example.com
	// must not contain line breaks
}

func ExampleLength() {
	fmt.Println(validate.Length("José", 1, 4)) // 4 characters, 5 bytes
	fmt.Println(validate.Length("", 1, 100))
	// Output:
	// <nil>
	// must not be empty
}

func ExampleOneOf() {
	fmt.Println(validate.OneOf("newest", "asc", "desc"))
	// Output:
	// must be one of "asc", "desc"
}

func ExampleField() {
	handler := func(ctx context.Context, req *mcp.CallToolRequest, in UpdateEmail) (*mcp.CallToolResult, any, error) {
		if err := validate.Field("email", validate.Email(in.Email)); err != nil {
			return nil, nil, err
		}
		return bulwarktest.TextResult("ok"), nil, nil
	}
	_, _, err := handler(context.Background(), nil, UpdateEmail{ID: "c-1", Email: "ada"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulwark.CodeInvalidArgument), errors.Is(err, validate.ErrEmail))
	// Output:
	// argument "email": must contain exactly one '@'
	// true true
}

type Order struct {
	Customer struct {
		Email string `json:"email"`
	} `json:"customer"`
	Lines []struct {
		SKU string `json:"sku"`
	} `json:"lines"`
	Sort string `json:"sort,omitempty"`
}

func ExampleSchema() {
	schema, err := validate.Schema[Order](
		validate.On("customer.email", validate.FormatEmail()),
		validate.On("lines.sku", validate.Pattern("^SKU-[0-9]+$"), validate.MaxLength(12)),
		validate.On("sort", validate.Enum("asc", "desc")),
	)
	if err != nil {
		panic(err)
	}
	email := schema.Properties["customer"].Properties["email"]
	sku := schema.Properties["lines"].Items.Properties["sku"]
	fmt.Println(email.Format, *email.MaxLength)
	fmt.Println(sku.Pattern, *sku.MaxLength)
	fmt.Println(schema.Properties["sort"].Enum)
	// Output:
	// email 254
	// ^SKU-[0-9]+$ 12
	// [asc desc]
}

func ExampleMustSchema() {
	schema := validate.MustSchema[UpdateEmail](validate.On("id", validate.FormatID()))
	id := schema.Properties["id"]
	fmt.Println(id.Pattern, *id.MinLength, *id.MaxLength)
	// Output:
	// ^[a-zA-Z0-9-]+$ 1 50
}

func ExampleProperty() {
	schema := validate.MustSchema[UpdateEmail]()
	fmt.Println(validate.Property(schema, "email", validate.FormatEmail()))
	fmt.Println(validate.Property(schema, "emial", validate.FormatEmail()))
	// Output:
	// <nil>
	// validate: schema has no property "emial" (in "emial")
}

func ExampleOn() {
	_, err := validate.Schema[UpdateEmail](validate.On("id", validate.MinLength(3), validate.MaxLength(-1)))
	fmt.Println(err)
	// Output:
	// validate: property "id": maxLength -1 is negative
}

func ExamplePattern() {
	schema := validate.MustSchema[UpdateEmail](validate.On("id", validate.Pattern("^c-[0-9]+$")))
	fmt.Println(schema.Properties["id"].Pattern)
	// Output:
	// ^c-[0-9]+$
}

func ExampleMinLength() {
	schema := validate.MustSchema[UpdateEmail](validate.On("id", validate.MinLength(3)))
	fmt.Println(*schema.Properties["id"].MinLength)
	// Output:
	// 3
}

func ExampleMaxLength() {
	schema := validate.MustSchema[UpdateEmail](validate.On("id", validate.MaxLength(20)))
	fmt.Println(*schema.Properties["id"].MaxLength)
	// Output:
	// 20
}

func ExampleFormatEmail() {
	schema := validate.MustSchema[UpdateEmail](validate.On("email", validate.FormatEmail()))
	b, _ := json.Marshal(schema.Properties["email"])
	fmt.Println(string(b))
	// Output:
	// {"type":"string","maxLength":254,"format":"email"}
}

func ExampleFormatID() {
	schema := validate.MustSchema[UpdateEmail](validate.On("id", validate.FormatID()))
	b, _ := json.Marshal(schema.Properties["id"])
	fmt.Println(string(b))
	// Output:
	// {"type":"string","minLength":1,"maxLength":50,"pattern":"^[a-zA-Z0-9-]+$"}
}

func ExampleEnum() {
	schema := validate.MustSchema[Order](validate.On("sort", validate.Enum("asc", "desc")))
	b, _ := json.Marshal(schema.Properties["sort"])
	fmt.Println(string(b))
	// Output:
	// {"type":"string","enum":["asc","desc"]}
}
