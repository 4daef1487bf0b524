package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// NO_SLOT is per captcha type (issue 14): -mix sends tasks of several in.php
// methods through one key, and -type-outage empties one type's worker pool
// at the provider, so that the table shows whether one type's shortage holds
// the others.

// defaultMix is today's single type: every task a reCAPTCHA.
const defaultMix = method + "=1"

// share is one method of a mix and the share of tasks it gets.
type share struct {
	method string
	p      float64
}

// mix is the parsed -mix: the shares of the tasks per in.php method, in the
// order given, summing to 1.
type mix []share

// mixSumSlack is how far from 1 the shares may sum: decimal shares such as
// 0.1 x 10 do not sum to 1 exactly in floating point.
const mixSumSlack = 1e-9

// parseMix parses -mix: method=share pairs separated by commas, each method
// one the fake provider knows (captchaaitest.DefaultMethods) and given once,
// each share in (0, 1], the shares summing to 1.
func parseMix(s string) (mix, error) {
	known := captchaaitest.DefaultMethods()
	var m mix
	var sum float64
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			return nil, usageError("-mix %q: %q is not method=share", s, part)
		case name == "":
			return nil, usageError("-mix %q: empty method name in %q", s, part)
		}
		if _, ok := known[name]; !ok {
			return nil, usageError("-mix %q: unknown method %q (known: %s)", s, name, strings.Join(knownMethods(), ", "))
		}
		if slices.ContainsFunc(m, func(sh share) bool { return sh.method == name }) {
			return nil, usageError("-mix %q: method %q twice", s, name)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p > 1 {
			return nil, usageError("-mix %q: share %q of %s: must be a number in (0, 1]", s, val, name)
		}
		m = append(m, share{name, p})
		sum += p
	}
	if math.Abs(sum-1) > mixSumSlack {
		return nil, usageError("-mix %q: the shares sum to %v, want 1", s, sum)
	}
	return m, nil
}

