package slotguard

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The provider's answer codes that slotguard acts on. The meanings and
// penalties come from the 2captcha and CaptchaAI API documentation (in.php
// and res.php error lists, and CaptchaAI's ERROR_NO_SLOT_AVAILABLE guide).
const (
	// CodeNoSlot: no free worker for this account right now. Not billed,
	// transient: retried with backoff, counted by the breaker.
	CodeNoSlot = "ERROR_NO_SLOT_AVAILABLE"
	// CodeUserTurn: more than 60 in.php requests within 3 s. The provider
	// refuses submits for 10 s; slotguard holds every submit for that long.
	CodeUserTurn = "MAX_USER_TURN"
	// CodeZeroBalance: on 2captcha, no funds (final). On CaptchaAI it also
	// means "no free threads" (transient): see Provider.
	CodeZeroBalance = "ERROR_ZERO_BALANCE"
	// CodeBanNoSlot: 120 NO_SLOT answers within one minute; the key is
	// blocked for 10 minutes.
	CodeBanNoSlot = "ERROR: 1001"
	// CodeBanZeroBalance: 120 ZERO_BALANCE answers within one minute; the
	// key is blocked for 5 minutes.
	CodeBanZeroBalance = "ERROR: 1002"
	// CodeBanNoSlotShare: NO_SLOT answers at least 3 times the captchas
	// sent; the key is blocked for 30 seconds.
	CodeBanNoSlotShare = "ERROR: 1003"
	// CodeBanPolls: res.php polled more than 20 x captchas + 1200 times;
	// the key is blocked for 10 minutes. Answered by res.php, never by
	// in.php, so the submit stages only pass it through.
	CodeBanPolls = "ERROR: 1005"
	// CodeNotReady: res.php's "not solved yet". Progress, never a failure.
	CodeNotReady = "CAPCHA_NOT_READY"
)

// userTurnWait is how long the provider refuses submits after MAX_USER_TURN.
const userTurnWait = 10 * time.Second

// Provider selects how provider-specific answers are read. The zero value is
// CaptchaAI.
type Provider int

const (
	// CaptchaAI reads ERROR_ZERO_BALANCE as "no free threads": transient,
	// retried like NO_SLOT (CaptchaAI reuses the code for a full plan).
	CaptchaAI Provider = iota
	// TwoCaptcha reads ERROR_ZERO_BALANCE as "no funds": final, passed
	// through at once.
	TwoCaptcha
)

// String returns the provider's name.
func (p Provider) String() string {
	switch p {
	case CaptchaAI:
		return "captchaai"
	case TwoCaptcha:
		return "2captcha"
	}
	return "provider(" + strconv.Itoa(int(p)) + ")"
}

// verdict is what an answer means for the submit stages.
type verdict uint8

const (
	verdictOther      verdict = iota // not retried, neither success nor failure for the breaker
	verdictAccepted                  // the task was accepted (and billed): breaker success
	verdictNoSlot                    // not accepted, capacity: retry, breaker failure
	verdictCapacity                  // not accepted, capacity but not NO_SLOT: retry, breaker neutral
	verdictUserTurn                  // MAX_USER_TURN: hold every submit userTurnWait, then retry
	verdictBan                       // a ban: never retried, breaker held open for the ban
	verdictRetryAfter                // HTTP 429 with Retry-After: not accepted, wait and retry
	verdictUnsent                    // not sent after all: a wait ended before the wire
	verdictLost                      // sent, but the answer was lost or cut: may be accepted, never retried
)

// action is what codes.go decides about one code.
type action struct {
	verdict verdict
	code    string        // the code, for the codes this table knows; "" otherwise
	hold    time.Duration // for verdictBan: how long the key is blocked; for verdictRetryAfter: the wait asked
}

// outcome is the verdict as a Budget sees it.
func (a action) outcome() Outcome {
	switch a.verdict {
	case verdictAccepted:
		return OutcomeAccepted
	case verdictNoSlot:
		return OutcomeNoSlot
	case verdictUnsent:
		return OutcomeUnknown
	case verdictLost:
		return OutcomeLost
	}
	return OutcomeOther
}

