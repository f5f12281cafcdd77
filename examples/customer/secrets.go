package main

import (
	"strings"

	"github.com/bulwark-mcp/bulwark/secret"
)

// withSecretFiles returns getenv with every secret variable also read from
// NAME_FILE (the file holding it, as Docker and Kubernetes secrets hand
// them over). Setting both spellings, or an unreadable file, is a
// configuration error naming the variables; a file others can read is
// accepted with a warning, logged at start. Neither ever shows the value.
func withSecretFiles(getenv func(string) string, r *envReader) (func(string) string, []string) {
	var warnings []string
	values := make(map[string]string, len(secretVars))
	for name := range secretVars {
		v, err := secret.Read(getenv, name, func(msg string) { warnings = append(warnings, msg) })
		if err != nil {
			r.errs = append(r.errs, &ConfigError{Var: name, Reason: strings.TrimPrefix(err.Error(), "secret: ")})
			continue
		}
		values[name] = v
	}
	return func(k string) string {
		if v, ok := values[k]; ok {
			return v
		}
		return getenv(k)
	}, warnings
}
