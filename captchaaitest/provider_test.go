package captchaaitest

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestSlotsFillAndFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 2}},
			Methods:  map[string]Method{"userrecaptcha": fixed(10 * time.Second)},
		})
		defer p.Close()
		start := time.Now()
		for i, want := range []string{"OK|1", "OK|2", "ERROR_NO_SLOT_AVAILABLE"} {
			if got := submit(t, p); got != want {
				t.Fatalf("submit #%d = %q, want %q", i+1, got, want)
			}
		}
		time.Sleep(10*time.Second - time.Nanosecond)
		if got, want := poll(t, p, "1"), "CAPCHA_NOT_READY"; got != want {
			t.Errorf("poll(1) at 10s-1ns = %q, want %q", got, want)
		}
		if got, want := submit(t, p), "ERROR_NO_SLOT_AVAILABLE"; got != want {
			t.Errorf("submit at 10s-1ns = %q, want %q", got, want)
		}
		time.Sleep(time.Nanosecond)
		if got, want := time.Since(start), 10*time.Second; got != want {
			t.Fatalf("time.Since(start) = %v, want %v", got, want)
		}
		if got, want := poll(t, p, "1"), "OK|token1"; got != want {
			t.Errorf("poll(1) at 10s = %q, want %q", got, want)
		}
		if got, want := submit(t, p), "OK|3"; got != want {
			t.Errorf("submit at 10s = %q, want %q", got, want)
		}
		st := p.Stats(DefaultKey)
		if st.Accepted != 3 || st.Rejected[codeNoSlot] != 2 || st.Polls != 2 {
			t.Errorf("Stats = accepted %d, NO_SLOT %d, polls %d; want 3, 2, 2",
				st.Accepted, st.Rejected[codeNoSlot], st.Polls)
		}
		if got, want := st.Balance, DefaultBalance-0.003; got != want {
			t.Errorf("Stats.Balance = %v, want %v", got, want)
		}
	})
}

func TestAnswers(t *testing.T) {
	other := strings.Repeat("b", 32)
	tests := []struct {
		name, path string
		vals       url.Values
		want       string
	}{
		{"accepted", "/in.php", recaptcha(), "OK|1"},
		{"accepted json", "/api/in.php", recaptcha("json", "1"), `{"status":1,"request":"1"}`},
		{"short key", "/in.php", recaptcha("key", "abc"), "ERROR_WRONG_USER_KEY"},
		{"no key json", "/in.php", recaptcha("key", "", "json", "1"), `{"status":0,"request":"ERROR_WRONG_USER_KEY"}`},
		{"unknown key", "/in.php", recaptcha("key", other), "ERROR_KEY_DOES_NOT_EXIST"},
		{"no method", "/in.php", url.Values{"key": {DefaultKey}}, "ERROR_BAD_PARAMETERS"},
		{"unknown method", "/in.php", recaptcha("method", "nosuch"), "ERROR_BAD_PARAMETERS"},
		{"no googlekey", "/in.php", recaptcha("googlekey", ""), "ERROR_GOOGLEKEY"},
		{"no pageurl", "/in.php", recaptcha("pageurl", ""), "ERROR_PAGEURL"},
		{"hcaptcha no sitekey", "/in.php", recaptcha("method", "hcaptcha"), "ERROR_BAD_PARAMETERS"},
		{"tiny image", "/in.php", url.Values{"key": {DefaultKey}, "method": {"base64"}, "body": {"aGVsbG8="}}, "ERROR_ZERO_CAPTCHA_FILESIZE"},
		{"bad base64", "/in.php", url.Values{"key": {DefaultKey}, "method": {"base64"}, "body": {"%%%"}}, "ERROR_UPLOAD"},
		{"balance", "/res.php", url.Values{"key": {DefaultKey}, "action": {"getbalance"}}, "100"},
		{"balance json", "/res.php", url.Values{"key": {DefaultKey}, "action": {"getbalance"}, "json": {"1"}}, `{"status":1,"request":"100"}`},
		{"no action", "/res.php", url.Values{"key": {DefaultKey}}, "ERROR_EMPTY_ACTION"},
		{"bad id", "/res.php", url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {"x1"}}, "ERROR_WRONG_ID_FORMAT"},
		{"unknown id", "/res.php", url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {"77"}}, "ERROR_WRONG_CAPTCHA_ID"},
		{"unknown id json", "/res.php", url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {"77"}, "json": {"1"}}, `{"status":0,"request":"ERROR_WRONG_CAPTCHA_ID"}`},
		{"report unknown", "/res.php", url.Values{"key": {DefaultKey}, "action": {"reportbad"}, "id": {"77"}}, "ERROR_WRONG_CAPTCHA_ID"},
		{"other path", "/nothing", url.Values{}, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Accounts: []Account{{Key: DefaultKey}, {Key: strings.Repeat("c", 32)}}})
			defer p.Close()
			if got := get(t, p.Transport(), base, tt.path, tt.vals); got != tt.want {
				t.Errorf("GET %s?%s = %q, want %q", tt.path, tt.vals.Encode(), got, tt.want)
			}
		})
	}
}

