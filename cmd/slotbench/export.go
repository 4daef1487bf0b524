package main

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
)

// The results for machines: -json and -csv.

// MarshalJSON writes the durations as Go durations ("10m0s").
func (w workload) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Slots     int     `json:"slots"`
		Workers   int     `json:"workers"`
		SolveMin  string  `json:"solve_min"`
		SolveMax  string  `json:"solve_max"`
		Duration  string  `json:"duration"`
		Speed     float64 `json:"speed"`
		Seed      uint64  `json:"seed"`
		Bans      bool    `json:"bans"`
		Hour      int     `json:"hour"`
		FirstPoll string  `json:"first_poll"`
		PollEvery string  `json:"poll_every"`
		Pause     string  `json:"pause"`
		Collapse  int     `json:"collapse"`
		Fleet     int     `json:"fleet"`
		Bypass    string  `json:"bypass"`
		Mix       string  `json:"mix"`
		Outage    string  `json:"type_outage"`
		Arrivals  float64 `json:"arrivals,omitempty"`
		Deadline  string  `json:"deadline,omitempty"`
	}{w.Slots, w.Workers, w.SolveMin.String(), w.SolveMax.String(), w.Duration.String(), w.Speed, w.Seed,
		w.Bans, w.Hour, w.FirstPoll.String(), w.PollEvery.String(), w.Pause.String(), w.Collapse, w.Fleet, w.Bypass,
		w.mixOf().String(), w.TypeOutage, w.Arrivals, deadlineJSON(w)})
}

// report is the -json document.
type report struct {
	Workload workload `json:"workload"`
	Results  []result `json:"results"`
	Verdict  string   `json:"verdict"`
	Warning  string   `json:"warning,omitempty"` // timers woke late enough to move the figures (lateness.go)
}

func writeJSON(out io.Writer, w workload, results []result) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(report{w, results, verdict(results), latenessWarning(w, results)})
}

var csvHeader = []string{"policy", "accepted_per_min", "utilization", "accepted", "started", "lost", "cut_off",
	"share_accepted", "p50_s", "p95_s", "p99_s", "attempts", "attempts_per_task", "no_slot",
	"peak_no_slot_per_min", "bans", "bans_1001", "polls", "method"}

// writeCSV writes a row per policy, its method "", and with a -mix of
// several methods a row per method after it.
func writeCSV(out io.Writer, w workload, results []result) error {
	cw := csv.NewWriter(out)
	cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range results {
		cw.Write([]string{r.Policy, f(r.AcceptedPerMin), f(r.Utilization), strconv.Itoa(r.Accepted),
			strconv.Itoa(r.Started), strconv.Itoa(r.Lost), strconv.Itoa(r.CutOff), f(r.ShareAccepted),
			f(r.P50), f(r.P95), f(r.P99), strconv.Itoa(r.Attempts), f(r.AttemptsPerAcc), strconv.Itoa(r.NoSlot),
			strconv.Itoa(r.PeakNoSlot), strconv.Itoa(r.Bans), strconv.Itoa(r.BansBy["ERROR: 1001"]), strconv.Itoa(r.Polls), ""})
		for _, row := range methodCSV(w.mixOf().methods(), r) {
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}
