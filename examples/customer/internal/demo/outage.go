package demo

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// The steps where a dependency goes down: the loyalty service (switched
// down in process) and PostgreSQL (cut at the fault proxy). The breakers'
// states are read from /metrics, as an operator would.

func (d *demo) loyaltyOutage() (string, error) {
	var sb strings.Builder
	d.loyalty.SetDown(true)
	before := d.loyalty.Calls()
	var lastMissing []missingPart
	var lastReached int64
	fastWhileOpen := 0
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("C-%06d", 200+i)
		n0 := d.loyalty.Calls()
		res, err, ref, took := d.call(d.support, toolOverview, map[string]any{"customer_id": id})
		lastReached = d.loyalty.Calls() - n0
		if err != nil || ref != nil {
			return sb.String(), fmt.Errorf("overview %s: %s", id, describe(res, err, ref))
		}
		o, _ := structured[overview](res)
		lastMissing = o.Missing
		fmt.Fprintf(&sb, "overview %s -> partial=%t customer=%t orders=%d missing=%v; loyalty requests %d; %v\n", id, o.Partial, o.Customer != nil, len(o.RecentOrders), o.Missing, lastReached, took.Round(time.Millisecond))
		if lastReached == 0 && len(o.Missing) == 1 && strings.HasPrefix(o.Missing[0].Reason, "loyalty is unavailable") {
			fastWhileOpen++ // refused by the open breaker, the service untouched
		}
		if !o.Partial || o.Customer == nil || len(o.Missing) != 1 || o.Missing[0].Part != "loyalty" {
			return sb.String(), errors.New("expected a partial overview missing only loyalty")
		}
	}
	reached := d.loyalty.Calls() - before
	states, err := d.breakers()
	if err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "/metrics: loyalty breaker %s; requests that reached the loyalty service: %d for 6 calls (retries included), none once open\n", states["loyalty"], reached)
	if fastWhileOpen == 0 || !strings.Contains(lastMissing[0].Reason, "unavailable") || states["loyalty"] != "open" {
		return sb.String(), errors.New("the loyalty breaker did not open")
	}
	d.loyalty.SetDown(false)
	fmt.Fprintf(&sb, "loyalty service back up; waiting for the breaker's probe\n")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		res, err, ref, _ := d.call(d.support, toolOverview, map[string]any{"customer_id": "C-000299"})
		if err != nil || ref != nil {
			continue
		}
		if o, _ := structured[overview](res); !o.Partial && o.Loyalty != nil {
			states, err := d.breakers()
			if err != nil {
				return sb.String(), err
			}
			fmt.Fprintf(&sb, "overview C-000299 -> complete, loyalty tier %s; /metrics: loyalty breaker %s\n", o.Loyalty.Tier, orClosed(states["loyalty"]))
			return sb.String(), nil
		}
	}
	return sb.String(), errors.New("no recovery within 5s")
}

func (d *demo) postgresOutage() (string, error) {
	var sb strings.Builder
	// Warm one entry so the cache can show it still serves.
	if _, err, ref, _ := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000500"}); err != nil || ref != nil {
		return "", errors.New("warm-up failed")
	}
	d.proxy.Cut()
	fmt.Fprintf(&sb, "fault proxy: every PostgreSQL connection cut\n")
	breakerRefusals := 0
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("C-%06d", 600+i)
		res, err, ref, took := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": id})
		fmt.Fprintf(&sb, "get_customer %s -> %s in %v\n", id, describe(res, err, ref), took.Round(time.Microsecond))
		if ref != nil && ref.Code == bulwark.CodeUnavailable && strings.HasPrefix(ref.Message, "postgres is unavailable") &&
			ref.RetryAfterSeconds > 0 && took < 250*time.Millisecond {
			breakerRefusals++
		}
	}
	states, err := d.breakers()
	if err != nil {
		return sb.String(), err
	}
	fmt.Fprintf(&sb, "/metrics: breakers postgres=%s get_customer=%s\n", states["postgres"], orClosed(states[toolGetCustomer]))
	if breakerRefusals == 0 || states["postgres"] != "open" {
		return sb.String(), errors.New("expected the postgres breaker open and fast unavailable refusals with retry-after")
	}
	res, err, ref, _ := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000500"})
	fmt.Fprintf(&sb, "get_customer C-000500 (cached before the outage) -> %s cache=%s\n", describe(res, err, ref), cacheOf(res))
	if err != nil || ref != nil {
		return sb.String(), errors.New("the cache did not serve during the outage")
	}
	code, body := d.get("/readyz", 4096)
	fmt.Fprintf(&sb, "GET /readyz -> %d %s", code, body)
	if code != http.StatusServiceUnavailable {
		return sb.String(), errors.New("readiness did not report the outage")
	}
	d.proxy.Restore()
	fmt.Fprintf(&sb, "fault proxy restored; waiting for the breakers' probes\n")
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		res, err, ref, took := d.call(d.ops, toolGetCustomer, map[string]any{"customer_id": "C-000601"})
		if err == nil && ref == nil {
			c, _ := structured[customer](res)
			states, err := d.breakers()
			if err != nil {
				return sb.String(), err
			}
			fmt.Fprintf(&sb, "get_customer C-000601 -> %s in %v; /metrics: breakers %v\n", c.Name, took.Round(time.Millisecond), states)
			code, body := d.get("/readyz", 4096)
			fmt.Fprintf(&sb, "GET /readyz -> %d %s", code, body)
			return sb.String(), nil
		}
	}
	return sb.String(), errors.New("no recovery within 8s")
}

// orClosed names the state of a breaker that /metrics does not list: it
// has stayed closed.
func orClosed(state string) string {
	if state == "" {
		return "closed"
	}
	return state
}
