package slotguard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// cutServer is a loopback provider that answers every request with the
// headers of answer and only its first cut bytes, then drops the
// connection: announced by Content-Length, or chunked without the last
// chunk. It counts the requests it saw.
func cutServer(t *testing.T, answer string, cut int, chunked bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	seen := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen.Add(1)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if chunked {
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", cut, answer[:cut])
		} else {
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer[:cut])
		}
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

// sendAndRead sends req and reads the whole answer, returning the bytes that
// came and the first error, from RoundTrip or from reading the body.
func sendAndRead(rt http.RoundTripper, req *http.Request) (string, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, bufio.NewReader(resp.Body))
	return b.String(), err
}

// TestCutAnswer: an answer whose connection drops before Content-Length or
// the last chunk reaches the caller as it does through a bare
// http.Transport: the bytes that came, then an error. slotguard neither
// counts it accepted (the id may be cut: OK|7346 for OK|73461298130) nor
// retries it (the provider may have billed the task), in every dialect
// (issue 11: such an answer passed for a complete one).
func TestCutAnswer(t *testing.T) {
	dialects := []struct{ name, path, body, answer string }{
		{"text", "/in.php", "key=" + testKey + "&method=post", "OK|73461298130"},
		{"json", "/in.php", "key=" + testKey + "&method=post&json=1", `{"status":1,"request":"73461298130"}`},
		{"createTask", "/createTask", `{"clientKey":"` + testKey + `","task":{"type":"ImageToTextTask"}}`, `{"errorId":0,"taskId":73461298130}`},
		{"NO_SLOT", "/in.php", "key=" + testKey + "&method=post", CodeNoSlot},
	}
	for _, d := range dialects {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", d.name, chunked), func(t *testing.T) {
				cut := len(d.answer) / 2
				srv, seen := cutServer(t, d.answer, cut, chunked)
				send := func(rt http.RoundTripper) (string, error) {
					req, _ := http.NewRequest("POST", srv.URL+d.path, strings.NewReader(d.body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return sendAndRead(rt, req)
				}
				bare := &http.Transport{}
				defer bare.CloseIdleConnections()
				wantBody, wantErr := send(bare)
				if wantErr == nil || wantBody != d.answer[:cut] {
					t.Fatalf("bare http.Transport: %q, %v; want %q and an error", wantBody, wantErr, d.answer[:cut])
				}
				seen.Store(0)
				tr := mustNew(t, bare, Config{})
				got, err := send(tr)
				if got != wantBody || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("through slotguard: %q, %v; want %q, %v", got, err, wantBody, wantErr)
				}
				if errors.Is(err, ErrNotSent) {
					t.Errorf("err = %v matches ErrNotSent, but the submit was sent", err)
				}
				st := tr.Stats()
				if seen.Load() != 1 || st.Attempts != 1 || st.Accepted != 0 || st.Answers[codeUnreadable] != 1 {
					t.Errorf("provider saw %d submits; Stats: %d attempts, %d accepted, answers %v; want 1, 1, 0, unreadable 1",
						seen.Load(), st.Attempts, st.Accepted, st.Answers)
				}
			})
		}
	}
}

// TestResponseIntact: answers of every size come back byte for byte, with
// the status and headers the provider sent.
func TestResponseIntact(t *testing.T) {
	for _, size := range []int{0, 5, inlineAnswer, inlineAnswer + 1, peekLimit, peekLimit + 1, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := make([]byte, size)
			for i := range body {
				body[i] = byte('a' + i%26)
			}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Test", "yes")
				w.WriteHeader(201)
				w.Write(body)
			})
			tr := mustNew(t, memRT{h}, noPacing)
			resp, err := tr.RoundTrip(submitReq(t))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, resp)
			if got != string(body) || resp.StatusCode != 201 || resp.Header.Get("X-Test") != "yes" {
				t.Errorf("got %d bytes, status %d, X-Test %q; want %d bytes, 201, yes", len(got), resp.StatusCode, resp.Header.Get("X-Test"), size)
			}
			if st := tr.Stats(); st.InFlight != 0 {
				t.Errorf("InFlight after Close = %d, want 0", st.InFlight)
			}
		})
	}
}

// TestGzipAnswer: a gzip answer the caller asked to see encoded is read
// decoded and handed back encoded; a bomb is read no further than the bound.
func TestGzipAnswer(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	noSlot := gz([]byte(CodeNoSlot))
	bomb := gz(make([]byte, 64<<20))
	for _, tt := range []struct {
		name     string
		body     []byte
		attempts int
	}{
		{"NO_SLOT", noSlot, 2},
		{"bomb", bomb, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n++
					if n > 1 {
						io.WriteString(w, "OK|1")
						return
					}
					w.Header().Set("Content-Encoding", "gzip")
					w.Write(tt.body)
				})
				tr := mustNew(t, memRT{h}, noPacing)
				resp, err := tr.RoundTrip(submitReq(t))
				if err != nil {
					t.Fatal(err)
				}
				got := readAll(t, resp)
				if n != tt.attempts {
					t.Errorf("attempts = %d, want %d", n, tt.attempts)
				}
				if tt.attempts == 1 && got != string(tt.body) {
					t.Errorf("handed back %d bytes, want the %d encoded bytes", len(got), len(tt.body))
				}
			})
		})
	}
}
