package captchaaitest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// reply is an answer as the provider's application produces it, before any
// injected fault changes how it travels.
type reply struct {
	status int
	ctype  string
	body   []byte
}

const (
	ctypeText = "text/plain; charset=utf-8"
	ctypeJSON = "application/json"
	ctypeHTML = "text/html"
)

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// v1Answer is the json=1 form of an in.php or res.php answer.
type v1Answer struct {
	Status  int    `json:"status"`
	Request string `json:"request"`
}

// v1 formats an in.php or res.php answer: "OK|text" or "text" in plain text
// mode; {"status":1,"request":text} or {"status":0,...} with json=1. In
// JSON mode the bans and CAPCHA_NOT_READY go in "request" like any code.
func v1(c *call, ok bool, text string) reply {
	if c.json {
		st := 0
		if ok {
			st = 1
		}
		return jsonReply(v1Answer{st, text})
	}
	if ok {
		text = codeOK + "|" + text
	}
	return reply{http.StatusOK, ctypeText, []byte(text)}
}

// v2Error is a createTask or getTaskResult error answer.
type v2Error struct {
	ErrorID          int    `json:"errorId"`
	ErrorCode        string `json:"errorCode"`
	ErrorDescription string `json:"errorDescription"`
}

func v2Err(code string) reply {
	id, ok := errorIDs[code]
	if !ok {
		id = errorIDOther
	}
	desc := descriptions[code]
	if desc == "" {
		desc = code
	}
	return jsonReply(v2Error{id, code, desc})
}

// v2Created is createTask's answer: {"errorId":0,"taskId":123}.
type v2Created struct {
	ErrorID int   `json:"errorId"`
	TaskID  int64 `json:"taskId"`
}

// v2Result is getTaskResult's answer.
type v2Result struct {
	ErrorID  int               `json:"errorId"`
	Status   string            `json:"status"`
	Solution map[string]string `json:"solution,omitempty"`
	Cost     string            `json:"cost,omitempty"`
}

func jsonReply(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic("captchaaitest: " + err.Error()) // only fixed types are marshalled
	}
	return reply{http.StatusOK, ctypeJSON, b}
}

// answer is the solution of task id: deterministic, so tests can expect it.
func answer(method string, id int64) string {
	if method == "post" || method == "base64" {
		return "text" + strconv.FormatInt(id, 10)
	}
	return "token" + strconv.FormatInt(id, 10)
}

// solution is the v2 "solution" object for task id.
func solution(method string, id int64) map[string]string {
	a := answer(method, id)
	if method == "post" || method == "base64" {
		return map[string]string{"text": a}
	}
	return map[string]string{"gRecaptchaResponse": a, "token": a}
}

// usd formats micro-dollars the way getbalance does: "99.997".
func usd(m int64) string { return strconv.FormatFloat(float64(m)/1e6, 'f', -1, 64) }
