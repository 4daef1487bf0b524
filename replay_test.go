package slotguard

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
)

// TestBodyReplay: every attempt carries the same bytes, through GetBody,
// through the one-time buffer, and for a multipart image upload.
func TestBodyReplay(t *testing.T) {
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("key", testKey)
	w.WriteField("method", "post")
	fw, _ := w.CreateFormFile("file", "captcha.png")
	img := make([]byte, 40<<10)
	for i := range img {
		img[i] = byte(i * 7)
	}
	fw.Write(img)
	w.Close()

	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"GetBody", func() io.Reader { return bytes.NewReader(mp.Bytes()) }},
		{"no GetBody", func() io.Reader { return io.MultiReader(bytes.NewReader(mp.Bytes())) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := answers(CodeNoSlot, CodeNoSlot, "OK|1")
				tr := mustNew(t, memRT{s}, Config{})
				req, _ := http.NewRequest("POST", "http://provider.test/in.php", tt.body())
				req.Header.Set("Content-Type", w.FormDataContentType())
				orig := req.Body
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if req.Body != orig {
					t.Error("RoundTrip replaced the caller's req.Body")
				}
				if len(s.bodies) != 3 {
					t.Fatalf("attempts = %d, want 3", len(s.bodies))
				}
				for i, b := range s.bodies {
					if !bytes.Equal(b, mp.Bytes()) {
						t.Errorf("attempt %d sent %d bytes that differ from the %d of the request", i+1, len(b), mp.Len())
					}
				}
			})
		})
	}
}

// TestBodyOverCapSentOnce: a body larger than MaxReplayBody without GetBody
// is sent whole, once, and not retried.
func TestBodyOverCapSentOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := answers(CodeNoSlot, "OK|1")
		tr := mustNew(t, memRT{s}, Config{MaxReplayBody: 10})
		payload := strings.Repeat("x", 100)
		req, _ := http.NewRequest("POST", "http://provider.test/in.php", io.MultiReader(strings.NewReader(payload)))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != CodeNoSlot || s.hits() != 1 || string(s.bodies[0]) != payload {
			t.Errorf("got %q after %d attempts (body %d bytes), want NO_SLOT after 1 with 100 bytes", got, s.hits(), len(s.bodies[0]))
		}
	})
}
