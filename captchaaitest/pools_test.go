package captchaaitest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// submitAs is a valid in.php submit (GET) of method on key: an image for
// post and base64, a site key and page for the rest.
func submitAs(t *testing.T, p *Provider, key, method string) string {
	t.Helper()
	v := url.Values{"key": {key}, "method": {method}}
	switch method {
	case "post":
		ctype, body := multipartBody(t, v, make([]byte, 100))
		req, err := http.NewRequest("POST", base+"/in.php", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		_, got := roundTrip(t, p.Transport(), req)
		return got
	case "base64":
		v.Set("body", base64.StdEncoding.EncodeToString(make([]byte, 100)))
	default:
		v.Set("googlekey", "6Le-site")
		v.Set("sitekey", "site")
		v.Set("pageurl", "https://example.com/")
	}
	return get(t, p.Transport(), base, "/in.php", v)
}

// createTaskAs is a createTask of the given task type on DefaultKey.
func createTaskAs(t *testing.T, p *Provider, typ string) string {
	t.Helper()
	body := fmt.Sprintf(`{"clientKey":%q,"task":{"type":%q,"websiteURL":"https://example.com/","websiteKey":"k","body":%q}}`,
		DefaultKey, typ, base64.StdEncoding.EncodeToString(make([]byte, 100)))
	return postJSON(t, p.Transport(), base, "/createTask", body)
}

// checkByType compares DefaultKey's Stats.ByType with want.
func checkByType(t *testing.T, p *Provider, want map[string]TypeStats) {
	t.Helper()
	if diff := cmp.Diff(want, p.Stats(DefaultKey).ByType); diff != "" {
		t.Errorf("Stats.ByType mismatch (-want +got):\n%s", diff)
	}
}

// submitSeq sends in.php submits of the given methods on DefaultKey, in
// order, and checks their answers.
func submitSeq(t *testing.T, p *Provider, steps []methodAnswer) {
	t.Helper()
	for i, s := range steps {
		if got := submitAs(t, p, DefaultKey, s.method); got != s.want {
			t.Errorf("submit #%d %s = %q, want %q", i+1, s.method, got, s.want)
		}
	}
}

type methodAnswer struct{ method, want string }

const (
	v2NoSlot = `{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"No idle workers are available at the moment."}`
	noSlot   = "ERROR_NO_SLOT_AVAILABLE"
)

// TestPoolOutage empties the recaptcha pool: userrecaptcha submits get
// NO_SLOT, while image submits on the same key, with free threads, are
// accepted, in both APIs.
func TestPoolOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Pools: map[string]Pool{"recaptcha": {Workers: 0}}})
		defer p.Close()
		submitSeq(t, p, []methodAnswer{
			{"userrecaptcha", noSlot},
			{"post", "OK|1"},
			{"userrecaptcha", noSlot},
			{"base64", "OK|2"},
			{"hcaptcha", "OK|3"}, // no pool: only the account's threads
		})
		if got := createTaskAs(t, p, "RecaptchaV2TaskProxyless"); got != v2NoSlot {
			t.Errorf("createTask RecaptchaV2TaskProxyless = %s, want %s", got, v2NoSlot)
		}
		if got, want := createTaskAs(t, p, "ImageToTextTask"), `{"errorId":0,"taskId":4}`; got != want {
			t.Errorf("createTask ImageToTextTask = %s, want %s", got, want)
		}
		st := p.Stats(DefaultKey)
		want := map[string]TypeStats{
			"recaptcha": {NoSlot: 3, PoolNoSlot: 3},
			"image":     {Accepted: 3},
			"hcaptcha":  {Accepted: 1},
		}
		checkByType(t, p, want)
		// Counted as any NO_SLOT: in Rejected and in the minute's series,
		// which feed the bans.
		if st.Accepted != 4 || st.Rejected[codeNoSlot] != 3 || st.NoSlotPerMinute[0] != 3 {
			t.Errorf("Stats = accepted %d, NO_SLOT %d, per minute %v; want 4, 3, [3]",
				st.Accepted, st.Rejected[codeNoSlot], st.NoSlotPerMinute)
		}
	})
}

