package slotguard

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

// The task types: the provider's worker pools. NO_SLOT means every worker
// "for your requested CAPTCHA type" is busy, so names that draw on one
// pool are one type.
const (
	TypeImage      = "image"      // in.php post, base64; createTask ImageToTextTask
	TypeRecaptcha  = "recaptcha"  // userrecaptcha (v2, v3, enterprise); RecaptchaV2Task..., NoCaptchaTask
	TypeHCaptcha   = "hcaptcha"   // hcaptcha; HCaptchaTask...
	TypeFunCaptcha = "funcaptcha" // funcaptcha; FunCaptchaTask...
	TypeTurnstile  = "turnstile"  // turnstile; TurnstileTask...
	TypeGeeTest    = "geetest"    // geetest; GeeTestTask...
)

// TaskType returns the type of task an in.php method or a createTask
// task.type names: one of the Type constants, or, for a name it does not
// know, the name itself in lower case (its own type). Case does not
// matter. "" for an empty name, and for an unknown name over 64 bytes: a
// type is kept (in memory, and in a shared store) by its name.
func TaskType(method string) string {
	m := strings.ToLower(strings.TrimSpace(method))
	switch {
	case m == "":
		return ""
	case strings.Contains(m, "recaptcha") || strings.Contains(m, "nocaptcha"):
		return TypeRecaptcha
	case strings.Contains(m, "hcaptcha"):
		return TypeHCaptcha
	case strings.Contains(m, "funcaptcha"):
		return TypeFunCaptcha
	case strings.Contains(m, "turnstile"):
		return TypeTurnstile
	case strings.Contains(m, "geetest"):
		return TypeGeeTest
	case m == "post" || m == "base64" || strings.Contains(m, "imagetotext"):
		return TypeImage
	case len(m) > maxTypeLen:
		return ""
	}
	return m
}

// maxTypeLen bounds the name of a task type that TaskType does not know.
const maxTypeLen = 64

// slowType reports whether tasks of type typ take the provider 15 s or
// more: the token captchas, polled first after 15 s (PollPacing.FirstSlow)
// and given the longer thread ceiling.
func slowType(typ string) bool {
	return typ == TypeRecaptcha || typ == TypeHCaptcha || typ == TypeFunCaptcha
}

// taskTypeOf reads the task type of a submit before its first attempt:
// the query's method, else the method in slotguard's copy of the body
// (prepareBody with own; the first MaxReplayBody bytes of a longer one).
// "" when none is found.
func taskTypeOf(req *http.Request, rp replayer) string {
	if strings.Contains(req.URL.RawQuery, "method=") {
		return TaskType(req.URL.Query().Get("method"))
	}
	return TaskType(methodIn(rp.head, req))
}

// methodIn finds the method in a body: a urlencoded form's field, a
// multipart form's field, or createTask's task.type, without parsing the
// rest.
func methodIn(b []byte, req *http.Request) string {
	switch {
	case strings.HasSuffix(req.URL.Path, "/createTask"):
		return jsonString(b, "type")
	case strings.HasPrefix(req.Header.Get("Content-Type"), "multipart/"):
		return multipartValue(b, "method")
	}
	m, _ := formValue(b, "method")
	return m
}

// jsonString returns the string value of the first member named key in a
// JSON text's first bytes, without parsing the rest.
func jsonString(b []byte, key string) string {
	i := bytes.Index(b, []byte(`"`+key+`"`))
	if i < 0 {
		return ""
	}
	b = bytes.TrimLeft(b[i+len(key)+2:], " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return ""
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	if len(b) == 0 || b[0] != '"' {
		return ""
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return ""
	}
	return string(b[1 : 1+end])
}

// multipartValue returns the value of a multipart form's field name, from
// the form's first bytes.
func multipartValue(b []byte, name string) string {
	i := bytes.Index(b, []byte(`name="`+name+`"`))
	if i < 0 {
		return ""
	}
	b = b[i:]
	j := bytes.Index(b, []byte("\r\n\r\n"))
	if j < 0 {
		return ""
	}
	b = b[j+4:]
	if k := bytes.Index(b, []byte("\r\n")); k >= 0 {
		return string(b[:k])
	}
	return ""
}

// formValue returns the value of field name in a urlencoded form, without
// a copy for the common methods.
func formValue(b []byte, name string) (string, bool) {
	for len(b) > 0 {
		field := b
		if i := bytes.IndexByte(b, '&'); i >= 0 {
			field, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(field, []byte("="))
		if !ok || string(k) != name {
			continue
		}
		if bytes.ContainsAny(v, "%+") {
			s, err := url.QueryUnescape(string(v))
			return s, err == nil
		}
		if m, ok := knownMethods[string(v)]; ok {
			return m, true // string(v) as a map key does not allocate
		}
		return string(v), true
	}
	return "", false
}

// knownMethods are in.php's common methods, as constants.
var knownMethods = map[string]string{
	"post": "post", "base64": "base64", "userrecaptcha": "userrecaptcha", "hcaptcha": "hcaptcha",
	"funcaptcha": "funcaptcha", "turnstile": "turnstile", "geetest": "geetest",
}
