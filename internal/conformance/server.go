package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The suite still checks sampling and logging, which protocol 2026-07-28
// deprecates and go-sdk still serves.
//lint:file-ignore SA1019 this server exists to answer the suite's checks, deprecated features included

// newServer returns a server with the tools, resources and prompts the
// conformance suite's server scenarios call, each answering what its
// scenario checks. Both variants serve a fresh one, so the only difference
// between them is what is put around it.
func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "bulwark-conformance", Version: "v1"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}, nil
		},
		// Subscriptions are kept by the SDK; the handlers only have to
		// exist for the server to offer them.
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	addTools(s)
	addResources(s)
	addPrompts(s)
	return s
}

// pixel is a one-pixel PNG and silence a WAV file with one silent sample:
// the smallest media the image and audio checks accept.
var (
	pixel   = onePixelPNG()
	silence = oneSampleWAV()
)

func onePixelPNG() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// oneSampleWAV is a RIFF/WAVE file: PCM, mono, 8 kHz, 16 bits, one sample.
func oneSampleWAV() []byte {
	const rate, channels, bits, data = 8000, 1, 16, 2
	var b bytes.Buffer
	put := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	put(uint32(36 + data))
	b.WriteString("WAVEfmt ")
	put(uint32(16))
	put(uint16(1)) // PCM
	put(uint16(channels))
	put(uint32(rate))
	put(uint32(rate * channels * bits / 8))
	put(uint16(channels * bits / 8))
	put(uint16(bits))
	b.WriteString("data")
	put(uint32(data))
	put(int16(0))
	return b.Bytes()
}

// pure marks the tools whose answer depends on nothing but their
// arguments, so the cache and retry layers act on them too.
var pure = &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true}

func result(c ...mcp.Content) *mcp.CallToolResult { return &mcp.CallToolResult{Content: c} }

func text(s string) *mcp.TextContent { return &mcp.TextContent{Text: s} }

type none struct{}

type promptArgs struct {
	Prompt string `json:"prompt"`
}

// messageArgs is optional: only test_elicitation is sent a message.
type messageArgs struct {
	Message string `json:"message,omitempty"`
}

