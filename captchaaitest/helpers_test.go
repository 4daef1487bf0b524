package captchaaitest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fixed is a method with a fixed solve time and price.
func fixed(solve time.Duration) Method { return Method{solve, solve, 0.001} }

// recaptcha are the in.php fields of a valid userrecaptcha submit.
func recaptcha(extra ...string) url.Values {
	v := url.Values{"key": {DefaultKey}, "method": {"userrecaptcha"},
		"googlekey": {"6Le-site"}, "pageurl": {"https://example.com/"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// roundTrip sends one request through rt and returns the status and body.
func roundTrip(t *testing.T, rt http.RoundTripper, req *http.Request) (int, string) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip(%s %s) error: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s answer: %v", req.URL.Path, err)
	}
	return resp.StatusCode, string(b)
}

// get sends GET base+path?vals through rt and returns the body.
func get(t *testing.T, rt http.RoundTripper, base, path string, vals url.Values) string {
	t.Helper()
	req, err := http.NewRequest("GET", base+path+"?"+vals.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, body := roundTrip(t, rt, req)
	return body
}

// post sends an urlencoded POST through rt and returns the body.
func post(t *testing.T, rt http.RoundTripper, base, path string, vals url.Values) string {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, body := roundTrip(t, rt, req)
	return body
}

// postJSON sends a JSON body through rt and returns the body.
func postJSON(t *testing.T, rt http.RoundTripper, base, path, body string) string {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	_, got := roundTrip(t, rt, req)
	return got
}

// multipartBody builds a multipart form with the given fields and a file.
func multipartBody(t *testing.T, fields url.Values, file []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "captcha.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

const base = "http://captchaai.test"

// submit is a GET in.php with a valid userrecaptcha task.
func submit(t *testing.T, p *Provider, extra ...string) string {
	t.Helper()
	return get(t, p.Transport(), base, "/in.php", recaptcha(extra...))
}

// poll is a GET res.php?action=get&id=id.
func poll(t *testing.T, p *Provider, id string, extra ...string) string {
	t.Helper()
	v := url.Values{"key": {DefaultKey}, "action": {"get"}, "id": {id}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return get(t, p.Transport(), base, "/res.php", v)
}
