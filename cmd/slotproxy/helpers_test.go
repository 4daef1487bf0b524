package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// scale compresses provider time on both sides: captchaaitest's
// TimeScale and slotproxy's -time-scale.
const scale = 100

const key = captchaaitest.DefaultKey

// started is a slotproxy run by startProxy.
type started struct {
	URL    string // "http://127.0.0.1:port" or https
	Admin  string // the -admin-listen base URL, if any
	stderr *syncBuffer
	stop   func() int // cancels run's context, waits, returns its exit code
}

// startProxy runs slotproxy with args (plus -listen 127.0.0.1:0 unless
// given) until the test ends, and waits until it serves.
// It is long because it owns the command's whole life in the test: flags,
// start, readiness, output capture and shutdown.
func startProxy(t *testing.T, args ...string) *started {
	t.Helper()
	if !hasFlag(args, "-listen") {
		args = append([]string{"-listen", "127.0.0.1:0"}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &started{stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, args, pw, s.stderr)
		pw.Close()
		done <- code
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var code int
	var once sync.Once
	s.stop = func() int {
		once.Do(func() {
			cancel()
			go func() {
				for range lines {
				}
			}()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	want := 1
	if hasFlag(args, "-admin-listen") {
		want = 2
	}
	timeout := time.After(5 * time.Second)
	for want > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("slotproxy %v exited: %s", args, s.stderr)
			}
			if u, found := strings.CutPrefix(l, "slotproxy: serving "); found {
				if s.URL == "" {
					s.URL = u
				} else {
					s.Admin = u
				}
				want--
			}
		case <-timeout:
			t.Fatalf("slotproxy %v did not start: %s", args, s.stderr)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// syncBuffer is a goroutine-safe strings.Builder.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeProvider starts captchaaitest at the test's scale.
func fakeProvider(t *testing.T, faults func(captchaaitest.FaultInfo) captchaaitest.Fault) *captchaaitest.Server {
	t.Helper()
	return captchaaitest.NewTestServer(t, captchaaitest.Config{TimeScale: scale, Faults: faults})
}

// guarded starts slotproxy in front of srv at the test's scale.
func guarded(t *testing.T, srv *captchaaitest.Server, args ...string) *started {
	t.Helper()
	return startProxy(t, append([]string{"-upstream", srv.URL, "-time-scale", "100"}, args...)...)
}

func noSlot(n int) func(captchaaitest.FaultInfo) captchaaitest.Fault {
	return captchaaitest.FirstSubmits(n, captchaaitest.Fault{Kind: captchaaitest.NoSlot})
}

func recaptcha() url.Values {
	return url.Values{
		"key":       {key},
		"method":    {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"},
		"pageurl":   {"https://example.com/login"},
	}
}

// client is a plain HTTP client with its own connections.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// do sends req and returns the answer with its body read.
func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return resp, string(b)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// ci reports whether the tests run in CI, where missing tools fail.
func ci() bool { return os.Getenv("CI") == "true" }
