package captchaaitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint names the provider's API call a request is for, by the suffix of
// its path (any prefix is accepted).
type Endpoint int

const (
	Other         Endpoint = iota // none of the below: HTTP 404
	In                            // .../in.php: submit (v1)
	Res                           // .../res.php: poll, balance, report (v1)
	CreateTask                    // .../createTask: submit (v2, JSON)
	GetTaskResult                 // .../getTaskResult: poll (v2, JSON)
)

// Submit reports whether e takes a task: in.php or createTask.
func (e Endpoint) Submit() bool { return e == In || e == CreateTask }

func (e Endpoint) String() string {
	switch e {
	case In:
		return "in.php"
	case Res:
		return "res.php"
	case CreateTask:
		return "createTask"
	case GetTaskResult:
		return "getTaskResult"
	}
	return "other"
}

func endpointOf(path string) Endpoint {
	switch {
	case strings.HasSuffix(path, "/in.php"):
		return In
	case strings.HasSuffix(path, "/res.php"):
		return Res
	case strings.HasSuffix(path, "/createTask"):
		return CreateTask
	case strings.HasSuffix(path, "/getTaskResult"):
		return GetTaskResult
	}
	return Other
}

// maxBody bounds the request body the provider reads: the 100 kB image limit
// with room for base64 and multipart framing.
const maxBody = 1 << 20

// Image size limits of in.php (CaptchaAI: "Image size is less than 100
// bytes" / "more than 100 kB").
const (
	minImage = 100
	maxImage = 100 << 10
)

// call is one request, parsed: what the provider needs to answer it.
type call struct {
	endpoint Endpoint
	key      string
	json     bool   // v1 json=1; v2 answers are always JSON
	method   string // in.php method, or the method a v2 task type maps to
	action   string // res.php action
	id       string // res.php id, v2 taskId
	bad      string // a parameter error code found while parsing; "" if none
}

// v2Types maps the v2 task types to the in.php method whose solve times and
// price they share.
var v2Types = map[string]string{
	"ImageToTextTask":           "post",
	"RecaptchaV2Task":           "userrecaptcha",
	"RecaptchaV2TaskProxyless":  "userrecaptcha",
	"RecaptchaV3TaskProxyless":  "userrecaptcha",
	"HCaptchaTask":              "hcaptcha",
	"HCaptchaTaskProxyless":     "hcaptcha",
	"TurnstileTask":             "turnstile",
	"TurnstileTaskProxyless":    "turnstile",
	"FunCaptchaTask":            "funcaptcha",
	"FunCaptchaTaskProxyless":   "funcaptcha",
	"GeeTestTask":               "geetest",
	"GeeTestTaskProxyless":      "geetest",
	"RecaptchaV2EnterpriseTask": "userrecaptcha",
}

// parseCall reads what the provider needs from r and its body. It never
// fails: a malformed request gives a call whose bad field holds the code the
// provider answers.
func parseCall(r *http.Request, body []byte) call {
	c := call{endpoint: endpointOf(r.URL.Path)}
	switch c.endpoint {
	case CreateTask, GetTaskResult:
		c.json = true
		parseV2(&c, body)
		return c
	case Other:
		return c
	}
	vals := r.URL.Query()
	var file []byte
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range form {
				vals[k] = append(v, vals[k]...) // the body wins, as in net/http
			}
		}
	case "multipart/form-data":
		var ok bool
		if file, ok = parseMultipart(vals, body, params["boundary"]); !ok {
			c.bad = codeUpload
		}
	}
	c.key = vals.Get("key")
	c.json = vals.Get("json") == "1"
	c.method = vals.Get("method")
	c.action = vals.Get("action")
	c.id = vals.Get("id")
	if c.endpoint == In && c.bad == "" {
		c.bad = checkParams(c.method, vals, file)
	}
	return c
}

// parseMultipart adds the form fields of a multipart body to vals and returns
// the file field "file". ok is false for a malformed body.
func parseMultipart(vals url.Values, body []byte, boundary string) (file []byte, ok bool) {
	if boundary == "" {
		return nil, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return file, true
		}
		if err != nil {
			return nil, false
		}
		data, err := io.ReadAll(io.LimitReader(p, maxBody))
		if err != nil {
			return nil, false
		}
		name := p.FormName()
		if name == "file" {
			file = data
			continue
		}
		if name != "" {
			vals[name] = append([]string{string(data)}, vals[name]...)
		}
	}
}

// checkParams returns the code in.php answers for missing or bad parameters
// of method, or "" when they will do. Unknown methods are left to the
// provider, which knows the configured ones.
func checkParams(method string, vals url.Values, file []byte) string {
	switch method {
	case "post":
		return checkImage(file)
	case "base64":
		img, err := base64.StdEncoding.DecodeString(vals.Get("body"))
		if err != nil {
			return codeUpload
		}
		return checkImage(img)
	case "userrecaptcha":
		if vals.Get("googlekey") == "" {
			return codeGoogleKey
		}
	case "hcaptcha", "turnstile":
		if vals.Get("sitekey") == "" {
			return codeBadParameters
		}
	}
	if method != "" && vals.Get("pageurl") == "" && method != "post" && method != "base64" {
		return codePageURL
	}
	return ""
}

func checkImage(img []byte) string {
	switch {
	case len(img) < minImage:
		return codeZeroFileSize
	case len(img) > maxImage:
		return codeTooBigFileSize
	}
	return ""
}

// v2Request is the body of createTask and getTaskResult.
type v2Request struct {
	ClientKey string                     `json:"clientKey"`
	Task      map[string]json.RawMessage `json:"task"`
	TaskID    json.RawMessage            `json:"taskId"`
}

func parseV2(c *call, body []byte) {
	var req v2Request
	if err := json.Unmarshal(body, &req); err != nil {
		c.bad = codeBadParameters
		return
	}
	c.key = req.ClientKey
	if c.endpoint == GetTaskResult {
		// taskId is a number in the documentation; accept a string too.
		var s string
		if json.Unmarshal(req.TaskID, &s) != nil {
			s = string(req.TaskID)
		}
		c.id = s
		return
	}
	if req.Task == nil {
		c.bad = codeTaskAbsent
		return
	}
	var typ string
	if json.Unmarshal(req.Task["type"], &typ) != nil || v2Types[typ] == "" {
		c.bad = codeTaskNotSupported
		return
	}
	c.method = v2Types[typ]
	if c.method == "post" {
		var b64 string
		_ = json.Unmarshal(req.Task["body"], &b64)
		img, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			c.bad = codeUpload
			return
		}
		c.bad = checkImage(img)
	}
}

// taskID parses a task id: decimal digits only.
func taskID(s string) (int64, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
