package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The customer record as a resource, and a prompt built on it. They are
// guarded like the tools: bulwark.Use runs resources/read, prompts/get and
// completion/complete through the same chain (audit, recover, metrics,
// auth, rate and concurrency limits, timeout), and the auth Guard hides
// them from resources/templates/list and prompts/list for callers without
// the scope.
const (
	customerTemplate = "customer://{id}"
	customerScheme   = "customer://"
	promptSummary    = "customer_summary"
)

// resourceScopes and promptScopes are the authorization policy of the
// resources and prompts: the scope each requires. Like the tools, anything
// missing here is refused (fail closed).
var (
	resourceScopes = map[string]string{customerTemplate: scopeRead}
	promptScopes   = map[string]string{promptSummary: scopeRead}
)

// registerResources adds the customer resource template and the summary
// prompt to s.
func (a *App) registerResources(s *mcp.Server) {
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: customerTemplate,
		Name:        "customer",
		Title:       "Customer record",
		Description: "One customer record as JSON, for example customer://C-000042. Requires scope customers:read.",
		MIMEType:    "application/json",
	}, a.readCustomer)
	s.AddPrompt(&mcp.Prompt{
		Name:        promptSummary,
		Title:       "Summarise a customer",
		Description: "Asks the model for a short summary of one customer's record. Requires scope customers:read.",
		Arguments:   []*mcp.PromptArgument{{Name: "customer_id", Description: "the customer's ID, for example C-000042", Required: true}},
	}, a.summaryPrompt)
}

func (a *App) readCustomer(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	id := strings.TrimPrefix(uri, customerScheme)
	if err := validate.Field("uri", validate.ID(id)); err != nil {
		return nil, err
	}
	c, err := a.customer(ctx, id)
	if errors.Is(err, errNotFound) { // the same answer whether missing or out of reach
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, bulwark.Internal(err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
}

func (a *App) summaryPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	id := req.Params.Arguments["customer_id"]
	if err := validate.Field("customer_id", validate.ID(id)); err != nil {
		return nil, err
	}
	c, err := a.customer(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, bulwark.Internal(err)
	}
	return &mcp.GetPromptResult{
		Description: "Summary of customer " + c.ID,
		Messages: []*mcp.PromptMessage{{
			Role:    "user",
			Content: &mcp.TextContent{Text: "Summarise this customer in two sentences for a support agent:\n" + string(b)},
		}},
	}, nil
}
