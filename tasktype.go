package slotguard

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
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
// matter. "" for an empty name.
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
	}
	return m
}

// slowType reports whether tasks of type typ take the provider 15 s or
// more: the token captchas, polled first after 15 s (PollPacing.FirstSlow)
// and given the longer thread ceiling.
func slowType(typ string) bool {
	return typ == TypeRecaptcha || typ == TypeHCaptcha || typ == TypeFunCaptcha
}

// maxMethodBody bounds what is read of a request body to find its method.
const maxMethodBody = 64 << 10

// submitMethod returns the method a submit names: in.php's method field
// (from the query, a urlencoded form or a multipart form), or createTask's
// task.type. The body is read through GetBody, so only a replayable body
// is read: the retrier makes every body it may replay so. "" when none is
// found.
func submitMethod(req *http.Request) string {
	if m := req.URL.Query().Get("method"); m != "" {
		return m
	}
	if req.GetBody == nil {
		return ""
	}
	body, err := req.GetBody()
	if err != nil {
		return ""
	}
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, maxMethodBody))
	if strings.HasSuffix(req.URL.Path, "/createTask") {
		var v struct {
			Task struct {
				Type string `json:"type"`
			} `json:"task"`
		}
		json.Unmarshal(b, &v)
		return v.Task.Type
	}
	ct, params, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if ct == "multipart/form-data" && params["boundary"] != "" {
		return multipartField(b, params["boundary"], "method")
	}
	if !bytes.Contains(b, []byte("method=")) {
		return ""
	}
	q, _ := url.ParseQuery(string(b))
	return q.Get("method")
}

// multipartField returns the value of a multipart form's field name, or "".
func multipartField(b []byte, boundary, name string) string {
	r := multipart.NewReader(bytes.NewReader(b), boundary)
	for {
		p, err := r.NextPart()
		if err != nil {
			return ""
		}
		if p.FormName() == name && p.FileName() == "" {
			v, _ := io.ReadAll(io.LimitReader(p, 256))
			return string(v)
		}
	}
}
