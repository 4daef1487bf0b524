package captchaaitest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequest feeds arbitrary paths, content types and bodies to the
// request parser and the provider: they must never panic, and every answer
// must be a well-formed one of the expected kinds.
func FuzzRequest(f *testing.F) {
	f.Add("/in.php", "application/x-www-form-urlencoded", []byte("key="+DefaultKey+"&method=userrecaptcha&googlekey=k&pageurl=u"))
	f.Add("/in.php", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nxx\r\n--b--\r\n"))
	f.Add("/res.php", "application/x-www-form-urlencoded", []byte("key="+DefaultKey+"&action=get&id=1&json=1"))
	f.Add("/createTask", "application/json", []byte(`{"clientKey":"`+DefaultKey+`","task":{"type":"ImageToTextTask","body":"aGk="}}`))
	f.Add("/getTaskResult", "application/json", []byte(`{"clientKey":"`+DefaultKey+`","taskId":1}`))
	f.Fuzz(func(t *testing.T, path, ctype string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest("POST", "http://captchaai.test/", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.URL.Path = path
		req.Header.Set("Content-Type", ctype)
		c := parseCall(req, body)
		if c.endpoint != endpointOf(path) {
			t.Fatalf("parseCall(%q).endpoint = %v, want %v", path, c.endpoint, endpointOf(path))
		}
		p := New(Config{})
		defer p.Close()
		resp, err := p.Transport().RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip(%q) error: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && c.endpoint != Other {
			t.Fatalf("RoundTrip(%q) status = %d, want 200", path, resp.StatusCode)
		}
	})
}
