package captchaaitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// always injects f into every request.
func always(f Fault) func(FaultInfo) Fault { return func(FaultInfo) Fault { return f } }

func submitReq(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/in.php", strings.NewReader(recaptcha().Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestFaultErrors(t *testing.T) {
	tests := []struct {
		kind     FaultKind
		want     error
		accepted int
	}{
		{Reset, syscall.ECONNRESET, 0},
		{AcceptDrop, io.EOF, 1},
	}
	for _, tt := range tests {
		p := New(Config{Faults: always(Fault{Kind: tt.kind})})
		resp, err := p.Transport().RoundTrip(submitReq(t, context.Background()))
		if !errors.Is(err, tt.want) || resp != nil {
			t.Errorf("RoundTrip with fault %d = %v, %v; want nil, an error matching %v", tt.kind, resp, err, tt.want)
		}
		st := p.Stats(DefaultKey)
		if st.Accepted != tt.accepted {
			t.Errorf("fault %d: Stats.Accepted = %d, want %d", tt.kind, st.Accepted, tt.accepted)
		}
		if tt.accepted == 1 && st.Balance != DefaultBalance-0.003 {
			t.Errorf("fault %d: Stats.Balance = %v, want billed", tt.kind, st.Balance)
		}
		p.Close()
	}
}

func TestFaultPages(t *testing.T) {
	for _, tt := range []struct {
		kind   FaultKind
		status int
	}{{HTML500, 500}, {HTML502, 502}} {
		p := New(Config{Faults: always(Fault{Kind: tt.kind})})
		resp, err := p.Transport().RoundTrip(submitReq(t, context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != ctypeHTML || !bytes.Contains(body, []byte("<html>")) {
			t.Errorf("fault %d: answer = %d %q %q, want %d, an HTML page", tt.kind, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status)
		}
		if got := p.Stats(DefaultKey); got.Accepted != 0 || got.MaxInFlight != 0 {
			t.Errorf("fault %d: Stats = %+v, want the request unhandled", tt.kind, got)
		}
		p.Close()
	}
}

func TestCutBody(t *testing.T) {
	p := New(Config{Faults: always(Fault{Kind: CutBody})})
	defer p.Close()
	resp, err := p.Transport().RoundTrip(submitReq(t, context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(body) != "OK" || resp.ContentLength != 4 {
		t.Errorf("cut body = %q, %v, ContentLength %d; want \"OK\", io.ErrUnexpectedEOF, 4", body, err, resp.ContentLength)
	}
	if got := p.Stats(DefaultKey).Accepted; got != 1 {
		t.Errorf("Stats.Accepted = %d, want 1", got)
	}
}

func TestGzip(t *testing.T) {
	p := New(Config{Faults: always(Fault{Gzip: true})})
	defer p.Close()
	resp, err := p.Transport().RoundTrip(submitReq(t, context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(zr); string(body) != "OK|1" {
		t.Errorf("gunzipped body = %q, want OK|1", body)
	}
}

func TestSlowHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Faults: always(Fault{Delay: 5 * time.Second})})
		defer p.Close()
		start := time.Now()
		if _, got := roundTrip(t, p.Transport(), submitReq(t, context.Background())); got != "OK|1" {
			t.Errorf("slow submit = %q, want OK|1", got)
		}
		if got, want := time.Since(start), 5*time.Second; got != want {
			t.Errorf("slow headers took %v, want %v", got, want)
		}

		// Cancelled while waiting: ctx.Err() unchanged, and the task was
		// accepted anyway (handled on arrival).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start = time.Now()
		_, err := p.Transport().RoundTrip(submitReq(t, ctx))
		if err != context.DeadlineExceeded || time.Since(start) != 2*time.Second {
			t.Errorf("RoundTrip with a 2s deadline = %v after %v, want context.DeadlineExceeded after 2s", err, time.Since(start))
		}
		if got := p.Stats(DefaultKey).Accepted; got != 2 {
			t.Errorf("Stats.Accepted = %d, want 2", got)
		}
	})
}

func TestSlowBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Faults: always(Fault{BodyDelay: 3 * time.Second})})
		defer p.Close()
		start := time.Now()
		resp, err := p.Transport().RoundTrip(submitReq(t, context.Background()))
		if err != nil || time.Since(start) != 0 {
			t.Fatalf("RoundTrip = %v after %v, want headers at once", err, time.Since(start))
		}
		buf := make([]byte, 10)
		n, err := resp.Body.Read(buf)
		if string(buf[:n]) != "OK" || err != nil || time.Since(start) != 0 {
			t.Errorf("first Read = %q, %v at %v; want \"OK\" at once", buf[:n], err, time.Since(start))
		}
		rest, err := io.ReadAll(resp.Body)
		if string(rest) != "|1" || err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("rest = %q, %v at %v; want \"|1\" at 3s", rest, err, time.Since(start))
		}
		resp.Body.Close()

		ctx, cancel := context.WithCancel(context.Background())
		resp, err = p.Transport().RoundTrip(submitReq(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, cancel)
		if _, err := io.ReadAll(resp.Body); err != context.Canceled {
			t.Errorf("reading a slow body, cancelled = %v, want context.Canceled", err)
		}

		// Close during the pause returns at once and ends the Read, as
		// closing a connection does.
		resp, err = p.Transport().RoundTrip(submitReq(t, context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		time.AfterFunc(time.Second, func() {
			resp.Body.Close()
			if got := time.Since(start); got != time.Second {
				t.Errorf("Close during the pause returned at %v, want 1s", got)
			}
		})
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, errBodyClosed) || time.Since(start) != time.Second {
			t.Errorf("Read closed during the pause = %v at %v, want errBodyClosed at 1s", err, time.Since(start))
		}
	})
}

func TestInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Faults: always(Fault{Delay: time.Second})})
		defer p.Close()
		for range 3 {
			req := submitReq(t, context.Background())
			go func() {
				if resp, err := p.Transport().RoundTrip(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := p.Stats(DefaultKey).MaxInFlight; got != 3 {
			t.Errorf("Stats.MaxInFlight = %d, want 3", got)
		}
	})
}

func TestFirstSubmits(t *testing.T) {
	p := New(Config{Faults: FirstSubmits(2, Fault{Kind: NoSlot})})
	defer p.Close()
	for i, want := range []string{codeNoSlot, codeNoSlot, "OK|1"} {
		if got := submit(t, p); got != want {
			t.Errorf("submit #%d = %q, want %q", i+1, got, want)
		}
	}
	if got, want := poll(t, p, "1"), codeNotReady; got != want {
		t.Errorf("poll = %q, want %q", got, want)
	}
}

func TestCloseEndsDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Faults: always(Fault{Delay: time.Hour})})
		time.AfterFunc(time.Second, func() { p.Close() })
		if _, err := p.Transport().RoundTrip(submitReq(t, context.Background())); !errors.Is(err, ErrClosed) {
			t.Errorf("RoundTrip during Close = %v, want ErrClosed", err)
		}
		if _, err := p.Transport().RoundTrip(submitReq(t, context.Background())); !errors.Is(err, ErrClosed) {
			t.Errorf("RoundTrip after Close = %v, want ErrClosed", err)
		}
	})
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestRequestContract(t *testing.T) {
	p := New(Config{})
	defer p.Close()
	body := &closeCounter{Reader: strings.NewReader(recaptcha().Encode())}
	req, _ := http.NewRequest("POST", base+"/x/in.php", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hdr := req.Header.Clone()
	resp, err := p.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body.closed != 1 || body.Reader.(*strings.Reader).Len() != 0 {
		t.Errorf("request body: closed %d times, %d bytes left; want read and closed once", body.closed, body.Reader.(*strings.Reader).Len())
	}
	if resp.Request != req || resp.Status != "200 OK" || resp.ProtoMajor != 1 || resp.Header.Get("Content-Length") != "4" {
		t.Errorf("response = %+v, want a 200 OK HTTP/1.1 answer for req", resp)
	}
	if req.Body != body || len(req.Header) != len(hdr) {
		t.Errorf("RoundTrip changed the request")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body = &closeCounter{Reader: strings.NewReader("x")}
	req, _ = http.NewRequestWithContext(ctx, "POST", base+"/in.php", body)
	if _, err := p.Transport().RoundTrip(req); err != context.Canceled || body.closed != 1 {
		t.Errorf("RoundTrip, cancelled = %v, body closed %d times; want context.Canceled, closed once", err, body.closed)
	}
	if got := p.Stats(DefaultKey).Accepted; got != 1 {
		t.Errorf("Stats.Accepted = %d, want 1", got)
	}
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }
