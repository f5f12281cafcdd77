package pin

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Scan looks for hidden characters in tool definitions: in names, titles,
// descriptions, and every key and string of the schemas and annotations.
// Hidden are characters a reader does not see but a model reads: the
// format characters of Unicode (category Cf: zero-width spaces and joiners,
// U+200B–U+200F, U+2060–U+2064, U+FEFF, the soft hyphen; bidi controls,
// U+202A–U+202E, U+2066–U+2069; tag characters, U+E0000–U+E007F, which can
// spell a whole hidden text), except the few that are drawn (number signs
// such as U+0600), and control characters other than tab, newline and
// carriage return. Invalid UTF-8 is not looked for: JSON carries it as
// U+FFFD, which is visible. It returns an error naming each tool, where,
// and the character, or nil.
func Scan(tools ...*mcp.Tool) error {
	var found []string
	for _, t := range tools {
		if t == nil {
			continue
		}
		tree, err := treeOf(t)
		if err != nil {
			return err
		}
		walkStrings(tree, "", func(path, s string) {
			if r, at, ok := hidden(s); ok {
				found = append(found, fmt.Sprintf("tool %q: %s: hidden character %s at byte %d", t.Name, path, runeName(r), at))
			}
		})
	}
	if len(found) > 0 {
		return fmt.Errorf("pin: %s", strings.Join(found, "; "))
	}
	return nil
}

// walkStrings calls f for every object key and string in v, with its path.
func walkStrings(v any, path string, f func(path, s string)) {
	switch t := v.(type) {
	case string:
		f(path, t)
	case []any:
		for i, e := range t {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for k, e := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			f(p+" (key)", k)
			walkStrings(e, p, f)
		}
	}
}

// hidden returns the first hidden character in s and its byte offset.
func hidden(s string) (rune, int, bool) {
	for i, r := range s {
		if isHidden(r) {
			return r, i, true
		}
	}
	return 0, 0, false
}

// prependedMarks are the format characters (category Cf) that are drawn:
// number signs and abbreviation marks written before the text they mark.
var prependedMarks = map[rune]bool{
	0x0600: true, 0x0601: true, 0x0602: true, 0x0603: true, 0x0604: true, 0x0605: true,
	0x06DD: true, 0x070F: true, 0x0890: true, 0x0891: true, 0x08E2: true, 0x110BD: true, 0x110CD: true,
}

func isHidden(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case unicode.IsControl(r):
		return true
	case r >= 0xE0000 && r <= 0xE007F: // tags, assigned or not
		return true
	}
	return unicode.Is(unicode.Cf, r) && !prependedMarks[r]
}

func runeName(r rune) string {
	return fmt.Sprintf("U+%04X", r)
}
