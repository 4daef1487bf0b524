package captchaaitest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchSubmit sends b.N in.php submits through rt to base; the solve time is
// zero, so every submit is accepted and frees its slot at once.
func benchSubmit(b *testing.B, rt http.RoundTripper, baseURL string) {
	b.ReportAllocs()
	form := recaptcha().Encode()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", baseURL+"/in.php", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func benchConfig() Config {
	return Config{
		Accounts:      []Account{{Key: DefaultKey, Slots: 1000, Balance: 1e9}},
		Methods:       map[string]Method{"userrecaptcha": fixed(0)},
		NoMaxUserTurn: true,
	}
}

func BenchmarkSubmitInMemory(b *testing.B) {
	p := New(benchConfig())
	defer p.Close()
	benchSubmit(b, p.Transport(), base)
}

func BenchmarkSubmitLoopback(b *testing.B) {
	srv := NewTestServer(b, benchConfig())
	benchSubmit(b, srv.Client().Transport, srv.URL)
}