func addTools(s *mcp.Server) {
	content := func(name, desc string, c ...mcp.Content) {
		bulwark.AddTool(s, &mcp.Tool{Name: name, Description: desc, Annotations: pure},
			func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
				return result(c...), nil, nil
			})
	}
	content("test_simple_text", "Answers with one text block.", text("plain text answer"))
	content("test_image_content", "Answers with a PNG image.", &mcp.ImageContent{Data: pixel, MIMEType: "image/png"})
	content("test_audio_content", "Answers with a WAV recording.", &mcp.AudioContent{Data: silence, MIMEType: "audio/wav"})
	content("test_embedded_resource", "Answers with an embedded text resource.",
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "test://embedded-resource", MIMEType: "text/plain", Text: "embedded text"}})
	content("test_multiple_content_types", "Answers with text, an image and an embedded resource.",
		text("several kinds of content follow"),
		&mcp.ImageContent{Data: pixel, MIMEType: "image/png"},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "test://mixed-content-resource", MIMEType: "text/plain", Text: "embedded among others"}})

	bulwark.AddTool(s, &mcp.Tool{Name: "test_tool_with_logging", Description: "Sends three log messages while it runs."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
			for _, step := range []string{"starting", "working", "done"} {
				if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: step}); err != nil {
					return nil, nil, err
				}
				time.Sleep(20 * time.Millisecond) // separate messages, as a real tool's would be
			}
			return result(text("logged three messages")), nil, nil
		})

	bulwark.AddTool(s, &mcp.Tool{Name: "test_tool_with_progress", Description: "Reports progress at 0, 50 and 100 of 100."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
			token := req.Params.GetProgressToken()
			for _, p := range []float64{0, 50, 100} {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: p, Total: 100}); err != nil {
					return nil, nil, err
				}
				time.Sleep(20 * time.Millisecond)
			}
			return result(text(fmt.Sprint(token))), nil, nil
		})

	// A deliberate tool error, written as bulwark documents it: a result
	// the model reads, not a Go error.
	bulwark.AddTool(s, &mcp.Tool{Name: "test_error_handling", Description: "Always fails with a tool error."},
		func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
			res := &mcp.CallToolResult{}
			// A deliberate tool error: bulwark sends its text to the model.
			// (A plain error would be an unexpected one, sent as "internal
			// error (id …)" with the text in the log and audit record only.)
			res.SetError(bulwark.ToolError("this tool always fails"))
			return res, nil, nil
		})

	bulwark.AddTool(s, &mcp.Tool{Name: "test_sampling", Description: "Asks the client's model to complete a prompt."},
		func(ctx context.Context, req *mcp.CallToolRequest, in promptArgs) (*mcp.CallToolResult, any, error) {
			got, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
				Messages:  []*mcp.SamplingMessage{{Role: "user", Content: text(in.Prompt)}},
				MaxTokens: 64,
			})
			if err != nil {
				return nil, nil, err
			}
			answer := "(not text)"
			if t, ok := got.Content.(*mcp.TextContent); ok {
				answer = t.Text
			}
			return result(text("the model answered: " + answer)), nil, nil
		})

	elicit := func(name, desc string, schema func(messageArgs) (string, *jsonschema.Schema)) {
		bulwark.AddTool(s, &mcp.Tool{Name: name, Description: desc},
			func(ctx context.Context, req *mcp.CallToolRequest, in messageArgs) (*mcp.CallToolResult, any, error) {
				msg, sch := schema(in)
				got, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: msg, RequestedSchema: sch})
				if err != nil {
					return nil, nil, err
				}
				b, err := json.Marshal(got.Content)
				if err != nil {
					return nil, nil, err
				}
				return result(text(fmt.Sprintf("elicitation finished: action=%s, content=%s", got.Action, b))), nil, nil
			})
	}
	elicit("test_elicitation", "Asks the user for a name and an email address.", func(in messageArgs) (string, *jsonschema.Schema) {
		return in.Message, &jsonschema.Schema{
			Type: "object",
			Properties: map[string]*jsonschema.Schema{
				"username": {Type: "string", Description: "your user name"},
				"email":    {Type: "string", Description: "your email address"},
			},
			Required: []string{"username", "email"},
		}
	})
	elicit("test_elicitation_sep1034_defaults", "Asks for one value of each primitive type, each with a default.", func(messageArgs) (string, *jsonschema.Schema) {
		return "Check these values", &jsonschema.Schema{
			Type: "object",
			Properties: map[string]*jsonschema.Schema{
				"name":     {Type: "string", Default: raw(`"John Doe"`)},
				"age":      {Type: "integer", Default: raw(`30`)},
				"score":    {Type: "number", Default: raw(`95.5`)},
				"status":   {Type: "string", Enum: []any{"active", "inactive", "pending"}, Default: raw(`"active"`)},
				"verified": {Type: "boolean", Default: raw(`true`)},
			},
		}
	})
	elicit("test_elicitation_sep1330_enums", "Asks for a choice in each of the five enum forms.", func(messageArgs) (string, *jsonschema.Schema) {
		titled := func(pairs ...string) []*jsonschema.Schema {
			var out []*jsonschema.Schema
			for i := 0; i+1 < len(pairs); i += 2 {
				v := any(pairs[i])
				out = append(out, &jsonschema.Schema{Const: &v, Title: pairs[i+1]})
			}
			return out
		}
		return "Pick some options", &jsonschema.Schema{
			Type: "object",
			Properties: map[string]*jsonschema.Schema{
				"untitledSingle": {Type: "string", Enum: []any{"option1", "option2", "option3"}},
				"titledSingle":   {Type: "string", OneOf: titled("value1", "First", "value2", "Second", "value3", "Third")},
				"legacyEnum": {Type: "string", Enum: []any{"opt1", "opt2", "opt3"},
					Extra: map[string]any{"enumNames": []string{"Option one", "Option two", "Option three"}}},
				"untitledMulti": {Type: "array", Items: &jsonschema.Schema{Type: "string", Enum: []any{"option1", "option2", "option3"}}},
				"titledMulti":   {Type: "array", Items: &jsonschema.Schema{AnyOf: titled("value1", "First", "value2", "Second", "value3", "Third")}},
			},
		}
	})

	// The suite checks that tools/list hands these 2020-12 keywords on
	// unchanged.
	bulwark.AddTool(s, &mcp.Tool{
		Name:        "json_schema_2020_12_tool",
		Description: "Declares an input schema that uses JSON Schema 2020-12 keywords.",
		InputSchema: json.RawMessage(`{
			"$schema": "https://json-schema.org/draft/2020-12/schema",
			"type": "object",
			"$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
			"properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
			"additionalProperties": false
		}`),
	}, func(_ context.Context, _ *mcp.CallToolRequest, in map[string]any) (*mcp.CallToolResult, any, error) {
		return result(text(fmt.Sprintf("received %d fields", len(in)))), nil, nil
	})

	// The SSE polling scenario calls this and expects the server to close
	// the response stream mid-call and deliver the result after the client
	// reconnects.
	bulwark.AddTool(s, &mcp.Tool{Name: "test_reconnection", Description: "Closes its response stream once, then answers."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
			if req.Extra != nil && req.Extra.CloseSSEStream != nil {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 10 * time.Millisecond})
			}
			select {
			case <-time.After(100 * time.Millisecond): // time for the client to come back
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			return result(text("answered after the stream was closed")), nil, nil
		})
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func addResources(s *mcp.Server) {
	static := func(uri, name, mime string, c *mcp.ResourceContents) {
		s.AddResource(&mcp.Resource{URI: uri, Name: name, MIMEType: mime, Description: name + " resource"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				cp := *c
				cp.URI = req.Params.URI
				cp.MIMEType = mime
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{&cp}}, nil
			})
	}
	static("test://static-text", "static-text", "text/plain", &mcp.ResourceContents{Text: "static text resource"})
	static("test://static-binary", "static-binary", "image/png", &mcp.ResourceContents{Blob: pixel})
	static("test://watched-resource", "watched-resource", "text/plain", &mcp.ResourceContents{Text: "a resource clients subscribe to"})

	const prefix, suffix = "test://template/", "/data"
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: prefix + "{id}" + suffix, Name: "template", MIMEType: "application/json",
		Description: "data for one ID",
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		uri := req.Params.URI
		id := strings.TrimSuffix(strings.TrimPrefix(uri, prefix), suffix)
		if id == "" || strings.Contains(id, "/") {
			return nil, mcp.ResourceNotFoundError(uri)
		}
		b, err := json.Marshal(map[string]string{"id": id, "data": "data for " + id})
		if err != nil {
			return nil, err
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
	})
}

func addPrompts(s *mcp.Server) {
	user := func(c mcp.Content) *mcp.PromptMessage { return &mcp.PromptMessage{Role: "user", Content: c} }
	s.AddPrompt(&mcp.Prompt{Name: "test_simple_prompt", Description: "A prompt without arguments."},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{user(text("a simple prompt"))}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_arguments", Description: "A prompt built from two arguments.",
		Arguments: []*mcp.PromptArgument{{Name: "arg1", Required: true}, {Name: "arg2", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			a := req.Params.Arguments
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{user(text(fmt.Sprintf("first %q, second %q", a["arg1"], a["arg2"])))}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_embedded_resource", Description: "A prompt that embeds the resource it is given.",
		Arguments: []*mcp.PromptArgument{{Name: "resourceUri", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
				user(&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: req.Params.Arguments["resourceUri"], MIMEType: "text/plain", Text: "embedded in a prompt"}}),
				user(text("use the resource above")),
			}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "test_prompt_with_image", Description: "A prompt that carries an image."},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
				user(&mcp.ImageContent{Data: pixel, MIMEType: "image/png"}),
				user(text("describe the image above")),
			}}, nil
		})
}