// TestPoolDrop drops the recaptcha pool from 4 workers to 1 at 10 s and
// brings it back to 4 at 20 s, as TestCapacityDrop does an account's
// threads. The account has 10 threads throughout: image submits go through
// while recaptcha ones are refused.
func TestPoolDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 10}},
			Methods:  map[string]Method{"userrecaptcha": fixed(15 * time.Second), "post": fixed(time.Second)},
			Pools: map[string]Pool{"recaptcha": {Workers: 4, Capacity: []Step{
				{At: 10 * time.Second, Slots: 1},
				{At: 20 * time.Second, Slots: 4},
			}}},
		})
		defer p.Close()
		start := time.Now()
		steps := []struct {
			at   time.Duration
			want []string // userrecaptcha submit answers in order
			post string   // then a post submit's answer
		}{
			{0, []string{"OK|1", "OK|2", "OK|3"}, "OK|4"},
			{10*time.Second - time.Nanosecond, []string{"OK|5", noSlot}, "OK|6"},
			{10 * time.Second, []string{noSlot}, "OK|7"},                 // 4 in progress, 1 worker
			{15*time.Second - time.Nanosecond, []string{noSlot}, "OK|8"}, // 4 in progress
			{15 * time.Second, []string{noSlot}, "OK|9"},                 // task 5 still holds the one worker
			{20*time.Second - time.Nanosecond, []string{noSlot}, "OK|10"},
			{20 * time.Second, []string{"OK|11", "OK|12", "OK|13", noSlot}, "OK|14"},
		}
		for _, s := range steps {
			time.Sleep(s.at - time.Since(start))
			if got := time.Since(start); got != s.at {
				t.Fatalf("time.Since(start) = %v, want %v", got, s.at)
			}
			if s.at == 10*time.Second {
				// Accepted before the drop: still running, not killed.
				if got, want := poll(t, p, "1"), "CAPCHA_NOT_READY"; got != want {
					t.Errorf("poll(1) at 10s = %q, want %q", got, want)
				}
			}
			for i, want := range s.want {
				if got := submitAs(t, p, DefaultKey, "userrecaptcha"); got != want {
					t.Errorf("userrecaptcha submit #%d at %v = %q, want %q", i+1, s.at, got, want)
				}
			}
			if got := submitAs(t, p, DefaultKey, "post"); got != s.post {
				t.Errorf("post submit at %v = %q, want %q", s.at, got, s.post)
			}
		}
		want := map[string]TypeStats{
			"recaptcha": {Accepted: 7, NoSlot: 6, PoolNoSlot: 6},
			"image":     {Accepted: 7},
		}
		checkByType(t, p, want)
	})
}

// TestPoolAcrossAccounts checks that a pool's workers are the provider's,
// shared by every key, and that the account's own threads are checked
// first: a NO_SLOT for want of a thread is not the pool's.
func TestPoolAcrossAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		other := strings.Repeat("b", 32)
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 1}, {Key: other, Slots: 5}},
			Methods:  map[string]Method{"hcaptcha": fixed(10 * time.Second)},
			Pools:    map[string]Pool{"hcaptcha": {Workers: 2}},
		})
		defer p.Close()
		steps := []struct{ key, want string }{
			{DefaultKey, "OK|1"},
			{DefaultKey, noSlot}, // its one thread is busy
			{other, "OK|2"},
			{other, noSlot}, // the pool's two workers are busy
		}
		for i, s := range steps {
			if got := submitAs(t, p, s.key, "hcaptcha"); got != s.want {
				t.Errorf("submit #%d = %q, want %q", i+1, got, s.want)
			}
		}
		time.Sleep(10 * time.Second)
		if got, want := submitAs(t, p, other, "hcaptcha"), "OK|3"; got != want {
			t.Errorf("submit at 10s = %q, want %q", got, want)
		}
		for key, want := range map[string]TypeStats{
			DefaultKey: {Accepted: 1, NoSlot: 1},
			other:      {Accepted: 2, NoSlot: 1, PoolNoSlot: 1},
		} {
			if got := p.Stats(key).ByType["hcaptcha"]; got != want {
				t.Errorf("Stats(%.4s...).ByType[hcaptcha] = %+v, want %+v", key, got, want)
			}
		}
	})
}

func TestPoolOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"post", "image"},
		{"base64", "image"},
		{"ImageToTextTask", "image"},
		{"userrecaptcha", "recaptcha"},
		{"RecaptchaV2Task", "recaptcha"},
		{"RecaptchaV2TaskProxyless", "recaptcha"},
		{"RecaptchaV3TaskProxyless", "recaptcha"},
		{"RecaptchaV2EnterpriseTask", "recaptcha"},
		{"hcaptcha", "hcaptcha"},
		{"HCaptchaTaskProxyless", "hcaptcha"},
		{"funcaptcha", "funcaptcha"},
		{"FunCaptchaTask", "funcaptcha"},
		{"turnstile", "turnstile"},
		{"TurnstileTask", "turnstile"},
		{"geetest", "geetest"},
		{"GeeTestTaskProxyless", "geetest"},
		{"mymethod", "mymethod"},
		{"recaptcha", "recaptcha"}, // a type is its own type
		{"", ""},
	}
	for _, tt := range tests {
		if got := PoolOf(tt.name); got != tt.want {
			t.Errorf("PoolOf(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPoolCreateTask checks that each createTask type draws on the pool of
// its in.php method: the method takes the one worker, the task type is
// refused, and a task of another type is accepted.
func TestPoolCreateTask(t *testing.T) {
	tests := []struct{ method, task, other string }{
		{"post", "ImageToTextTask", "TurnstileTask"},
		{"userrecaptcha", "RecaptchaV2TaskProxyless", "ImageToTextTask"},
		{"userrecaptcha", "RecaptchaV3TaskProxyless", "ImageToTextTask"},
		{"hcaptcha", "HCaptchaTask", "ImageToTextTask"},
		{"funcaptcha", "FunCaptchaTaskProxyless", "ImageToTextTask"},
		{"turnstile", "TurnstileTaskProxyless", "ImageToTextTask"},
		{"geetest", "GeeTestTask", "ImageToTextTask"},
	}
	for _, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Pools: map[string]Pool{PoolOf(tt.method): {Workers: 1}}})
				defer p.Close()
				if got, want := submitAs(t, p, DefaultKey, tt.method), "OK|1"; got != want {
					t.Fatalf("submit %s = %q, want %q", tt.method, got, want)
				}
				if got := createTaskAs(t, p, tt.task); got != v2NoSlot {
					t.Errorf("createTask %s = %s, want %s", tt.task, got, v2NoSlot)
				}
				if got, want := createTaskAs(t, p, tt.other), `{"errorId":0,"taskId":2}`; got != want {
					t.Errorf("createTask %s = %s, want %s", tt.other, got, want)
				}
			})
		})
	}
}

// TestPoolUnknownMethod gives a method added through Config.Methods a pool
// of its own, under its own name.
func TestPoolUnknownMethod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Methods: map[string]Method{"mymethod": fixed(5 * time.Second)},
			Pools:   map[string]Pool{"mymethod": {Workers: 1}},
		})
		defer p.Close()
		submitSeq(t, p, []methodAnswer{
			{"mymethod", "OK|1"},
			{"mymethod", noSlot},
			{"userrecaptcha", "OK|2"},
		})
		time.Sleep(5 * time.Second)
		if got, want := submitAs(t, p, DefaultKey, "mymethod"), "OK|3"; got != want {
			t.Errorf("submit mymethod at 5s = %q, want %q", got, want)
		}
		want := map[string]TypeStats{
			"mymethod":  {Accepted: 2, NoSlot: 1, PoolNoSlot: 1},
			"recaptcha": {Accepted: 1},
		}
		checkByType(t, p, want)
	})
}

