package slotguard

import (
	"bytes"
	"strings"
)

// Format is the shape of a provider answer.
type Format uint8

const (
	FormatUnknown Format = iota // not an answer slotguard can read
	FormatText                  // in.php plain text: "OK|id" or a code
	FormatJSON                  // in.php json=1: {"status":1,"request":"id"}
	FormatTask                  // createTask: {"errorId":0,"taskId":id}
)

// String returns "text", "json", "task" or "unknown".
func (f Format) String() string {
	switch f {
	case FormatText:
		return "text"
	case FormatJSON:
		return "json"
	case FormatTask:
		return "task"
	}
	return "unknown"
}

// Answer is a parsed in.php or createTask answer.
type Answer struct {
	Format   Format
	Accepted bool   // the task was accepted (and billed)
	ID       string // the task id, when accepted
	Code     string // the error code as the provider spelt it, when not accepted
}

// ParseAnswer reads an in.php (text or json=1) or createTask answer. It
// reports ok false for anything else: an HTML page, an empty body, a JSON
// document of another shape. Matching is exact: a body that merely mentions
// ERROR_NO_SLOT_AVAILABLE is not a NO_SLOT answer.
func ParseAnswer(body []byte) (a Answer, ok bool) {
	p, ok := parseAnswer(body)
	if !ok {
		return Answer{}, false
	}
	a = Answer{Format: p.format, Accepted: p.accepted}
	if p.accepted {
		a.ID = string(p.id)
	} else {
		a.Code = string(p.code)
	}
	return a, true
}

// parsed is ParseAnswer's result without copies, for the hot path.
type parsed struct {
	format   Format
	accepted bool
	id       []byte
	code     []byte
}

func parseAnswer(body []byte) (parsed, bool) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return parsed{}, false
	}
	if b[0] == '{' {
		return parseJSON(b)
	}
	return parseText(b)
}

// parseText reads "OK|id" or a bare code such as ERROR_NO_SLOT_AVAILABLE,
// MAX_USER_TURN, IP_BANNED or "ERROR: 1001".
func parseText(b []byte) (parsed, bool) {
	if id, ok := bytes.CutPrefix(b, []byte("OK|")); ok {
		if len(id) == 0 || !isToken(id) {
			return parsed{}, false
		}
		return parsed{format: FormatText, accepted: true, id: id}, true
	}
	if isCode(b) {
		return parsed{format: FormatText, code: b}, true
	}
	return parsed{}, false
}

// isCode reports whether b looks like a provider code: upper-case letters,
// digits and underscores ("ERROR_NO_SLOT_AVAILABLE"), or "ERROR: " and digits.
func isCode(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if n, ok := bytes.CutPrefix(b, []byte("ERROR: ")); ok {
		return len(n) > 0 && allBytes(n, func(c byte) bool { return '0' <= c && c <= '9' })
	}
	return allBytes(b, func(c byte) bool {
		return 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	})
}

// isToken reports whether b could be a task id: printable, no spaces.
func isToken(b []byte) bool {
	return allBytes(b, func(c byte) bool { return '!' <= c && c <= '~' })
}

func allBytes(b []byte, f func(byte) bool) bool {
	for _, c := range b {
		if !f(c) {
			return false
		}
	}
	return true
}

