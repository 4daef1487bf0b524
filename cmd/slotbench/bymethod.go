package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// The figures of one policy broken down by the in.php method of its tasks
// (-mix): one type's shortage shows in its own row, and whether it held
// the others shows in theirs.

// methodResult is one method's share of a policy's result.
type methodResult struct {
	Accepted       int            `json:"accepted"`          // submits accepted on the wire within the run
	AcceptedPerMin float64        `json:"accepted_per_min"`  // accepted per minute of the run
	Started        int            `json:"started"`           // tasks whose fate was decided within the run
	Lost           int            `json:"lost"`              // tasks given up
	ShareAccepted  float64        `json:"share_accepted"`    // (started - lost) / started
	LostBy         map[string]int `json:"lost_by"`           // by reason: a code, "circuit open", ...
	Attempts       int            `json:"attempts"`          // submit attempts on the wire
	AttemptsPerAcc float64        `json:"attempts_per_task"` // attempts / accepted
	NoSlot         int            `json:"no_slot"`           // NO_SLOT answers
	P50            float64        `json:"p50_s"`             // time to acceptance, seconds
	P99            float64        `json:"p99_s"`
	*OutageStats                  // under -type-outage: outage_kept, ...; nil (left out) otherwise
}

// methodWire is what the tap saw of one method's submits.
type methodWire struct {
	tries, noSlot, accepted int
	acceptedOut             int // of accepted, those sent within -type-outage's window
}

// methodRec is the workers' accounting of one method's tasks.
type methodRec struct {
	latency    []time.Duration
	lostBy     map[string]int
	lost       int
	arrivedOut int // tasks that arrived within -type-outage's window (-arrivals)
}

// recFor returns the accounting of method m; r.mu held.
func (r *recorder) recFor(m string) *methodRec {
	if r.byMethod == nil {
		r.byMethod = make(map[string]*methodRec)
	}
	mr, ok := r.byMethod[m]
	if !ok {
		mr = &methodRec{lostBy: make(map[string]int)}
		r.byMethod[m] = mr
	}
	return mr
}

// byMethod returns the result of each method of the mix, from the
// workers' records (r.mu held) and the tap's counts.
func (e *env) byMethod(r *recorder, wire map[string]methodWire) map[string]methodResult {
	out := make(map[string]methodResult)
	for _, m := range e.w.mixOf().methods() {
		mr := r.recFor(m)
		lat := slices.Clone(mr.latency)
		slices.Sort(lat)
		wm := wire[m]
		res := methodResult{
			Accepted:       wm.accepted,
			AcceptedPerMin: float64(wm.accepted) / e.w.Duration.Minutes(),
			Started:        len(lat) + mr.lost,
			Lost:           mr.lost,
			LostBy:         maps.Clone(mr.lostBy),
			Attempts:       wm.tries,
			NoSlot:         wm.noSlot,
			P50:            quantile(lat, 0.50).Seconds(),
			P99:            quantile(lat, 0.99).Seconds(),
			OutageStats:    e.w.outageStats(wm.accepted, wm.acceptedOut, mr.arrivedOut),
		}
		if wm.accepted > 0 {
			res.AttemptsPerAcc = float64(wm.tries) / float64(wm.accepted)
		}
		if res.Started > 0 {
			res.ShareAccepted = float64(len(lat)) / float64(res.Started)
		}
		out[m] = res
	}
	return out
}

// methodRows writes the rows of r's methods under its row, indented, in
// the table's columns: cells gives a method's cells after its name, each
// ended by a tab; nothing when the mix has one method.
func methodRows(tw io.Writer, width int, w workload, r result, cells func(methodResult) string) {
	ms := w.mixOf().methods()
	if len(ms) < 2 {
		return
	}
	for _, m := range ms {
		fmt.Fprintf(tw, "%-*s\t%s\n", width, "  "+m, cells(r.ByMethod[m]))
	}
}

// methodCells are a method's cells in the closed-loop table: the figures
// a method has, the others empty.
func methodCells(mr methodResult) string {
	return fmt.Sprintf("%.1f\t\t%.1f%%\t%s\t\t%s\t%.2f\t\t\t%d\t%s",
		mr.AcceptedPerMin, 100*mr.ShareAccepted, secs(mr.P50), secs(mr.P99), mr.AttemptsPerAcc, mr.Lost, mr.keptCell())
}

// methodsWidth is the width of the table's first column for the method
// rows of w.
func methodsWidth(w workload) int {
	width := 0
	if ms := w.mixOf().methods(); len(ms) > 1 {
		for _, m := range ms {
			width = max(width, len("  "+m))
		}
	}
	return width
}

// methodCSV returns the CSV rows of r's methods, in csvHeader's columns:
// the figures a method has, the others empty; none when the mix has one
// method.
func methodCSV(ms []string, r result) [][]string {
	if len(ms) < 2 {
		return nil
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var rows [][]string
	for _, m := range ms {
		mr := r.ByMethod[m]
		row := make([]string, len(csvHeader))
		row[0] = r.Policy
		row[1] = f(mr.AcceptedPerMin)
		row[3] = strconv.Itoa(mr.Accepted)
		row[4] = strconv.Itoa(mr.Started)
		row[5] = strconv.Itoa(mr.Lost)
		row[8], row[10] = f(mr.P50), f(mr.P99)
		row[11], row[12], row[13] = strconv.Itoa(mr.Attempts), f(mr.AttemptsPerAcc), strconv.Itoa(mr.NoSlot)
		row[len(row)-1] = m
		rows = append(rows, row)
	}
	return rows
}