// actionFor maps a provider code (as the provider spelt it) to an action.
// The switch on string(code) does not allocate.
func actionFor(p Provider, code []byte) action {
	switch string(code) {
	case CodeNoSlot:
		return action{verdict: verdictNoSlot, code: CodeNoSlot}
	case CodeUserTurn:
		return action{verdict: verdictUserTurn, code: CodeUserTurn}
	case CodeZeroBalance:
		if p == CaptchaAI {
			return action{verdict: verdictCapacity, code: CodeZeroBalance}
		}
		return action{verdict: verdictOther, code: CodeZeroBalance}
	case CodeBanNoSlot:
		return action{verdict: verdictBan, code: CodeBanNoSlot, hold: 10 * time.Minute}
	case CodeBanZeroBalance:
		return action{verdict: verdictBan, code: CodeBanZeroBalance, hold: 5 * time.Minute}
	case CodeBanNoSlotShare:
		return action{verdict: verdictBan, code: CodeBanNoSlotShare, hold: 30 * time.Second}
	}
	return action{verdict: verdictOther}
}

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

// jsonFields are the members of a JSON answer that matter, by their exact
// names (encoding/json would also match "STATUS"; the providers never send
// it, and an answer that did would not be one of theirs).
type jsonFields struct {
	status, request, errorID, errorCode, taskID jsonValue
}

// jsonValue is one member's value: a string's contents, or a number's or
// literal's text. kind is 0 when the member is absent or null.
type jsonValue struct {
	kind byte // 's' string, 'n' number, 'o' anything else
	b    []byte
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

func jsonInt(v jsonValue) (int64, bool) {
	if v.kind != 'n' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.b), 10, 64)
	return n, err == nil
}

func (f *jsonFields) set(key []byte, v jsonValue) {
	switch string(key) {
	case "status":
		f.status = v
	case "request":
		f.request = v
	case "errorId":
		f.errorID = v
	case "errorCode":
		f.errorCode = v
	case "taskId":
		f.taskID = v
	}
}

// scanFlat reads a flat JSON object, the providers' answers, without
// allocating: members whose values are strings without escapes, numbers,
// true, false or null. It reports false for anything else (escapes, nested
// values, invalid JSON), and parseJSON falls back to scanStd.
func scanFlat(b []byte) (f jsonFields, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return f, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return f, skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := flatString(b, i)
		if !ok {
			return f, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return f, false
		}
		i = skipSpace(b, i+1)
		var v jsonValue
		if v, i, ok = flatValue(b, i); !ok {
			return f, false
		}
		f.set(key, v)
		i = skipSpace(b, i)
		if i >= len(b) {
			return f, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return f, skipSpace(b, i+1) == len(b)
		default:
			return f, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// flatString reads a string without escapes at b[i:].
func flatString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[i+1 : j]) {
				return nil, i, false
			}
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, i, false
		}
	}
	return nil, i, false
}

// flatValue reads a string, number or literal at b[i:].
func flatValue(b []byte, i int) (jsonValue, int, bool) {
	if i >= len(b) {
		return jsonValue{}, i, false
	}
	switch c := b[i]; {
	case c == '"':
		s, j, ok := flatString(b, i)
		return jsonValue{kind: 's', b: s}, j, ok
	case c == '-' || '0' <= c && c <= '9':
		j := i
		for j < len(b) && strings.IndexByte("+-.eE0123456789", b[j]) >= 0 {
			j++
		}
		return jsonValue{kind: 'n', b: b[i:j]}, j, json.Valid(b[i:j])
	}
	for _, lit := range [...]string{"null", "true", "false"} {
		if bytes.HasPrefix(b[i:], []byte(lit)) {
			v := jsonValue{kind: 'o', b: b[i : i+len(lit)]}
			if lit == "null" {
				v = jsonValue{}
			}
			return v, i + len(lit), true
		}
	}
	return jsonValue{}, i, false
}

// scanStd is scanFlat for everything else, through encoding/json.
func scanStd(b []byte) (f jsonFields, ok bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return f, false
	}
	for k, raw := range m {
		v := jsonValue{kind: 'o', b: raw}
		switch {
		case string(raw) == "null":
			v = jsonValue{}
		case raw[0] == '"':
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return f, false
			}
			v = jsonValue{kind: 's', b: []byte(s)}
		case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
			v.kind = 'n'
		}
		f.set([]byte(k), v)
	}
	return f, true
}
