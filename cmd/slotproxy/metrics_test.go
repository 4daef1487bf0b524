package main

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// /metrics serves promguard's slotguard_* series, thread permits included
// with -threads, beside the proxy's own, each family once, and passes
// Prometheus's lint.
func TestMetricsThreads(t *testing.T) {
	srv := fakeProvider(t, nil)
	p := guarded(t, srv, "-threads", "-threads-plan", "2")
	c := client(t)

	if _, got := postForm(t, c, p.URL+"/in.php", recaptcha()); got != "OK|1" {
		t.Fatalf("submit answered %q, want OK|1", got)
	}
	_, m := get(t, c, p.URL+"/metrics")
	for _, want := range []string{
		"slotguard_submits_total 1", "slotguard_accepted_total 1",
		"slotguard_thread_permits_held 1", "slotguard_thread_tasks 1", "slotguard_thread_capacity 2",
		"slotguard_thread_waiters 0", `slotguard_thread_releases_total{reason="not_accepted"} 0`,
		`slotguard_wait_seconds_total{cause="thread"} `,
		`slotproxy_requests_total{code="200",endpoint="in.php"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(m, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if seen[name] {
				t.Errorf("/metrics has %s twice", name)
			}
			seen[name] = true
		}
	}
	problems, err := promlint.New(strings.NewReader(m)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
	}
}