func parseJSON(b []byte) (parsed, bool) {
	f, ok := scanFlat(b)
	if !ok {
		f, ok = scanStd(b)
	}
	if !ok {
		return parsed{}, false
	}
	switch {
	case f.status.kind != 0 && f.errorID.kind == 0:
		status, ok := jsonInt(f.status)
		if !ok || f.request.kind != 's' && f.request.kind != 'n' {
			return parsed{}, false
		}
		switch status {
		case 1:
			return parsed{format: FormatJSON, accepted: true, id: f.request.b}, len(f.request.b) > 0
		case 0:
			return parsed{format: FormatJSON, code: f.request.b}, isCode(f.request.b)
		}
	case f.errorID.kind != 0 && f.status.kind == 0:
		id, ok := jsonInt(f.errorID)
		if !ok {
			return parsed{}, false
		}
		if id == 0 {
			t := f.taskID
			ok := (t.kind == 's' || t.kind == 'n') && len(t.b) > 0
			return parsed{format: FormatTask, accepted: true, id: t.b}, ok
		}
		if f.errorCode.kind != 0 && f.errorCode.kind != 's' {
			return parsed{}, false
		}
		code := f.errorCode.b
		if len(code) == 0 && id == 2 {
			// createTask's errorId 2 is ERROR_NO_SLOT_AVAILABLE (the v2
			// API's error table); some answers carry only the number.
			code = []byte(CodeNoSlot)
		}
		return parsed{format: FormatTask, code: code}, isCode(code)
	}
	return parsed{}, false
}

// What a poll's answer (res.php action=get, getTaskResult) says of its task.
const (
	pollUnknown = iota // not a poll answer, or one that says nothing of the task
	pollPending        // not solved yet: CAPCHA_NOT_READY, "processing"
	pollEnded          // solved, or failed for good
)

// parsePoll reads a complete poll answer: "OK|solution" or a code;
// {"status":1,"request":...} or {"status":0,"request":code}; getTaskResult's
// {"errorId":0,"status":"ready"|"processing",...} or {"errorId":N,
// "errorCode":code}. A code ends the task unless it is about the request,
// the key or the account rather than the task (pollCodeKeepsTask).
func parsePoll(body []byte) int {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return pollUnknown
	}
	var code []byte
	if b[0] == '{' {
		f, ok := scanFlat(b)
		if !ok {
			f, ok = scanStd(b)
		}
		if !ok {
			return pollUnknown
		}
		switch {
		case f.errorID.kind != 0:
			id, ok := jsonInt(f.errorID)
			switch {
			case !ok:
				return pollUnknown
			case id != 0:
				code = f.errorCode.b
			case string(f.status.b) == "ready":
				return pollEnded
			case string(f.status.b) == "processing":
				return pollPending
			default:
				return pollUnknown
			}
		case f.status.kind != 0:
			status, ok := jsonInt(f.status)
			switch {
			case !ok:
				return pollUnknown
			case status == 1:
				return pollEnded
			}
			code = f.request.b
		default:
			return pollUnknown
		}
	} else if _, ok := bytes.CutPrefix(b, []byte("OK|")); ok {
		return pollEnded
	} else {
		code = b
	}
	switch {
	case !isCode(code):
		return pollUnknown
	case string(code) == CodeNotReady:
		return pollPending
	case pollCodeKeepsTask(string(code)):
		return pollUnknown
	}
	return pollEnded
}

// pollCodeKeepsTask reports whether a poll answered code says nothing of
// the task: a refusal of the request, the key or the account.
func pollCodeKeepsTask(code string) bool {
	switch code {
	case CodeBanPolls, CodeUserTurn, "ERROR_WRONG_USER_KEY", "ERROR_KEY_DOES_NOT_EXIST",
		"IP_BANNED", "ERROR_IP_NOT_ALLOWED", "ERROR_IP_BLOCKED", "ERROR_EMPTY_ACTION",
		"ERROR_ZERO_BALANCE", "ERROR_TOO_MUCH_REQUESTS":
		return true
	}
	return strings.HasPrefix(code, "ERROR: ")
}

// pollPrefixEnded reads the prefix of a poll answer longer than any code: a
// long solution. "OK|" then the token, or JSON whose first member says
// solved.
func pollPrefixEnded(prefix []byte) bool {
	b := bytes.TrimLeft(prefix, " \t\r\n")
	return bytes.HasPrefix(b, []byte("OK|")) ||
		bytes.HasPrefix(b, []byte(`{"status":1,`)) ||
		bytes.HasPrefix(b, []byte(`{"errorId":0,"status":"ready"`))
}
