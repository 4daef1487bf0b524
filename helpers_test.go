package slotguard

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memRT serves a handler in memory, as a transport would: no sockets, so it
// works inside synctest bubbles. It reads and closes the request body.
type memRT struct{ h http.Handler }

func (m memRT) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	sreq := req
	if req.Body == nil { // a server always sees a body
		sreq = req.Clone(req.Context())
		sreq.Body = http.NoBody
	}
	m.h.ServeHTTP(rec, sreq)
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// rtFunc adapts a function to http.RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// script is a scripted provider: answer(n, body) gives the n-th (from 1)
// submit's answer. It records when each request came and what body it
// carried.
type script struct {
	answer func(n int, body []byte) (status int, text string)

	mu     sync.Mutex
	start  time.Time
	times  []time.Duration
	bodies [][]byte
	polls  int
}

func newScript(answer func(n int, body []byte) (int, string)) *script {
	return &script{answer: answer, start: time.Now()}
}

// answers returns a script that gives the texts in turn, the last one for
// ever after.
func answers(texts ...string) *script {
	return newScript(func(n int, _ []byte) (int, string) {
		return 200, texts[min(n, len(texts))-1]
	})
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	if !IsSubmit(r) {
		s.mu.Lock()
		s.polls++
		s.mu.Unlock()
		io.WriteString(w, "CAPCHA_NOT_READY")
		return
	}
	s.mu.Lock()
	s.times = append(s.times, time.Since(s.start))
	s.bodies = append(s.bodies, body)
	n := len(s.times)
	s.mu.Unlock()
	status, text := s.answer(n, body)
	w.Header().Set("X-Attempt", strings.Repeat("a", n))
	w.WriteHeader(status)
	io.WriteString(w, text)
}

func (s *script) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

func (s *script) attemptTimes() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.times...)
}

const testKey = "0123456789abcdef0123456789abcdef"

// submitReq is a text-mode in.php POST with the key in the form.
func submitReq(t testing.TB) *http.Request {
	t.Helper()
	form := url.Values{"key": {testKey}, "method": {"userrecaptcha"}, "googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"}}
	req, err := http.NewRequest("POST", "http://provider.test/in.php", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// mustNew builds a Transport or fails the test.
func mustNew(t testing.TB, base http.RoundTripper, cfg Config) *Transport {
	t.Helper()
	tr, err := New(base, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

// readAll reads and closes a response body.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return string(b)
}

// noPacing switches the pacer off, to test other stages alone.
var noPacing = Config{Rate: math.Inf(1)}

// logBuffer is a concurrency-safe buffer for slog handlers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// submitConcurrently sends n submits through rt at once and waits for all,
// closing each body.
func submitConcurrently(t *testing.T, rt http.RoundTripper, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := rt.RoundTrip(submitReq(t))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
}

func textResp(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}
}

// pollReq is a res.php action=get poll for id.
func pollReq(t *testing.T, id string) *http.Request {
	req, err := http.NewRequest("GET", "http://provider.test/res.php?key="+testKey+"&action=get&id="+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// maxInWindow is the most times in any span-long window.
func maxInWindow(times []time.Duration, span time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	most := 0
	for i := range times {
		j := sort.Search(len(times), func(j int) bool { return times[j] >= times[i]+span })
		most = max(most, j-i)
	}
	return most
}

// rewindingRequest is a POST of body whose GetBody rewinds the very reader
// the request carries, as go-retryablehttp's does for a seekable body.
func rewindingRequest(url, body string) *http.Request {
	shared := strings.NewReader(body)
	req, _ := http.NewRequest("POST", url, nil)
	req.Body = io.NopCloser(shared)
	req.GetBody = func() (io.ReadCloser, error) {
		shared.Seek(0, io.SeekStart)
		return io.NopCloser(shared), nil
	}
	return req
}

// recordBody is a base that keeps the last request body it got in *got and
// answers answer.
func recordBody(got *string, answer string) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		*got = string(b)
		return textResp(200, answer), nil
	})
}

// byMethod is a provider that answers each in.php form submit with
// answer(method), and counts the submits it saw by method.
type byMethod struct {
	mu     sync.Mutex
	seen   map[string]int
	answer func(method string) string // called with mu held
	// hold, when set, is called with mu held before the answer: a channel
	// it returns is waited for, mu let go, before the submit is counted.
	hold func(method string) chan struct{}
}

func (p *byMethod) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	q, _ := url.ParseQuery(string(b))
	m := q.Get("method")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold != nil {
		if h := p.hold(m); h != nil {
			p.mu.Unlock()
			<-h
			p.mu.Lock()
		}
	}
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	p.seen[m]++
	return textResp(200, p.answer(m)), nil
}

// saw returns how many submits of method the provider saw.
func (p *byMethod) saw(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[method]
}
