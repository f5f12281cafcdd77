package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// What the demo reads from the server, as a client and an operator see it.

// Bearer adds an Authorization header with Token (none when empty) to
// every request it passes to Next.
type Bearer struct {
	Token string
	Next  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (b Bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.Token != "" {
		r.Header.Set("Authorization", "Bearer "+b.Token)
	}
	return b.Next.RoundTrip(r)
}

// Dial connects an MCP client over streamable HTTP, authenticating with
// token (none when empty). The server's tests reach it the same way.
func Dial(ctx context.Context, url, token string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "customer-demo", Version: "v0.0.1"}, nil)
	tr := &mcp.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           &http.Client{Transport: Bearer{Token: token, Next: http.DefaultTransport}},
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}
	return client.Connect(ctx, tr, nil)
}

// The results the demo reads, with the fields it looks at.
type (
	customer struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	note struct {
		ID int64 `json:"id"`
	}
	searchResult struct {
		Customers []customer `json:"customers"`
	}
	overview struct {
		Customer     *customer         `json:"customer"`
		RecentOrders []json.RawMessage `json:"recent_orders"`
		Loyalty      *struct {
			Tier string `json:"tier"`
		} `json:"loyalty"`
		Partial bool          `json:"partial"`
		Missing []missingPart `json:"missing"`
	}
	missingPart struct {
		Part   string `json:"part"`
		Reason string `json:"reason"`
	}
)

//lint:ignore ST1008 returns what CallTool returned, in its order, followed by the refusal read from them and the latency
func (d *demo) call(cs *mcp.ClientSession, tool string, args map[string]any) (*mcp.CallToolResult, error, *bulwark.Refusal, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	t0 := time.Now()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	return res, err, bulwark.RefusalOf(res, err), time.Since(t0)
}

func structured[T any](res *mcp.CallToolResult) (T, error) {
	var v T
	if res == nil {
		return v, errors.New("no result")
	}
	b, _ := json.Marshal(res.StructuredContent)
	return v, json.Unmarshal(b, &v)
}

// cacheOf returns how the cache answered res ("hit", "miss" or "stale",
// from the result's _meta), or "-".
func cacheOf(res *mcp.CallToolResult) string {
	if res != nil {
		m, _ := res.Meta[cache.MetaKey].(map[string]any)
		if st, _ := m["status"].(string); st != "" {
			return st
		}
	}
	return "-"
}

func describe(res *mcp.CallToolResult, err error, ref *bulwark.Refusal) string {
	switch {
	case ref != nil:
		s := fmt.Sprintf("refused: code=%s message=%q", ref.Code, ref.Message)
		if ref.RetryAfterSeconds > 0 {
			s += fmt.Sprintf(" retryAfterSeconds=%d", ref.RetryAfterSeconds)
		}
		return s
	case err != nil:
		return "error: " + err.Error()
	case res != nil && res.IsError:
		return "tool error: " + bulwarktest.ResultText(res)
	}
	return "ok"
}

// get fetches path from the admin listener, at most limit bytes of it.
func (d *demo) get(path string, limit int64) (int, string) {
	resp, err := http.Get("http://" + d.srv.AdminAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp.StatusCode, string(b)
}

var breakerLine = regexp.MustCompile(`^bulwark_breaker_state\{name="([^"]*)",state="([^"]*)"\} 1$`)

// breakers returns the state of every breaker that has changed state
// since the start, from bulwark_breaker_state in /metrics; a breaker not
// listed has stayed closed.
func (d *demo) breakers() (map[string]string, error) {
	code, body := d.get("/metrics", 1<<20)
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics -> %d", code)
	}
	states := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if m := breakerLine.FindStringSubmatch(line); m != nil {
			states[m[1]] = m[2]
		}
	}
	return states, nil
}

// counter returns the value of one series in /metrics (0 when absent).
func (d *demo) counter(series string) (float64, error) {
	code, body := d.get("/metrics", 1<<20)
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics -> %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, nil
}

// auditRecord is what the demo reads of an audit record.
type auditRecord struct {
	Kind    string            `json:"kind"`
	Outcome string            `json:"outcome"`
	Fields  map[string]string `json:"fields"`
}

// auditRecords reads the records in the audit trail file so far; a line
// still being written is left out.
func (d *demo) auditRecords() ([]auditRecord, error) {
	f, err := os.Open(d.auditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []auditRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r auditRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			recs = append(recs, r)
		}
	}
	return recs, sc.Err()
}
