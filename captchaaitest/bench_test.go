package captchaaitest

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
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

// BenchmarkLongRun drives the steady client of TestMemoryFlat, one request
// an iteration, and reports the heap the provider still holds at the end:
// retained-kB stays flat however long the run (-benchtime=1000000x for a
// million requests), so retained-B/op falls as the run grows. A benchmark
// cannot run in a synctest bubble, so provider time is real time run
// 100,000 times faster: a round of about 14 requests lasts some seconds of
// provider time, and a million requests some days.
func BenchmarkLongRun(b *testing.B) {
	for _, bc := range []struct {
		name string
		off  bool
	}{
		{"penalties on", false},
		{"penalties off", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cfg := steadyConfig(bc.off)
			cfg.TimeScale = 1e5
			start := heapAlloc()
			p := New(cfg)
			defer p.Close()
			c := &steady{rt: p.Transport()}
			for b.Loop() {
				c.next(b)
			}
			retained := float64(heapAlloc()) - float64(start)
			runtime.KeepAlive(p)
			b.ReportMetric(retained/float64(b.N), "retained-B/op")
			b.ReportMetric(retained/1e3, "retained-kB")
			b.ReportMetric(float64(p.Stats(DefaultKey).Elapsed)/float64(time.Hour), "provider-hours")
		})
	}
}

// heapAlloc returns the bytes of live heap objects after a garbage collection.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