func TestPostForms(t *testing.T) {
	img := make([]byte, 200)
	fields := url.Values{"key": {DefaultKey}, "method": {"post"}}
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"image", img, "OK|1"},
		{"no file", nil, "ERROR_ZERO_CAPTCHA_FILESIZE"},
		{"tiny", img[:99], "ERROR_ZERO_CAPTCHA_FILESIZE"},
		{"huge", make([]byte, maxImage+1), "ERROR_TOO_BIG_CAPTCHA_FILESIZE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{})
			defer p.Close()
			ctype, body := multipartBody(t, fields, tt.file)
			req, _ := http.NewRequest("POST", base+"/in.php", body)
			req.Header.Set("Content-Type", ctype)
			if _, got := roundTrip(t, p.Transport(), req); got != tt.want {
				t.Errorf("multipart in.php (%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	t.Run("urlencoded base64", func(t *testing.T) {
		p := New(Config{})
		defer p.Close()
		v := url.Values{"key": {DefaultKey}, "method": {"base64"}, "body": {base64.StdEncoding.EncodeToString(img)}, "json": {"1"}}
		if got, want := post(t, p.Transport(), base, "/in.php", v), `{"status":1,"request":"1"}`; got != want {
			t.Errorf("POST in.php base64 = %q, want %q", got, want)
		}
	})
}

func TestCreateTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts: []Account{{Key: DefaultKey, Slots: 1}},
			Methods:  map[string]Method{"turnstile": fixed(5 * time.Second)},
		})
		defer p.Close()
		rt := p.Transport()
		task := `{"clientKey":"` + DefaultKey + `","task":{"type":"TurnstileTaskProxyless","websiteURL":"https://example.com","websiteKey":"0x4AAA"}}`
		steps := []struct {
			path, body, want string
		}{
			{"/createTask", task, `{"errorId":0,"taskId":1}`},
			{"/createTask", task, `{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"No idle workers are available at the moment."}`},
			{"/getTaskResult", `{"clientKey":"` + DefaultKey + `","taskId":1}`, `{"errorId":0,"status":"processing"}`},
			{"/getTaskResult", `{"clientKey":"` + DefaultKey + `","taskId":9}`, `{"errorId":16,"errorCode":"ERROR_NO_SUCH_CAPCHA_ID","errorDescription":"No task with this id."}`},
			{"/createTask", `{"clientKey":"` + DefaultKey + `","task":{"type":"Nope"}}`, `{"errorId":23,"errorCode":"ERROR_TASK_NOT_SUPPORTED","errorDescription":"This task type is not supported."}`},
			{"/createTask", `{"clientKey":"short","task":{"type":"TurnstileTask"}}`, `{"errorId":1,"errorCode":"ERROR_KEY_DOES_NOT_EXIST","errorDescription":"Account authorization key not found in the system."}`},
			{"/createTask", `{"clientKey":"` + DefaultKey + `"}`, `{"errorId":22,"errorCode":"ERROR_TASK_ABSENT","errorDescription":"The task property is missing."}`},
		}
		for _, s := range steps {
			if got := postJSON(t, rt, base, s.path, s.body); got != s.want {
				t.Errorf("POST %s %s = %s, want %s", s.path, s.body, got, s.want)
			}
		}
		time.Sleep(5 * time.Second)
		got := postJSON(t, rt, base, "/getTaskResult", `{"clientKey":"`+DefaultKey+`","taskId":"1"}`)
		want := `{"errorId":0,"status":"ready","solution":{"gRecaptchaResponse":"token1","token":"token1"},"cost":"0.001"}`
		if got != want {
			t.Errorf("getTaskResult after 5s = %s, want %s", got, want)
		}
	})
}

