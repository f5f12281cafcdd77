package bulwark

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"
)

// The SDK serves a resources/read (and resources/subscribe) with the
// server's resource of that exact URI, else with the first of its resource
// templates, in the order of their URI templates, whose RFC 6570 template
// matches the URI. A layer that decides a read by the resource it reads
// must decide by that same resource, so Use reads the server's own lists
// (resources/list and resources/templates/list, beneath the chain) and
// matches URIs as the SDK does.

// servedTemplate is one of the server's resource templates, compiled.
type servedTemplate struct {
	template string
	re       *regexp.Regexp // nil when the SDK cannot parse it: it never matches
}

// resourceIndex is what the server served when its lists were last read.
type resourceIndex struct {
	at        time.Time
	uris      map[string]bool
	templates []servedTemplate // in the SDK's order of matching
}

// match returns what the SDK serves uri with, "" when nothing, and
// whether that is a template.
func (ix *resourceIndex) match(uri string, completion bool) (string, bool) {
	if ix.uris[uri] {
		return uri, false
	}
	if completion {
		for _, t := range ix.templates {
			if t.template == uri {
				return uri, true
			}
		}
	}
	for _, t := range ix.templates {
		if t.re != nil && t.re.MatchString(uri) {
			return t.template, true
		}
	}
	return "", false
}

// resourceIndex returns the server's resources and templates, read again
// when they were read more than learnInterval ago. ss is the session of the
// call that asked.
func (r *registry) resourceIndex(ctx context.Context, ss *mcp.ServerSession) (*resourceIndex, error) {
	r.resMu.Lock()
	defer r.resMu.Unlock()
	now := time.Now()
	if r.res != nil && now.Sub(r.res.at) < learnInterval && now.Sub(r.res.at) >= 0 {
		return r.res, nil
	}
	r.mu.RLock()
	lister := r.lister
	r.mu.RUnlock()
	if lister == nil {
		return nil, errors.New("bulwark.Use was not called on this server")
	}
	ctx = callrec.Inventory(ctx)
	ix := &resourceIndex{at: now, uris: make(map[string]bool)}
	err := pages(func(cursor string) (string, error) {
		res, err := lister(ctx, MethodListResources, &mcp.ListResourcesRequest{Session: ss, Params: &mcp.ListResourcesParams{Cursor: cursor}})
		if err != nil {
			return "", err
		}
		list, ok := res.(*mcp.ListResourcesResult)
		if !ok || list == nil {
			return "", fmt.Errorf("%s returned %T", MethodListResources, res)
		}
		for _, rs := range list.Resources {
			if rs != nil {
				ix.uris[rs.URI] = true
			}
		}
		return list.NextCursor, nil
	})
	if err != nil {
		return nil, err
	}
	var names []string
	err = pages(func(cursor string) (string, error) {
		res, err := lister(ctx, MethodListResourceTemplates, &mcp.ListResourceTemplatesRequest{Session: ss, Params: &mcp.ListResourceTemplatesParams{Cursor: cursor}})
		if err != nil {
			return "", err
		}
		list, ok := res.(*mcp.ListResourceTemplatesResult)
		if !ok || list == nil {
			return "", fmt.Errorf("%s returned %T", MethodListResourceTemplates, res)
		}
		for _, t := range list.ResourceTemplates {
			if t != nil {
				names = append(names, t.URITemplate)
			}
		}
		return list.NextCursor, nil
	})
	if err != nil {
		return nil, err
	}
	// The SDK matches its templates in the order of their URI templates.
	sort.Strings(names)
	for _, name := range names {
		t := servedTemplate{template: name}
		if ut, err := uritemplate.New(name); err == nil {
			t.re = ut.Regexp()
		}
		ix.templates = append(ix.templates, t)
	}
	r.res = ix
	return ix, nil
}

// pages calls page with each cursor until it returns an empty next cursor.
func pages(page func(cursor string) (next string, err error)) error {
	cursor := ""
	for range 10000 {
		next, err := page(cursor)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
	return errors.New("the list did not end")
}

// Resource returns what the server serves uri with: uri itself when the
// server has a resource of that exact URI, else the URI template (as given
// to Server.AddResourceTemplate) of the first of the server's resource
// templates that matches uri, in the SDK's order (by URI template) and by
// its matching (RFC 6570); template reports which. match is "" when
// nothing matches, and the SDK answers "resource not found". On a
// completion/complete call, a ref/resource reference that names one of the
// server's templates exactly is that template.
//
// It is known for the calls [Use] serves of resources/read,
// resources/subscribe, completion/complete and subscriptions/listen; uri
// is the one the layer decides on (usually the one in [Call.Request]). Use
// reads the server's resource lists for it (beneath the chain) at most
// once a second, so a resource or template added
// while serving is matched within a second; add them before serving. It
// errs when the lists cannot be read, or the call was not served by Use.
func (c *Call) Resource(uri string) (match string, template bool, err error) {
	if c == nil || c.resources == nil {
		return "", false, errors.New("bulwark: the server's resources are not known for this call")
	}
	ix, err := c.resources()
	if err != nil {
		return "", false, fmt.Errorf("bulwark: reading the server's resources: %w", err)
	}
	match, template = ix.match(uri, c.Method == MethodComplete)
	return match, template, nil
}
