package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slotguard/slotguard/captchaaitest"
)

// Keys travel in queries and forms; none reaches the log, whatever fails.
func TestNoKeyInLogs(t *testing.T) {
	srv := fakeProvider(t, func(fi captchaaitest.FaultInfo) captchaaitest.Fault {
		if fi.N%2 == 0 {
			return captchaaitest.Fault{Kind: captchaaitest.AcceptDrop}
		}
		return captchaaitest.Fault{Kind: captchaaitest.Reset}
	})
	p := guarded(t, srv, "-v")
	c := client(t)
	postForm(t, c, p.URL+"/in.php?key="+key, recaptcha())
	get(t, c, p.URL+"/res.php?action=get&id=1&key="+key)
	get(t, c, p.URL+"/in.php?"+recaptcha().Encode())
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	q := startProxy(t, "-upstream", closed.URL, "-v")
	get(t, c, q.URL+"/res.php?action=getbalance&key="+key)
	p.stop()
	q.stop()
	logs := p.stderr.String() + q.stderr.String()
	if strings.Contains(logs, key) || strings.Contains(logs, "googlekey") {
		t.Errorf("a key reached the log:\n%s", logs)
	}
	if !strings.Contains(logs, "request failed") || !strings.Contains(logs, "path=/res.php") {
		t.Errorf("the failures were not logged:\n%s", logs)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Post "http://h/in.php?key=abc&json=1": EOF`, `Post "http://h/in.php?REDACTED": EOF`},
		{"form key=abc&x=1 sent", "form key=REDACTED&x=1 sent"},
		{"clientKey=abc", "clientKey=REDACTED"},
		{"no secrets", "no secrets"},
		{"/res.php?key=abc", "/res.php?REDACTED"},
		{"/res.php%3Fkey%3Dabc", "/res.php?REDACTED"},
		{"/res.php%253FKEY%253Dabc", "/res.php?REDACTED"},
		{"/in.php/Key=abc", "/in.php/Key=REDACTED"},
		{`{"clientKey": "abc", "task": {}}`, `{"clientKey": "REDACTED", "task": {}}`},
		{"/x%22clientKey%22%3A%22abc%22", `/x"clientKey":"REDACTED"`},
		{"keys are fine, 100% sure", "keys are fine, 100% sure"},
		{"%2525252541", "REDACTED (encoded too deep)"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A client can put its key in the path, percent-encoded (issue 11): Go
// decodes "/res.php%3Fkey%3D..." to "/res.php?key=..." in URL.Path. Neither
// the access log (-v) nor the failure's WARN line may show it, in any case
// or encoding.
func TestNoKeyInEncodedPaths(t *testing.T) {
	paths := []string{
		"/res.php%3Fkey%3D" + key,
		"/res.php%3fKEY%3d" + key + "%26action%3Dget",
		"/res.php%253Fkey%253D" + key,
		"/in.php%25253Fkey%25253D" + key,
		"/createTask%3BclientKey%3D" + key,
		"/x/%22ClientKey%22%3A%20%22" + key + "%22",
		"/in.php/key%3D" + key + "/x",
	}
	up, _ := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") })
	verbose := startProxy(t, "-upstream", up.URL, "-v")
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	failing := startProxy(t, "-upstream", closed.URL) // no -v: only the WARN lines
	c := client(t)
	for _, path := range paths {
		for _, p := range []*started{verbose, failing} {
			req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			do(t, c, req)
		}
	}
	verbose.stop()
	failing.stop()
	for _, p := range []*started{verbose, failing} {
		logs := p.stderr.String()
		if strings.Contains(logs, key) {
			t.Errorf("a key reached the log:\n%s", logs)
		}
		if n := strings.Count(logs, "REDACTED"); n < len(paths) {
			t.Errorf("%d redacted paths in the log, want %d:\n%s", n, len(paths), logs)
		}
	}

	var stderr strings.Builder
	if code := run(t.Context(), []string{"-upstream", "https://x/?key=" + key}, io.Discard, &stderr); code != 2 || strings.Contains(stderr.String(), key) {
		t.Errorf("run(-upstream with a key) = %d, %q; want 2 without the key", code, stderr.String())
	}
}
