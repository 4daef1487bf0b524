package slotguard

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTaskType: names that share the provider's worker pool are one type,
// in.php methods and createTask types alike; unknown names are their own.
func TestTaskType(t *testing.T) {
	tests := []struct{ method, want string }{
		{"post", TypeImage},
		{"base64", TypeImage},
		{"ImageToTextTask", TypeImage},
		{"userrecaptcha", TypeRecaptcha},
		{"RecaptchaV2TaskProxyless", TypeRecaptcha},
		{"RecaptchaV3TaskProxyless", TypeRecaptcha},
		{"RecaptchaV2EnterpriseTask", TypeRecaptcha},
		{"NoCaptchaTaskProxyless", TypeRecaptcha},
		{"hcaptcha", TypeHCaptcha},
		{"HCaptchaTaskProxyless", TypeHCaptcha},
		{"funcaptcha", TypeFunCaptcha},
		{"FunCaptchaTask", TypeFunCaptcha},
		{"turnstile", TypeTurnstile},
		{"TurnstileTaskProxyless", TypeTurnstile},
		{"geetest", TypeGeeTest},
		{"GeeTestTaskProxyless", TypeGeeTest},
		{" UserReCaptcha ", TypeRecaptcha},
		{"amazon_waf", "amazon_waf"},
		{"KeyCaptcha", "keycaptcha"},
		{"", ""},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{strings.Repeat("x", 65), ""},                          // too long to keep: untyped
		{strings.Repeat("x", 65) + "recaptcha", TypeRecaptcha}, // a known pool, whatever its length
	}
	for _, tt := range tests {
		if got := TaskType(tt.method); got != tt.want {
			t.Errorf("TaskType(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

// FuzzTaskType: any method name gives a type without a panic: a known one,
// or the name itself, trimmed and in lower case, up to 64 bytes ("" past
// them), and the same every time.
func FuzzTaskType(f *testing.F) {
	for _, m := range []string{"post", "userrecaptcha", "HCaptchaTask", "x", "", "\xff"} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, method string) {
		got := TaskType(method)
		if got != TaskType(method) {
			t.Fatalf("TaskType(%q) changes between calls", method)
		}
		switch got {
		case TypeImage, TypeRecaptcha, TypeHCaptcha, TypeFunCaptcha, TypeTurnstile, TypeGeeTest:
			return
		}
		want := strings.ToLower(strings.TrimSpace(method))
		if len(want) > maxTypeLen {
			want = ""
		}
		if got != want {
			t.Errorf("TaskType(%q) = %q, want the name itself (up to 64 bytes), %q", method, got, want)
		}
		if utf8.ValidString(method) && strings.ToLower(got) != got {
			t.Errorf("TaskType(%q) = %q, not in lower case", method, got)
		}
	})
}

// TestTaskTypeOf: a submit's task type, read from the query or slotguard's
// copy of the body: urlencoded, multipart or createTask.
func TestTaskTypeOf(t *testing.T) {
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("key", testKey)
	fw, _ := w.CreateFormFile("file", "captcha.png")
	fw.Write([]byte("method=userrecaptcha")) // a file's bytes are not a field
	fw.Write(bytes.Repeat([]byte{0x89}, 4<<10))
	w.WriteField("method", "post") // after the file, past the first KiB
	w.Close()
	tests := []struct {
		name, url, ctype, body, want string
	}{
		{"query", "http://p/in.php?key=k&method=hcaptcha", "", "", TypeHCaptcha},
		{"form", "http://p/in.php", "application/x-www-form-urlencoded", "key=k&method=userrecaptcha&json=1", TypeRecaptcha},
		{"escaped", "http://p/in.php", "application/x-www-form-urlencoded", "key=k&method=%74urnstile", TypeTurnstile},
		{"multipart", "http://p/in.php", w.FormDataContentType(), mp.String(), TypeImage},
		{"createTask", "http://p/createTask", "application/json", `{"clientKey":"k","task": {"type" : "HCaptchaTaskProxyless"}}`, TypeHCaptcha},
		{"createTask, spaced", "http://p/createTask", "application/json", `{"clientKey":"k","task":{"type":"TurnstileTaskProxyless"}}`, TypeTurnstile},
		{"unknown", "http://p/in.php", "application/x-www-form-urlencoded", "key=k&method=amazon_waf", "amazon_waf"},
		{"none", "http://p/in.php", "application/x-www-form-urlencoded", "key=k", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.ctype)
			cur, rp, err := prepareBody(req, defaultMaxReplayBody, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := taskTypeOf(cur, rp); got != tt.want {
				t.Errorf("taskTypeOf = %q, want %q", got, tt.want)
			}
			var b bytes.Buffer
			b.ReadFrom(cur.Body)
			if b.String() != tt.body {
				t.Errorf("the body to send: %d bytes, want the %d sent", b.Len(), len(tt.body))
			}
		})
	}
}

// TestSharedGetBodySubmit: a submit whose GetBody rewinds the very body the
// request carries (go-retryablehttp's, for a seekable body) reaches the
// provider whole: the Transport reads its task type from its own copy.
func TestSharedGetBodySubmit(t *testing.T) {
	const body = "key=k&method=post&body=aGVsbG8"
	var got string
	tr := mustNew(t, recordBody(&got, "OK|1"), Config{})
	req := rewindingRequest("http://provider.test/in.php", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != body {
		t.Errorf("the provider got %q, want %q", got, body)
	}
	if st := tr.Stats().ByType[TypeImage]; st.Accepted != 1 {
		t.Errorf("ByType[image] = %+v, want one accepted", st)
	}
}
