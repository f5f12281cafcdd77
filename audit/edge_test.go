package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/edge"
)

func ExampleLogger_ObserveEdge() {
	l, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		fmt.Println(r.Kind, r.Outcome, r.Principal, r.Fields)
		return nil
	}), exampleKey, audit.Config{Clock: exampleClock})
	// Given to edge.New as one of Config.Observers; called here by hand.
	l.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventRefused, Reason: edge.ReasonOrigin, Status: 403,
		Code: bulwark.CodePermissionDenied, Message: "origin not allowed", HTTPMethod: "POST", Method: "tools/call"})
	l.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventSessionClosed, Reason: edge.ReasonIdle, Principal: "alice", Session: "S1"})
	// Output:
	// refusal permission_denied  map[http_method:POST method:tools/call reason:origin status:403]
	// session closed alice map[reason:idle]
}

// Client-supplied text in an edge event is redacted, and a record is
// chained and verifiable like a call's.
func TestObserveEdgeRedactsAndChains(t *testing.T) {
	var lines []string
	l, err := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		lines = append(lines, string(r.Line()))
		return nil
	}), exampleKey, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	secret := "sk_live_" + strings.Repeat("9", 24)
	l.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventRefused, Time: time.Now(), Reason: edge.Reason(bulwark.CodeInvalidArgument),
		Status: 400, Code: bulwark.CodeInvalidArgument, Message: "bad " + secret, Method: secret})
	l.ObserveEdge(context.Background(), edge.Event{Kind: edge.EventSessionOpened, Principal: "alice", Session: "S"})
	l.ObserveEdge(context.Background(), edge.Event{Kind: "unknown"})
	if len(lines) != 2 {
		t.Fatalf("%d records, want 2", len(lines))
	}
	if strings.Contains(strings.Join(lines, "\n"), secret) {
		t.Fatalf("secret in %s", lines)
	}
	rep, err := audit.VerifyOpen(strings.NewReader(strings.Join(lines, "\n")+"\n"), exampleKey)
	if err != nil || rep.Records != 2 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
