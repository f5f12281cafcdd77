package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// tracker holds the edge's view of the sessions: who owns each, how busy
// it is, when it was last used, and the counts the caps are checked
// against. A request that would open a session reserves a place first, so
// a flood of concurrent initialize requests cannot overshoot a cap.
type tracker struct {
	h      *Handler
	server *mcp.Server

	mu    sync.Mutex
	total int                      // sessions and reservations
	byKey map[string]*principalSet // by cap key
	byID  map[string]*session
}

type principalSet struct {
	count    int // sessions and reservations
	sessions map[*session]struct{}
}

type session struct {
	id, key, principal string
	ss                 *mcp.ServerSession
	opened, lastUsed   time.Time
	inFlight, streams  int
	subs               map[string]struct{}
	deleting           bool // a DELETE for it is being served
	// closing is the reason the edge is closing the session for; it is
	// removed from the tables at the same moment.
	closing Reason
}

// slot is a reserved place for the session a request may open.
type slot struct {
	key, principal string
	done           bool // committed or given back; guarded by tracker.mu
}

type slotKey struct{}

func newTracker(h *Handler, server *mcp.Server) *tracker {
	return &tracker{h: h, server: server, byKey: make(map[string]*principalSet), byID: make(map[string]*session)}
}

func (t *tracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// gate applies the session bounds, then hands the request to the SDK.
func (h *Handler) gate(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	if h.cfg.Stateless {
		h.sdk.ServeHTTP(w, r)
		return
	}
	t := h.t
	if st.session == "" {
		if r.Method != http.MethodPost {
			h.sdk.ServeHTTP(w, r)
			return
		}
		sl, victim, e := t.reserve(st.key, st.principal)
		if victim != nil {
			t.finish(r.Context(), victim)
		}
		if e != nil {
			h.refuse(w, st, e.Reason, e.Status, e.Code, e.Message, e.RetryAfter)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), slotKey{}, sl))
		h.sdk.ServeHTTP(w, r)
		t.settle(sl)
		return
	}
	s := t.lookup(st.session, st.principal)
	if s == nil {
		// Unknown, or another user's: the SDK answers 404 or 403.
		h.sdk.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if !t.acquire(s, &s.streams, 1, h.lim.MaxStreamsPerSession) {
			h.refuse(w, st, ReasonStreams, http.StatusTooManyRequests, bulwark.CodeRateLimited, "too many open streams on this session", h.lim.RetryAfter)
			return
		}
		defer t.release(s, &s.streams, 1)
	case http.MethodPost:
		// Each message of a batch is a request the server serves at once.
		k := max(st.batch, 1)
		if !t.acquire(s, &s.inFlight, k, h.lim.MaxInFlightPerSession) {
			h.refuse(w, st, ReasonInFlight, http.StatusTooManyRequests, bulwark.CodeRateLimited, "too many requests in flight on this session", h.lim.RetryAfter)
			return
		}
		defer t.release(s, &s.inFlight, k)
	case http.MethodDelete:
		t.mu.Lock()
		s.deleting = true
		t.mu.Unlock()
		h.sdk.ServeHTTP(w, r)
		if st.w.status == http.StatusNoContent {
			if s := t.remove(st.session, ReasonDeleted); s != nil {
				t.finish(r.Context(), s)
			}
			return
		}
		t.mu.Lock()
		s.deleting = false
		t.mu.Unlock()
		return
	}
	h.sdk.ServeHTTP(w, r)
}

// reserve takes a place for a new session under key, evicting the key's
// least recently used idle session first when the policy says so. It
// returns the refusal when there is no place.
func (t *tracker) reserve(key, principal string) (*slot, *session, *Event) {
	lim := t.h.lim
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.byKey[key]
	var victim *session
	if p != nil && lim.MaxSessionsPerPrincipal > 0 && p.count >= lim.MaxSessionsPerPrincipal {
		if lim.EvictIdle {
			victim = t.lruIdleLocked(p)
		}
		if victim == nil {
			return nil, nil, &Event{Reason: ReasonPrincipalSessions, Status: http.StatusTooManyRequests, Code: bulwark.CodeRateLimited,
				Message: "too many sessions for this caller: close one (DELETE) or retry later", RetryAfter: lim.RetryAfter}
		}
		t.removeLocked(victim, ReasonEvicted)
	}
	if lim.MaxSessions > 0 && t.total >= lim.MaxSessions {
		if victim == nil && lim.EvictIdle && p != nil {
			victim = t.lruIdleLocked(p)
			if victim != nil {
				t.removeLocked(victim, ReasonEvicted)
			}
		}
		if lim.MaxSessions > 0 && t.total >= lim.MaxSessions {
			return nil, victim, &Event{Reason: ReasonSessions, Status: http.StatusServiceUnavailable, Code: bulwark.CodeUnavailable,
				Message: "the server holds its maximum of sessions; retry later", RetryAfter: lim.RetryAfter}
		}
	}
	if p == nil {
		p = &principalSet{sessions: make(map[*session]struct{})}
		t.byKey[key] = p
	}
	p.count++
	t.total++
	return &slot{key: key, principal: principal}, victim, nil
}