// knownMethods returns the methods -mix accepts, sorted.
func knownMethods() []string {
	var names []string
	for name := range captchaaitest.DefaultMethods() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// String is the mix as -mix takes it.
func (m mix) String() string {
	parts := make([]string, len(m))
	for i, sh := range m {
		parts[i] = sh.method + "=" + strconv.FormatFloat(sh.p, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// methods returns the mix's methods in order.
func (m mix) methods() []string {
	names := make([]string, len(m))
	for i, sh := range m {
		names[i] = sh.method
	}
	return names
}

// draw picks a method for u uniform in [0, 1): the first whose cumulative
// share passes u, the last one if rounding leaves u past them all.
func (m mix) draw(u float64) string {
	var acc float64
	for _, sh := range m {
		acc += sh.p
		if u < acc {
			return sh.method
		}
	}
	return m[len(m)-1].method
}

// mixOf returns w's mix; w.check has validated it.
func (w workload) mixOf() mix {
	m, err := parseMix(cmp.Or(w.Mix, defaultMix))
	if err != nil {
		panic("slotbench: unchecked -mix: " + err.Error())
	}
	return m
}

// drawer returns worker i's draws of methods: seeded by the run's seed and
// the worker, so each worker's sequence of tasks is the same from run to
// run and from policy to policy, whatever order the workers run in.
func (w workload) drawer(i int) func() string {
	m := w.mixOf()
	r := rand.New(rand.NewPCG(w.Seed, 0x3c6ef372fe94f82b+uint64(i)))
	return func() string { return m.draw(r.Float64()) }
}

// outageType returns the captcha type (captchaaitest.PoolOf) that
// -type-outage names, a method or a type, and whether a method of the mix
// is of that type.
func (w workload) outageType() (typ string, inMix bool) {
	typ = captchaaitest.PoolOf(w.TypeOutage)
	return typ, slices.ContainsFunc(w.mixOf(), func(sh share) bool { return captchaaitest.PoolOf(sh.method) == typ })
}

// pools returns the provider's worker pool of the -type-outage type: as
// many workers as the account has slots (never the bound) but none within
// outageWindow, the window the run's outage figures count in; nil without
// -type-outage.
func (w workload) pools() map[string]captchaaitest.Pool {
	if w.TypeOutage == "" {
		return nil
	}
	typ, _ := w.outageType()
	win := w.outageWindow()
	return map[string]captchaaitest.Pool{typ: {
		Workers:  w.Slots,
		Capacity: []captchaaitest.Step{{At: win[0], Slots: 0}, {At: win[1], Slots: w.Slots}},
	}}
}

// OutageStats are a run's goodput through -type-outage's window against
// the rest of the run, as the provider accepted the submits: in one run,
// what one type's outage costs the others (their method rows' kept) and
// what it costs the type itself. The rest of the run includes its start,
// when the adaptive and thread policies are still learning.
type OutageStats struct {
	DuringPerMin  float64 `json:"outage_during_per_min"`  // accepted/min while the type's workers are out
	OutsidePerMin float64 `json:"outage_outside_per_min"` // accepted/min in the rest of the run
	Kept          float64 `json:"outage_kept"`            // DuringPerMin / OutsidePerMin; 0 when none was accepted outside
	// ArrivedPerMin is, under -arrivals, the demand DuringPerMin answers:
	// tasks that arrived per minute while the type's workers are out. It
	// is the fairer bar there, as Poisson arrivals move from one part of a
	// run to another by a few percent.
	ArrivedPerMin float64 `json:"outage_arrived_per_min,omitempty"`
}

// outageWindow returns -type-outage's window, [from, to) of provider time;
// an empty one without the flag.
func (w workload) outageWindow() [2]time.Duration {
	if w.TypeOutage == "" {
		return [2]time.Duration{}
	}
	from, to := w.collapse()
	return [2]time.Duration{from, to}
}

// outageStats returns the outage figures of accepted submits, during of
// them within the window, and of arrived tasks within it (-arrivals); nil
// without -type-outage.
func (w workload) outageStats(accepted, during, arrived int) *OutageStats {
	win := w.outageWindow()
	if win[1] == 0 {
		return nil
	}
	in, out := (win[1] - win[0]).Minutes(), (w.Duration - (win[1] - win[0])).Minutes()
	s := &OutageStats{DuringPerMin: float64(during) / in, OutsidePerMin: float64(accepted-during) / out, ArrivedPerMin: float64(arrived) / in}
	if s.OutsidePerMin > 0 {
		s.Kept = s.DuringPerMin / s.OutsidePerMin
	}
	return s
}

// outageHead is the table's last column head under -type-outage, with
// its tab; "" without.
func outageHead(w workload) string {
	if w.TypeOutage == "" {
		return ""
	}
	return "outage kept\t"
}

// keptCell is the outage kept cell of r's row, with its spread and its
// tab; "" without -type-outage.
func (r result) keptCell() string {
	if r.OutageStats == nil {
		return ""
	}
	return r.pm(r.keptPercent(), "outage_kept", 100, 0) + "\t"
}

// keptCell is the outage kept cell of a method's row, with its tab; ""
// without -type-outage.
func (mr methodResult) keptCell() string {
	if mr.OutageStats == nil {
		return ""
	}
	return mr.keptPercent() + "\t"
}

func (o *OutageStats) keptPercent() string { return fmt.Sprintf("%.0f%%", 100*o.Kept) }

// outageNote is the table's line on the outage kept column; "" without
// -type-outage.
func outageNote(w workload) string {
	if w.TypeOutage == "" {
		return ""
	}
	typ, _ := w.outageType()
	win := w.outageWindow()
	return fmt.Sprintf("(outage kept: accepted/min while the %s workers are out, %v to %v, as a share of accepted/min in the rest of the run, the provider's count; a method's row: that method's tasks)", typ, win[0], win[1])
}

// methodsOf returns the provider's methods for w's mix: reCAPTCHA solves in
// -solve-min to -solve-max, as without -mix; the other methods in the fake's
// own times (captchaaitest.DefaultMethods: images 2-8 s, ...).
func (w workload) methodsOf() map[string]captchaaitest.Method {
	def := captchaaitest.DefaultMethods()
	ms := make(map[string]captchaaitest.Method)
	for _, name := range w.mixOf().methods() {
		ms[name] = def[name]
	}
	ms[method] = captchaaitest.Method{MinSolve: w.SolveMin, MaxSolve: w.SolveMax, Price: 0.003}
	return ms
}

// methodKey is the context key of a task's method. The worker puts the
// method it drew in the submit's context: every policy's loop then builds
// that task's request without knowing of mixes, and the tap, which sees the
// attempts slotguard retries inside RoundTrip (same context), counts them
// by method.
type methodKey struct{}

func withMethod(ctx context.Context, m string) context.Context {
	return context.WithValue(ctx, methodKey{}, m)
}

// methodOf returns the method of the task submitted under ctx.
func methodOf(ctx context.Context) string {
	if m, ok := ctx.Value(methodKey{}).(string); ok {
		return m
	}
	return method
}

// image is the upload of the image methods: the provider only checks its
// size (100 bytes to 100 kB).
var image = bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 64)

// submitRequest is one in.php submit of a task of ctx's method, as the
// guides send it: a form POST with json=1, multipart for post. Its body
// replays through GetBody.
func submitRequest(ctx context.Context) (*http.Request, error) {
	m := methodOf(ctx)
	if m == "post" {
		return postRequest(ctx)
	}
	form := url.Values{"key": {key}, "method": {m}, "json": {"1"}}
	switch m {
	case "base64":
		form.Set("body", base64.StdEncoding.EncodeToString(image))
	case "userrecaptcha":
		form.Set("googlekey", "6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-")
	case "funcaptcha":
		form.Set("publickey", "69A21A01-CC7B-B9C6-0F9A-E7FA06677FFC")
	case "geetest":
		form.Set("gt", "f1ab2cdefa3456789012345b6c78d90e")
		form.Set("challenge", "12345678abc90123d45678ef90123a456b")
	default: // hcaptcha, turnstile
		form.Set("sitekey", "10000000-ffff-ffff-ffff-000000000001")
	}
	if m != "base64" {
		form.Set("pageurl", "https://example.com/login")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/in.php", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// postRequest is an image upload: multipart, the image in field "file".
func postRequest(ctx context.Context) (*http.Request, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range [][2]string{{"key", key}, {"method", "post"}, {"json", "1"}} {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	fw, err := mw.CreateFormFile("file", "captcha.png")
	if err != nil {
		return nil, err
	}
	fw.Write(image)
	if err := mw.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/in.php", bytes.NewReader(b.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req, nil
}

// describeMix is the heading's part for the mix and the outage; "" for
// today's single type.
func describeMix(w workload) string {
	var b strings.Builder
	if m := w.mixOf(); len(m) > 1 || m[0].method != method {
		parts := make([]string, len(m))
		for i, sh := range m {
			parts[i] = fmt.Sprintf("%s %.4g%%", sh.method, 100*sh.p)
		}
		fmt.Fprintf(&b, ", mix %s", strings.Join(parts, " "))
	}
	if w.TypeOutage != "" {
		typ, _ := w.outageType()
		win := w.outageWindow()
		fmt.Fprintf(&b, ", %s workers out from %v to %v", typ, win[0], win[1])
	}
	return b.String()
}

// checkMix tells whether -mix and -type-outage are valid, naming the flag.
func (w workload) checkMix() error {
	if _, err := parseMix(cmp.Or(w.Mix, defaultMix)); err != nil {
		return err
	}
	if w.TypeOutage == "" {
		return nil
	}
	if typ, ok := w.outageType(); !ok {
		return usageError("-type-outage %q: type %q has no method in -mix (%s)", w.TypeOutage, typ, w.mixOf())
	}
	return nil
}
