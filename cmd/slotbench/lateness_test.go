package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestLatenessStats(t *testing.T) {
	var l lateness
	if got := l.stats(); got != (latenessStats{}) {
		t.Errorf("stats of no sleep = %+v, want zero", got)
	}
	// 98 sleeps on time, one 100 ms late, one 3 s late.
	for range 98 {
		l.woke(time.Second, time.Second)
	}
	l.woke(time.Second, 1100*time.Millisecond)
	l.woke(time.Second, 4*time.Second)
	l.woke(time.Second, 0) // early counts as on time
	got := l.stats()
	if got.Sleeps != 101 || got.P50 != 0 || got.Max != 3 {
		t.Errorf("stats = %+v, want 101 sleeps, p50 0, max 3", got)
	}
	if want := 3.1 / 101; got.Mean < want-1e-9 || got.Mean > want+1e-9 {
		t.Errorf("stats mean = %v, want %v", got.Mean, want)
	}
	// The 99th of 101 is the 100 ms wake, read as its bucket's upper edge.
	if got.P99 < 0.1 || got.P99 > 0.1*1.19 {
		t.Errorf("stats p99 = %v, want 0.1 within 19%%", got.P99)
	}
}

// lateRun runs a short workload in a bubble, each sleep's wake delayed by
// delay of real time, and returns the results and the table.
func lateRun(t *testing.T, speed float64, delay time.Duration) ([]result, workload, string) {
	t.Helper()
	var results []result
	var table bytes.Buffer
	w := defaultWorkload()
	w.Speed, w.Duration, w.Slots, w.Workers = speed, 2*time.Minute, 5, 12
	w.timerDelay = delay
	synctest.Test(t, func(t *testing.T) {
		var err error
		results, err = runAll(context.Background(), w, mustPolicies(t, "guide-batch", "slotguard"), nil)
		if err != nil {
			t.Fatalf("runAll: %v", err)
		}
		if err := writeTable(&table, w, results); err != nil {
			t.Fatal(err)
		}
	})
	return results, w, table.String()
}

// TestLatenessOnTime: in virtual time every timer wakes on time, and the
// run says so without a warning.
func TestLatenessOnTime(t *testing.T) {
	results, w, table := lateRun(t, 1, 0)
	for _, r := range results {
		if l := r.TimerLateness; l.Sleeps == 0 || l.Max != 0 {
			t.Errorf("%s: timer lateness %+v, want sleeps all on time", r.Policy, l)
		}
	}
	if warn := latenessWarning(w, results); warn != "" || strings.Contains(table, "warning:") {
		t.Errorf("on-time timers warned %q; table:\n%s", warn, table)
	}
	if !strings.Contains(table, "(timers: sleeps woke late by mean 0s, p50 0s, p99 0s, max 0s of provider time") {
		t.Errorf("table has no timers line:\n%s", table)
	}
}

// TestLatenessLate makes every sleep wake late and wants the warning, in
// the table, the JSON and with a -speed that would fix it.
func TestLatenessLate(t *testing.T) {
	tests := []struct {
		speed     float64
		delay     time.Duration // real
		wantSpeed string
	}{
		// 250 ms of provider time late at x1: no speed can help but 1.
		{1, 250 * time.Millisecond, "-speed 1)"},
		// 2 ms real at x150 is 300 ms of provider time: x50 would wake
		// 100 ms late, half the 200 ms bar.
		{150, 2 * time.Millisecond, "-speed 50)"},
		// 4 ms real at x150 is 600 ms: x25 would wake 100 ms late; rounded
		// to x20.
		{150, 4 * time.Millisecond, "-speed 20)"},
	}
	for _, tt := range tests {
		results, w, table := lateRun(t, tt.speed, tt.delay)
		warn := latenessWarning(w, results)
		if !strings.Contains(warn, "timers woke late") || !strings.Contains(warn, tt.wantSpeed) {
			t.Errorf("x%g, wakes %v late (real): warning %q, want one suggesting %s", tt.speed, tt.delay, warn, tt.wantSpeed)
		}
		if !strings.Contains(table, warn) {
			t.Errorf("x%g: the table does not carry the warning:\n%s", tt.speed, table)
		}
		var js bytes.Buffer
		if err := writeJSON(&js, w, results); err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Results []struct {
				TimerLateness latenessStats `json:"timer_lateness"`
			} `json:"results"`
			Warning string `json:"warning"`
		}
		if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		late := (time.Duration(tt.speed) * tt.delay).Seconds()
		if l := rep.Results[0].TimerLateness; rep.Warning != warn || l.P50 < 0.99*late || l.Mean < 0.99*late {
			t.Errorf("x%g: json warning %q, guide-batch's lateness %+v; want the warning and at least %vs late", tt.speed, rep.Warning, l, late)
		}
	}
}

// TestLatenessUnderBar: wakes a little late, as on a quiet machine at x150
// (1 ms real, 150 ms of provider time, under the 200 ms bar), are reported
// but not warned about.
func TestLatenessUnderBar(t *testing.T) {
	results, w, table := lateRun(t, 150, time.Millisecond)
	if warn := latenessWarning(w, results); warn != "" || strings.Contains(table, "warning:") {
		t.Errorf("wakes 150ms late (provider time) warned %q; table:\n%s", warn, table)
	}
	if !strings.Contains(table, "(timers: sleeps woke late by mean 150ms") {
		t.Errorf("table does not report the lateness:\n%s", table)
	}
}

// TestLatenessArrivalsTable: under -arrivals the table has its own
// columns, and the same footer on the timers: late timers get the warning
// there too.
func TestLatenessArrivalsTable(t *testing.T) {
	w := defaultWorkload()
	w.Speed, w.Duration, w.Slots = 150, 2*time.Minute, 5
	w.Arrivals, w.Deadline = 0.5, time.Minute
	w.timerDelay = 2 * time.Millisecond // 300 ms of provider time, past the 200 ms bar
	var results []result
	var table bytes.Buffer
	synctest.Test(t, func(t *testing.T) {
		var err error
		if results, err = runAll(context.Background(), w, mustPolicies(t, "slotguard"), nil); err != nil {
			t.Fatalf("runAll: %v", err)
		}
		if err := writeTable(&table, w, results); err != nil {
			t.Fatal(err)
		}
	})
	warn := latenessWarning(w, results)
	if warn == "" || !strings.Contains(table.String(), warn) || !strings.Contains(table.String(), "(timers: sleeps woke late by mean ") {
		t.Errorf("-arrivals, wakes 300ms late: warning %q; the table does not carry it, or the timers line:\n%s", warn, table.String())
	}
}
