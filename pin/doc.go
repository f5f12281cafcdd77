// Package pin defends a server's tools against a "rug pull": a definition
// that changes after a client (or an operator) approved it, such as a
// description that starts telling the model to exfiltrate data.
//
// # What it does
//
//   - [Digest] is the SHA-256 of a tool definition's canonical JSON (name,
//     title, description, schemas, annotations); a [Manifest] holds the
//     digest of each tool and of the whole set. A server writes one at
//     release ([Manifest.WriteFile]), or pins its first start with
//     Config.File; cmd/bulwark-pin diffs two.
//   - [New] pins the definitions a server registered. It refuses (returns
//     an error) definitions that hold hidden characters ([Scan]:
//     zero-width and bidi controls, tag characters U+E0000–U+E007F, other
//     format and control characters), and, given the manifest of a
//     release, definitions that differ from it.
//   - [Middleware] checks every tools/call and tools/list against the
//     pins: a tool whose definition changed while the server runs (added
//     again with other text, say) is neither listed nor called, and each
//     tools/list result carries the pinned set's digest in _meta under
//     [MetaKey], so a client can pin it and notice a change.
//
// By default a difference is refused; with Config.AlertOnly it is served
// and only reported, through Config.OnChange, once per tool and definition.
// Hidden characters are refused either way.
//
// Digests are kept per *mcp.Tool: a tool replaced on the server (a new
// definition) is digested anew; changing a registered definition in place
// is not supported by the SDK and is not seen.
//
// # Where it sits
//
//	audit → recover → metrics → auth → pin → validate → … → handler
//
// After auth, so a refusal names an authenticated caller; early, so a
// changed tool costs nothing.
//
// # On refusal
//
// [bulwark.PermissionDenied]: "tool "get_customer" is not served: its
// definition is not the one pinned for this server" (or "… holds hidden
// characters"). The tool is also missing from tools/list.
//
// # Example
//
//	pinned, err := pin.ReadManifest("tools.pin.json") // written at release
//	if err != nil { return err }
//	pins, err := pin.New(server, pin.Config{Manifest: pinned}) // after adding the tools
//	if err != nil { return err } // a definition differs from the release, or hides characters
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(), pin.Middleware(pins))
package pin
