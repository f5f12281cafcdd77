package pin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Digest returns the digest of a tool's definition: "sha256:" and the hex
// SHA-256 of the canonical JSON (object keys sorted, no insignificant
// space) of its name, title, description, input and output schemas and
// annotations. _meta is left out: the SDK and layers write into it.
func Digest(t *mcp.Tool) (string, error) {
	if t == nil {
		return "", errors.New("pin: nil tool")
	}
	canon, err := canonical(t)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// definition is what a digest covers.
type definition struct {
	Name         string               `json:"name"`
	Title        string               `json:"title,omitempty"`
	Description  string               `json:"description,omitempty"`
	InputSchema  any                  `json:"inputSchema,omitempty"`
	OutputSchema any                  `json:"outputSchema,omitempty"`
	Annotations  *mcp.ToolAnnotations `json:"annotations,omitempty"`
}

// canonical returns the canonical JSON of t's definition.
func canonical(t *mcp.Tool) ([]byte, error) {
	tree, err := treeOf(t)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// treeOf decodes t's definition into maps, slices, strings and json.Number,
// whose encoding sorts object keys.
func treeOf(t *mcp.Tool) (any, error) {
	raw, err := json.Marshal(definition{t.Name, t.Title, t.Description, t.InputSchema, t.OutputSchema, t.Annotations})
	if err != nil {
		return nil, fmt.Errorf("pin: tool %q: %w", t.Name, err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var tree any
	if err := d.Decode(&tree); err != nil {
		return nil, fmt.Errorf("pin: tool %q: %w", t.Name, err)
	}
	return tree, nil
}

// Manifest pins a set of tool definitions: what a server writes at release
// and checks at start, and what an operator diffs (cmd/bulwark-pin).
type Manifest struct {
	// Set is the digest of the whole set: "sha256:" and the hex SHA-256 of
	// the lines "name digest\n" in name order. Clients pin it.
	Set string `json:"set"`
	// Tools maps each tool's name to its [Digest].
	Tools map[string]string `json:"tools"`
}

// ManifestOf returns the manifest of tools. Two tools of one name are an
// error.
func ManifestOf(tools []*mcp.Tool) (*Manifest, error) {
	m := &Manifest{Tools: make(map[string]string, len(tools))}
	for _, t := range tools {
		d, err := Digest(t)
		if err != nil {
			return nil, err
		}
		if _, dup := m.Tools[t.Name]; dup {
			return nil, fmt.Errorf("pin: tool %q is defined twice", t.Name)
		}
		m.Tools[t.Name] = d
	}
	m.Set = setDigest(m.Tools)
	return m, nil
}

func setDigest(tools map[string]string) string {
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %s\n", n, tools[n])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ReadManifest reads a manifest file, and checks that its set digest agrees
// with its tools.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("pin: %s: %w", path, err)
	}
	if m.Tools == nil {
		m.Tools = map[string]string{}
	}
	if m.Set != setDigest(m.Tools) {
		return nil, fmt.Errorf("pin: %s: the set digest does not match the tools listed", path)
	}
	return &m, nil
}

// WriteFile writes m to path as indented JSON (mode 0644).
func (m *Manifest) WriteFile(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Difference is one difference between two manifests, or between a pinned
// definition and the one served.
type Difference struct {
	Tool string
	// Kind is "added", "removed" or "changed".
	Kind string
	// Old and New are the digests before and after ("" for none).
	Old, New string
}

func (c Difference) String() string {
	switch c.Kind {
	case "added":
		return fmt.Sprintf("added   %s (%s)", c.Tool, c.New)
	case "removed":
		return fmt.Sprintf("removed %s (was %s)", c.Tool, c.Old)
	}
	return fmt.Sprintf("changed %s (%s -> %s)", c.Tool, c.Old, c.New)
}

// Diff returns how next differs from m, in tool name order; nil when they
// pin the same definitions.
func (m *Manifest) Diff(next *Manifest) []Difference {
	var out []Difference
	for name, old := range m.Tools {
		if nd, ok := next.Tools[name]; !ok {
			out = append(out, Difference{Tool: name, Kind: "removed", Old: old})
		} else if nd != old {
			out = append(out, Difference{Tool: name, Kind: "changed", Old: old, New: nd})
		}
	}
	for name, nd := range next.Tools {
		if _, ok := m.Tools[name]; !ok {
			out = append(out, Difference{Tool: name, Kind: "added", New: nd})
		}
	}
	slices.SortFunc(out, func(a, b Difference) int { return strings.Compare(a.Tool, b.Tool) })
	return out
}