func (t *tracker) lruIdleLocked(p *principalSet) *session {
	var best *session
	for s := range p.sessions {
		if s.inFlight == 0 && s.streams == 0 && (best == nil || s.lastUsed.Before(best.lastUsed)) {
			best = s
		}
	}
	return best
}

// commit turns the reservation of sl into session ss, once its initialize
// succeeded: before the response is written, so a client that reads its
// session ID finds the session counted and reported.
func (t *tracker) commit(ctx context.Context, sl *slot, ss *mcp.ServerSession) {
	now := t.h.clock.Now()
	t.mu.Lock()
	if sl.done || ss.ID() == "" {
		t.mu.Unlock()
		return
	}
	sl.done = true
	s := &session{id: ss.ID(), key: sl.key, principal: sl.principal, ss: ss, opened: now, lastUsed: now}
	t.byID[s.id] = s
	t.byKey[sl.key].sessions[s] = struct{}{}
	t.mu.Unlock()
	t.h.emit(ctx, Event{Kind: EventSessionOpened, Time: now, Principal: s.principal, Session: s.id, Method: "initialize", HTTPMethod: http.MethodPost})
}

// settle gives the place of sl back if the request opened no session.
func (t *tracker) settle(sl *slot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !sl.done {
		sl.done = true
		t.unreserveLocked(sl.key)
	}
}

func (t *tracker) unreserveLocked(key string) {
	p := t.byKey[key]
	p.count--
	t.total--
	if p.count == 0 {
		delete(t.byKey, key)
	}
}

// lookup returns the session id if the caller may use it.
func (t *tracker) lookup(id, principal string) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil || (s.principal != "" && s.principal != principal) {
		return nil
	}
	return s
}

func (t *tracker) acquire(s *session, n *int, k, max int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if max > 0 && *n+k > max {
		return false
	}
	*n += k
	s.lastUsed = t.h.clock.Now()
	return true
}

func (t *tracker) release(s *session, n *int, k int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*n -= k
	s.lastUsed = t.h.clock.Now()
}

// remove takes session id out of the tables, once; it returns nil if it
// was gone already.
func (t *tracker) remove(id string, why Reason) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil {
		return nil
	}
	t.removeLocked(s, why)
	return s
}

func (t *tracker) removeLocked(s *session, why Reason) {
	s.closing = why
	delete(t.byID, s.id)
	if p := t.byKey[s.key]; p != nil {
		delete(p.sessions, s)
	}
	t.unreserveLocked(s.key)
}

// finish closes a removed session (outside the lock) and reports it.
func (t *tracker) finish(ctx context.Context, s *session) {
	if s.closing != ReasonDeleted {
		_ = s.ss.Close()
	}
	t.h.emit(ctx, Event{Kind: EventSessionClosed, Time: t.h.clock.Now(), Reason: s.closing, Principal: s.principal, Session: s.id})
}

// janitor closes idle and old sessions, and forgets sessions the SDK
// closed by itself.
func (t *tracker) janitor() {
	defer close(t.h.done)
	lim := t.h.lim
	every := 30 * time.Second
	for _, d := range []time.Duration{lim.IdleTimeout, lim.MaxAge} {
		if d > 0 && d/4 < every {
			every = d / 4
		}
	}
	every = max(every, 10*time.Millisecond)
	for {
		select {
		case <-t.h.stop:
			return
		case <-t.h.clock.After(every):
		}
		t.sweep()
	}
}

