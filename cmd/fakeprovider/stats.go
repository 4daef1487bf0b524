package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// statsJSON is what /stats serves. The field names are part of the
// command's interface: scripts read them.
type statsJSON struct {
	TimeScale      float64                `json:"time_scale"`
	ElapsedSeconds float64                `json:"elapsed_seconds"` // provider time
	Accounts       map[string]accountJSON `json:"accounts"`        // by API key
}

// accountJSON is one account's captchaaitest.Stats, durations in seconds of
// provider time. Maps and lists are never null.
type accountJSON struct {
	Accepted           int            `json:"accepted"`
	Rejected           map[string]int `json:"rejected"`
	Bans               map[string]int `json:"bans"`
	Polls              int            `json:"polls"`
	MaxInFlight        int            `json:"max_in_flight"`
	Slots              int            `json:"slots"`
	Balance            float64        `json:"balance"`
	BusySlotSeconds    float64        `json:"busy_slot_seconds"`
	OfferedSlotSeconds float64        `json:"offered_slot_seconds"`
	UsedSlotSeconds    float64        `json:"used_slot_seconds"`
	Utilization        float64        `json:"utilization"`
	NoSlotPerMinute    []int          `json:"no_slot_per_minute"`
}

func toJSON(st captchaaitest.Stats) accountJSON {
	a := accountJSON{
		Accepted:           st.Accepted,
		Rejected:           st.Rejected,
		Bans:               st.Bans,
		Polls:              st.Polls,
		MaxInFlight:        st.MaxInFlight,
		Slots:              st.Slots,
		Balance:            st.Balance,
		BusySlotSeconds:    st.BusySlotTime.Seconds(),
		OfferedSlotSeconds: st.OfferedSlotTime.Seconds(),
		UsedSlotSeconds:    st.UsedSlotTime.Seconds(),
		Utilization:        st.Utilization(),
		NoSlotPerMinute:    st.NoSlotPerMinute,
	}
	if a.Rejected == nil {
		a.Rejected = map[string]int{}
	}
	if a.Bans == nil {
		a.Bans = map[string]int{}
	}
	if a.NoSlotPerMinute == nil {
		a.NoSlotPerMinute = []int{}
	}
	return a
}

// snapshot takes the accounting of every key at one moment.
func snapshot(p *captchaaitest.Provider, o *options) (statsJSON, map[string]captchaaitest.Stats) {
	s := statsJSON{TimeScale: o.cfg.TimeScale, Accounts: make(map[string]accountJSON)}
	raw := make(map[string]captchaaitest.Stats)
	for _, k := range o.keys {
		st := p.Stats(k)
		raw[k] = st
		s.Accounts[k] = toJSON(st)
		s.ElapsedSeconds = max(s.ElapsedSeconds, st.Elapsed.Seconds())
	}
	return s, raw
}

// statsHandler serves /stats: every account, or with ?key=K that account's
// object alone (404 for a key the provider does not have).
func statsHandler(p *captchaaitest.Provider, o *options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s, _ := snapshot(p, o)
		var v any = s
		if r.URL.Query().Has("key") {
			a, ok := s.Accounts[r.URL.Query().Get("key")]
			if !ok {
				http.Error(w, "404 no account with that key", http.StatusNotFound)
				return
			}
			v = a
		}
		b, _ := json.MarshalIndent(v, "", "  ") // plain structs: never fails
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
	})
}

// printAccounting writes the provider's accounting, one block per key, as
// the command prints it when it stops.
func printAccounting(w io.Writer, p *captchaaitest.Provider, o *options, real time.Duration) {
	_, raw := snapshot(p, o)
	var elapsed time.Duration
	for _, st := range raw {
		elapsed = max(elapsed, st.Elapsed)
	}
	fmt.Fprintf(w, "fakeprovider: %v of provider time (%v real, -time-scale %g)\n",
		elapsed.Round(time.Millisecond), real.Round(time.Millisecond), o.cfg.TimeScale)
	for _, k := range o.keys {
		st := raw[k]
		fmt.Fprintf(w, "key %s\n", k)
		fmt.Fprintf(w, "  accepted       %d (balance %.3f USD)\n", st.Accepted, st.Balance)
		fmt.Fprintf(w, "  rejected       %s\n", byCode(st.Rejected))
		fmt.Fprintf(w, "  bans           %s\n", byCode(st.Bans))
		fmt.Fprintf(w, "  polls          %d\n", st.Polls)
		fmt.Fprintf(w, "  max in flight  %d\n", st.MaxInFlight)
		fmt.Fprintf(w, "  utilization    %.1f%% (slots now: %d)\n", 100*st.Utilization(), st.Slots)
		fmt.Fprintf(w, "  NO_SLOT peak   %s\n", peakMinute(st.NoSlotPerMinute))
	}
}

// byCode formats counts by code: "12 (ERROR: 1001 2, ERROR_NO_SLOT_AVAILABLE 10)",
// codes sorted; "0" for none.
func byCode(m map[string]int) string {
	total := 0
	codes := make([]string, 0, len(m))
	for code, n := range m {
		total += n
		codes = append(codes, code)
	}
	if total == 0 {
		return "0"
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, code := range codes {
		parts[i] = fmt.Sprintf("%s %d", code, m[code])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// peakMinute formats the busiest minute of NoSlotPerMinute, against the 120
// a minute that starts ERROR: 1001. The whole series is in /stats.
func peakMinute(ns []int) string {
	peak, at := 0, 0
	for i, n := range ns {
		if n > peak {
			peak, at = n, i
		}
	}
	if peak == 0 {
		return "0"
	}
	return fmt.Sprintf("%d in minute %d (ERROR: 1001 at 120)", peak, at)
}