func TestZeroBalance(t *testing.T) {
	p := New(Config{Accounts: []Account{{Key: DefaultKey, Balance: 0.002}}})
	defer p.Close()
	for i, want := range []string{"OK|1", "OK|2", "ERROR_ZERO_BALANCE"} {
		if got := submit(t, p, "method", "post", "googlekey", ""); got != "ERROR_ZERO_CAPTCHA_FILESIZE" {
			t.Fatalf("image submit without file = %q", got)
		}
		if got := get(t, p.Transport(), base, "/in.php", url.Values{"key": {DefaultKey}, "method": {"base64"},
			"body": {base64.StdEncoding.EncodeToString(make([]byte, 100))}}); got != want {
			t.Errorf("submit #%d = %q, want %q", i+1, got, want)
		}
	}
	if got, want := get(t, p.Transport(), base, "/res.php", url.Values{"key": {DefaultKey}, "action": {"getbalance"}}), "0"; got != want {
		t.Errorf("getbalance = %q, want %q", got, want)
	}
}

// solveTimes submits n tasks to a fresh provider and returns their solve times.
func solveTimes(t *testing.T, seed uint64, n int) []time.Duration {
	p := New(Config{Seed: seed, Accounts: []Account{{Key: DefaultKey, Slots: n}}})
	defer p.Close()
	var out []time.Duration
	for i := range n {
		if got := submit(t, p); got != "OK|"+itoa(i+1) {
			t.Fatalf("submit = %q", got)
		}
		out = append(out, p.tasks[int64(i+1)].solve)
	}
	return out
}

func TestSeed(t *testing.T) {
	a, b, c := solveTimes(t, 7, 20), solveTimes(t, 7, 20), solveTimes(t, 8, 20)
	if !slices.Equal(a, b) {
		t.Errorf("solve times with seed 7 = %v, then %v; want equal", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("solve times with seeds 7 and 8 are equal: %v", a)
	}
	for _, d := range a {
		if d < 10*time.Second || d > 30*time.Second || d%time.Millisecond != 0 {
			t.Errorf("userrecaptcha solve time %v, want whole ms in [10s, 30s]", d)
		}
	}
}

func TestSharedPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 13:00 UTC, in the peak band, with a pool that refuses every submit
		// there and none in the evening band.
		p := New(Config{StartOfDay: 13 * time.Hour, SharedPool: [4]float64{0, 0, 1, 0}})
		defer p.Close()
		if got, want := submit(t, p), "ERROR_NO_SLOT_AVAILABLE"; got != want {
			t.Errorf("submit at 13:00 = %q, want %q", got, want)
		}
		time.Sleep(5*time.Hour - time.Nanosecond)
		if got, want := submit(t, p), "ERROR_NO_SLOT_AVAILABLE"; got != want {
			t.Errorf("submit at 18:00-1ns = %q, want %q", got, want)
		}
		time.Sleep(time.Nanosecond)
		if got, want := submit(t, p), "OK|1"; got != want {
			t.Errorf("submit at 18:00 = %q, want %q", got, want)
		}
	})
}

func TestStatsAccounting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{
			Accounts:  []Account{{Key: DefaultKey, Slots: 2}},
			Methods:   map[string]Method{"userrecaptcha": fixed(10 * time.Second)},
			TimeScale: 2, // every provider duration lasts half as long
		})
		defer p.Close()
		submit(t, p)
		time.Sleep(10 * time.Second) // 20 s of provider time
		st := p.Stats(DefaultKey)
		if st.Elapsed != 20*time.Second || st.BusySlotTime != 10*time.Second {
			t.Errorf("Stats = elapsed %v, busy %v; want 20s, 10s", st.Elapsed, st.BusySlotTime)
		}
		if got, want := st.Utilization(), 0.25; got != want {
			t.Errorf("Utilization() = %v, want %v", got, want)
		}
		st.Rejected["x"] = 1 // a copy: the provider's map must not change
		if got := p.Stats(DefaultKey).Rejected; len(got) != 0 {
			t.Errorf("Stats().Rejected after changing a snapshot = %v, want empty", got)
		}
		if got := p.Stats("unknown"); got.Rejected != nil || got.Accepted != 0 {
			t.Errorf("Stats(unknown) = %+v, want zero", got)
		}
	})
}

func TestNoSlotPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Accounts: []Account{{Key: DefaultKey, Slots: 1}},
			Methods: map[string]Method{"userrecaptcha": fixed(time.Hour)}})
		defer p.Close()
		submit(t, p)
		submit(t, p)
		time.Sleep(2 * time.Minute)
		submit(t, p)
		submit(t, p)
		submit(t, p)
		if got, want := p.Stats(DefaultKey).NoSlotPerMinute, []int{1, 0, 3}; !slices.Equal(got, want) {
			t.Errorf("NoSlotPerMinute = %v, want %v", got, want)
		}
	})
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative scale", Config{TimeScale: -1}},
		{"short key", Config{Accounts: []Account{{Key: "abc"}}}},
		{"duplicate key", Config{Accounts: []Account{{Key: DefaultKey}, {Key: DefaultKey}}}},
		{"negative slots", Config{Accounts: []Account{{Key: DefaultKey, Slots: -1}}}},
		{"day", Config{StartOfDay: 24 * time.Hour}},
		{"pool", Config{SharedPool: [4]float64{2}}},
		{"method", Config{Methods: map[string]Method{"post": {MinSolve: 2, MaxSolve: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || !strings.HasPrefix(err.Error(), "captchaaitest: Config.") {
					t.Errorf("New(%s) panic = %v, want a captchaaitest: Config. error", tt.name, r)
				}
				if ok && strings.Contains(err.Error(), "abc") {
					t.Errorf("New(%s) panic %q shows the key", tt.name, err)
				}
			}()
			New(tt.cfg)
		})
	}
}

// TestForgetSolved checks that a task is answered until keepSolved after it
// was solved and is unknown from then on, in every dialect, with the answer
// the provider gives for an id it never gave; and that the task leaves the
// provider's map at the next accepted submit, not before.
// It is long because of its table, one row per dialect.
func TestForgetSolved(t *testing.T) {
	v1 := func(extra ...string) url.Values {
		v := url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {"1"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	tests := []struct {
		name, path  string
		vals        url.Values // a GET with these, unless body is set
		body        string     // a JSON POST
		ready, gone string
	}{
		{"res.php", "/res.php", v1(), "", "OK|token1", "ERROR_WRONG_CAPTCHA_ID"},
		{"res.php json", "/res.php", v1("json", "1"), "",
			`{"status":1,"request":"token1"}`, `{"status":0,"request":"ERROR_WRONG_CAPTCHA_ID"}`},
		{"reportbad", "/res.php", v1("action", "reportbad"), "", "OK_REPORT_RECORDED", "ERROR_WRONG_CAPTCHA_ID"},
		{"getTaskResult", "/getTaskResult", nil, `{"clientKey":"` + DefaultKey + `","taskId":1}`,
			`{"errorId":0,"status":"ready","solution":{"gRecaptchaResponse":"token1","token":"token1"},"cost":"0.001"}`,
			`{"errorId":16,"errorCode":"ERROR_NO_SUCH_CAPCHA_ID","errorDescription":"No task with this id."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{Methods: map[string]Method{"userrecaptcha": fixed(10 * time.Second)}})
				defer p.Close()
				ask := func() string {
					t.Helper()
					if tt.body != "" {
						return postJSON(t, p.Transport(), base, tt.path, tt.body)
					}
					return get(t, p.Transport(), base, tt.path, tt.vals)
				}
				start := time.Now()
				if got, want := submit(t, p), "OK|1"; got != want {
					t.Fatalf("submit at 0 = %q, want %q", got, want)
				}
				gone := 10*time.Second + keepSolved
				time.Sleep(gone - time.Nanosecond)
				if got, want := submit(t, p), "OK|2"; got != want {
					t.Fatalf("submit at %v = %q, want %q", time.Since(start), got, want)
				}
				if got := ask(); got != tt.ready {
					t.Errorf("%s at %v = %q, want %q", tt.name, time.Since(start), got, tt.ready)
				}
				time.Sleep(time.Nanosecond)
				if got := time.Since(start); got != gone {
					t.Fatalf("time.Since(start) = %v, want %v", got, gone)
				}
				if got := ask(); got != tt.gone {
					t.Errorf("%s at %v = %q, want %q", tt.name, gone, got, tt.gone)
				}
				if got, want := submit(t, p), "OK|3"; got != want {
					t.Fatalf("submit at %v = %q, want %q", gone, got, want)
				}
				if _, ok := p.tasks[1]; ok {
					t.Errorf("p.tasks[1] after a submit at %v = present, want forgotten", gone)
				}
				if _, ok := p.tasks[2]; !ok {
					t.Errorf("p.tasks[2] after a submit at %v = missing, want remembered (solved at %v)", gone, gone+10*time.Second-time.Nanosecond)
				}
			})
		})
	}
}
