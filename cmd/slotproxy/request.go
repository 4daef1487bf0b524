package main

import (
	"net/http"
	"strings"
)

// checkRequest refuses what the provider's API never takes (issue 11), with
// the answer to give, and sets Allow in h for a method refused:
//   - methods other than GET and POST: CONNECT and TRACE were forwarded.
//     HEAD is refused too: PHP runs in.php for a HEAD as for a GET, so a
//     HEAD with a task in its query is billed, and its id is in a body
//     nobody gets.
//   - paths with a "." or ".." segment, in any encoding ("%2e%2e", "..%2f",
//     "..%5c", twice encoded): "/../x" went upstream as "/api/../x", which
//     the provider's server resolves out of the upstream's prefix.
func checkRequest(h http.Header, r *http.Request) *failure {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST")
		return &failure{status: http.StatusMethodNotAllowed, side: sideClient, kind: "bad-method",
			msg: "the provider's API takes GET and POST only"}
	}
	if dotSegment(r.URL.EscapedPath()) {
		return &failure{status: http.StatusBadRequest, side: sideClient, kind: "bad-path",
			msg: `a path with "." or ".." segments, which the provider's API never has`}
	}
	return nil
}

// dotSegment reports whether path, decoded as often as it decodes, has a
// "." or ".." segment between slashes or backslashes (a ";param" after it
// too), or is encoded too deep to tell.
func dotSegment(path string) bool {
	path, ok := decodeAll(path)
	if !ok {
		return true
	}
	for _, seg := range strings.FieldsFunc(path, func(c rune) bool { return c == '/' || c == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
