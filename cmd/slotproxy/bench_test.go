package main

import (
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotguard/slotguard"
)

// The proxy's added latency over loopback: the same request sent direct to
// a trivial upstream, and through slotproxy (in this process, on its own
// loopback listener) to it. Pacing, the in-flight bound and the ban budget
// are off, so the numbers are the proxy's and the chain's own cost, not a
// wait. Compare the direct and proxy lines of each pair:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./cmd/slotproxy

// benchUpstream answers a submit "OK|123" and a poll "CAPCHA_NOT_READY".
func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		if strings.HasSuffix(r.URL.Path, "/in.php") {
			io.WriteString(w, "OK|123")
			return
		}
		io.WriteString(w, "CAPCHA_NOT_READY")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchProxy serves slotproxy in front of upstream on loopback.
func benchProxy(b *testing.B, upstream string) string {
	u, _ := url.Parse(upstream)
	o := &options{
		upstream: u, maxRequest: 1 << 20, maxResponse: 1 << 20, maxQueued: 64 << 20, requestTimeout: time.Minute,
		cfg: slotguard.Config{
			Rate:        math.Inf(1),
			MaxInFlight: slotguard.Unlimited,
			Budget:      slotguard.BudgetConfig{NoSlotPerMinute: slotguard.Unlimited, SubmitsPer3s: slotguard.Unlimited},
		},
	}
	p, err := newProxy(o, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(p.handler(true))
	b.Cleanup(srv.Close)
	return srv.URL
}

var benchForm = recaptcha().Encode()

// send makes one request of kind ("poll" or "submit") to base.
func send(b *testing.B, c *http.Client, base, kind string) {
	var resp *http.Response
	var err error
	if kind == "submit" {
		resp, err = c.Post(base+"/in.php", "application/x-www-form-urlencoded", strings.NewReader(benchForm))
	} else {
		resp, err = c.Get(base + "/res.php?action=get&id=123&key=" + key)
	}
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func BenchmarkLoopback(b *testing.B) {
	up := benchUpstream(b)
	proxied := benchProxy(b, up.URL)
	for _, kind := range []string{"poll", "submit"} {
		for _, via := range []struct{ name, base string }{{"direct", up.URL}, {"proxy", proxied}} {
			b.Run(kind+"/"+via.name, func(b *testing.B) {
				c := benchClient(b)
				b.ReportAllocs()
				for b.Loop() {
					send(b, c, via.base, kind)
				}
			})
			b.Run(kind+"/"+via.name+"/parallel", func(b *testing.B) {
				c := benchClient(b)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						send(b, c, via.base, kind)
					}
				})
			})
		}
	}
}