func (t *tracker) sweep() {
	lim := t.h.lim
	now := t.h.clock.Now()
	live := make(map[*mcp.ServerSession]bool)
	for ss := range t.server.Sessions() {
		live[ss] = true
	}
	var gone []*session
	t.mu.Lock()
	for _, s := range t.byID {
		switch {
		case !live[s.ss]:
			gone = append(gone, s)
			s.closing = ReasonClosed
			if s.deleting {
				s.closing = ReasonDeleted
			}
		case lim.MaxAge > 0 && now.Sub(s.opened) >= lim.MaxAge:
			gone = append(gone, s)
			s.closing = ReasonMaxAge
		case lim.IdleTimeout > 0 && s.inFlight == 0 && s.streams == 0 && now.Sub(s.lastUsed) >= lim.IdleTimeout:
			gone = append(gone, s)
			s.closing = ReasonIdle
		}
	}
	for _, s := range gone {
		t.removeLocked(s, s.closing)
	}
	t.mu.Unlock()
	for _, s := range gone {
		t.finish(context.Background(), s)
	}
}

func (t *tracker) closeAll() {
	t.mu.Lock()
	var all []*session
	for _, s := range t.byID {
		all = append(all, s)
	}
	for _, s := range all {
		t.removeLocked(s, ReasonClosed)
	}
	t.mu.Unlock()
	for _, s := range all {
		t.finish(context.Background(), s)
	}
}

// middleware learns the session an initialize opens (for the request
// that reserved its place) and bounds resource subscriptions per session.
func (t *tracker) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "initialize":
			// The context of a session's requests carries the values of
			// the HTTP request that opened it, and so its slot.
			sl, ok := ctx.Value(slotKey{}).(*slot)
			ss, _ := req.GetSession().(*mcp.ServerSession)
			if !ok || ss == nil {
				break
			}
			res, err := next(ctx, method, req)
			if err == nil && ss.InitializeParams() != nil {
				t.commit(ctx, sl, ss)
			}
			return res, err
		case "resources/subscribe":
			return t.subscribe(ctx, next, method, req)
		case "resources/unsubscribe":
			res, err := next(ctx, method, req)
			if err == nil {
				if r, ok := req.(*mcp.UnsubscribeRequest); ok && r.Params != nil {
					if s := t.sessionOf(req); s != nil {
						t.mu.Lock()
						delete(s.subs, r.Params.URI)
						t.mu.Unlock()
					}
				}
			}
			return res, err
		}
		return next(ctx, method, req)
	}
}

func (t *tracker) sessionOf(req mcp.Request) *session {
	ss, _ := req.GetSession().(*mcp.ServerSession)
	if ss == nil || ss.ID() == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.byID[ss.ID()]; s != nil && s.ss == ss {
		return s
	}
	return nil
}

func (t *tracker) subscribe(ctx context.Context, next mcp.MethodHandler, method string, req mcp.Request) (mcp.Result, error) {
	r, ok := req.(*mcp.SubscribeRequest)
	s := t.sessionOf(req)
	if !ok || r.Params == nil || s == nil {
		return next(ctx, method, req)
	}
	uri := r.Params.URI
	max := t.h.lim.MaxSubscriptionsPerSession
	t.mu.Lock()
	_, had := s.subs[uri]
	if !had && max > 0 && len(s.subs) >= max {
		t.mu.Unlock()
		msg := "too many resource subscriptions on this session: unsubscribe first"
		t.h.emit(ctx, Event{Kind: EventRefused, Time: t.h.clock.Now(), Reason: ReasonSubscriptions, Code: bulwark.CodeRateLimited,
			Message: msg, Principal: s.principal, Session: s.id, Method: method, HTTPMethod: http.MethodPost})
		data, _ := json.Marshal(bulwark.Refusal{Code: bulwark.CodeRateLimited, Message: msg})
		return nil, &jsonrpc.Error{Code: rpcCodeOf(bulwark.CodeRateLimited), Message: msg, Data: data}
	}
	if !had {
		if s.subs == nil {
			s.subs = make(map[string]struct{})
		}
		s.subs[uri] = struct{}{}
	}
	t.mu.Unlock()
	res, err := next(ctx, method, req)
	if err != nil && !had {
		t.mu.Lock()
		delete(s.subs, uri)
		t.mu.Unlock()
	}
	return res, err
}
