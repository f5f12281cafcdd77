package readmecheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeBlocksAreCompiledPrograms keeps each README example that is
// taken from a program identical to that program, which the program's own
// package compiles and runs: what a reader copies is code that works.
func TestReadmeBlocksAreCompiledPrograms(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		section  string // the heading the block follows
		program  string // the file it is taken from
		maxLines int    // 0: no bound
	}{
		{"## A hardened server", "examples/hardened/main.go", 40},
		{"## Serving over streamable HTTP", "examples/streamable/main.go", 0},
	} {
		t.Run(tt.program, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(root, tt.program))
			if err != nil {
				t.Fatal(err)
			}
			block := firstGoBlock(t, string(readme), tt.section)
			if !strings.Contains(string(src), block) {
				t.Errorf("README's example under %q is not part of %s; README block:\n%s", tt.section, tt.program, block)
			}
			if n := strings.Count(block, "\n"); tt.maxLines > 0 && n > tt.maxLines {
				t.Errorf("README example has %d lines, more than %d", n, tt.maxLines)
			}
		})
	}
}

// firstGoBlock returns the body of the first Go code block after heading.
func firstGoBlock(t *testing.T, text, heading string) string {
	t.Helper()
	const open, close = "```go\n", "```\n"
	start := strings.Index(text, heading)
	if start < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	block := text[start:]
	i := strings.Index(block, open)
	if i < 0 {
		t.Fatalf("no Go block in the section %q", heading)
	}
	block = block[i+len(open):]
	end := strings.Index(block, close)
	if end < 0 {
		t.Fatalf("the Go block in %q is not closed", heading)
	}
	return block[:end]
}