// TestByTypeBounded submits 40 methods of 40 types: the first 32 types have
// their own figures, the rest count under "other".
func TestByTypeBounded(t *testing.T) {
	methods := make(map[string]Method)
	for i := range 40 {
		methods[fmt.Sprintf("m%02d", i)] = fixed(time.Second)
	}
	p := New(Config{Accounts: []Account{{Key: DefaultKey, Slots: 100}}, Methods: methods})
	defer p.Close()
	for i := range 40 {
		submitAs(t, p, DefaultKey, fmt.Sprintf("m%02d", i))
	}
	submitAs(t, p, DefaultKey, "m00") // known: still its own
	submitAs(t, p, DefaultKey, "m39") // still "other"
	st := p.Stats(DefaultKey)
	if got, want := len(st.ByType), maxTypes+1; got != want {
		t.Errorf("len(Stats.ByType) = %d, want %d", got, want)
	}
	if got, want := st.ByType["m00"].Accepted, 2; got != want {
		t.Errorf("Stats.ByType[m00].Accepted = %d, want %d", got, want)
	}
	if got, want := st.ByType["m31"].Accepted, 1; got != want {
		t.Errorf("Stats.ByType[m31].Accepted = %d, want %d", got, want)
	}
	if got, want := st.ByType[otherType].Accepted, 9; got != want {
		t.Errorf("Stats.ByType[other].Accepted = %d, want %d", got, want)
	}
	if _, ok := st.ByType["m32"]; ok {
		t.Errorf("Stats.ByType has m32, want it under other")
	}
}

func TestPoolsValidate(t *testing.T) {
	tests := []struct {
		name  string
		pools map[string]Pool
		want  string // "" for valid
	}{
		{"valid", map[string]Pool{"recaptcha": {Workers: 0}, "image": {Workers: 3, Capacity: []Step{{time.Second, 0}, {2 * time.Second, 5}}}, "mymethod": {}}, ""},
		{"empty type", map[string]Pool{"": {}},
			`captchaaitest: Config.Pools[""]: the type must not be empty`},
		{"method as key", map[string]Pool{"userrecaptcha": {Workers: 1}},
			`captchaaitest: Config.Pools["userrecaptcha"]: "userrecaptcha" is of type "recaptcha": key pools by PoolOf`},
		{"task type as key", map[string]Pool{"ImageToTextTask": {Workers: 1}},
			`captchaaitest: Config.Pools["ImageToTextTask"]: "ImageToTextTask" is of type "image": key pools by PoolOf`},
		{"negative workers", map[string]Pool{"image": {Workers: -1}},
			`captchaaitest: Config.Pools["image"].Workers -1: must not be negative`},
		{"zero at", map[string]Pool{"image": {Capacity: []Step{{0, 1}}}},
			`captchaaitest: Config.Pools["image"].Capacity[0].At 0s: must be positive`},
		{"unsorted", map[string]Pool{"image": {Capacity: []Step{{10 * time.Second, 1}, {5 * time.Second, 2}}}},
			`captchaaitest: Config.Pools["image"].Capacity[1].At 5s: must be after Capacity[0].At 10s`},
		{"negative slots", map[string]Pool{"image": {Capacity: []Step{{time.Second, -2}}}},
			`captchaaitest: Config.Pools["image"].Capacity[0].Slots -2: must not be negative`},
		{"first in order", map[string]Pool{"b": {Workers: -1}, "a": {Workers: -2}},
			`captchaaitest: Config.Pools["a"].Workers -2: must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Pools: tt.pools}
			got := ""
			if err := cfg.validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("validate(Pools %v) = %q, want %q", tt.pools, got, tt.want)
			}
		})
	}
}
