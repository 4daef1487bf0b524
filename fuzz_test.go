package slotguard

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// FuzzParseAnswer: no input panics, an accepted answer has an id, and
// NO_SLOT is reported only for one of its three exact forms.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		"OK|123", "ERROR_NO_SLOT_AVAILABLE", " ERROR_NO_SLOT_AVAILABLE\n", "ERROR: 1001", "MAX_USER_TURN",
		`{"status":1,"request":"123"}`, `{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`,
		`{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE"}`, `{"errorId":0,"taskId":77}`, `{"errorId":2}`,
		"<html>ERROR_NO_SLOT_AVAILABLE</html>", `{"status":0,"request":"x","errorId":2}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, ok := ParseAnswer(body)
		if !ok {
			if a != (Answer{}) {
				t.Fatalf("ParseAnswer(%q) = %+v, false; want the zero Answer", body, a)
			}
			return
		}
		if a.Accepted == (a.ID == "") || a.Accepted == (a.Code != "") {
			t.Fatalf("ParseAnswer(%q) = %+v: accepted answers have an id, others a code", body, a)
		}
		if a.Code != CodeNoSlot {
			return
		}
		b := bytes.TrimSpace(body)
		switch a.Format {
		case FormatText:
			if string(b) != CodeNoSlot {
				t.Fatalf("ParseAnswer(%q) = NO_SLOT in text, but the body is not exactly the code", body)
			}
		case FormatJSON, FormatTask:
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("ParseAnswer(%q) = NO_SLOT from invalid JSON", body)
			}
			if m["request"] != CodeNoSlot && m["errorCode"] != CodeNoSlot && m["errorId"] != 2.0 {
				t.Fatalf("ParseAnswer(%q) = NO_SLOT, but no field says so", body)
			}
		default:
			t.Fatalf("ParseAnswer(%q) = NO_SLOT with format %v", body, a.Format)
		}
	})
}

// FuzzBodyReplay: whatever the request body and however it is read, every
// attempt sends the same bytes, and the caller gets the last answer byte for
// byte.
func FuzzBodyReplay(f *testing.F) {
	f.Add([]byte("key=k&method=post"), true, uint8(2), []byte("OK|1"))
	f.Add(bytes.Repeat([]byte{0, 1, 2, 255}, 3000), false, uint8(3), []byte(CodeNoSlot))
	f.Add([]byte{}, false, uint8(1), []byte{})
	f.Fuzz(func(t *testing.T, body []byte, getBody bool, noSlots uint8, final []byte) {
		noSlots %= 4
		var got [][]byte
		n := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = append(got, b)
			n++
			if n <= int(noSlots) {
				io.WriteString(w, CodeNoSlot)
				return
			}
			w.Write(final)
		})
		var rd io.Reader = bytes.NewReader(body)
		if !getBody {
			rd = io.MultiReader(rd) // hides the type: no GetBody
		}
		req, _ := http.NewRequest("POST", "http://provider.test/in.php", rd)
		sr := &SlotRetry{Base: memRT{h}, Backoff: Backoff{Initial: time.Nanosecond, Max: time.Nanosecond}}
		resp, err := sr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(answer, final) {
			t.Fatalf("answer = %q, %v; want %q", answer, err, final)
		}
		for i, b := range got {
			if !bytes.Equal(b, body) {
				t.Fatalf("attempt %d sent %q, want %q", i+1, b, body)
			}
		}
	})
}

// FuzzJSONScanners: the allocation-free scanner agrees with encoding/json
// on every input it accepts.
func FuzzJSONScanners(f *testing.F) {
	for _, s := range []string{
		`{"status":1,"request":"123"}`, `{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"x"}`,
		`{"status":0,"request":"a","status":1}`, `{"taskId":1e3,"errorId":0}`, `{"a":[1,2],"status":1}`,
		`{"request":"\u0041"}`, ` { } `, `{"status":01}`, `{"status":true,"request":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flat, ok := scanFlat(b)
		if !ok {
			return
		}
		std, ok := scanStd(b)
		if !ok {
			t.Fatalf("scanFlat accepted %q, encoding/json did not", b)
		}
		if !reflect.DeepEqual(normalize(flat), normalize(std)) {
			t.Fatalf("scanFlat(%q) = %+v, encoding/json %+v", b, flat, std)
		}
	})
}

func normalize(f jsonFields) [5]string {
	var out [5]string
	for i, v := range []jsonValue{f.status, f.request, f.errorID, f.errorCode, f.taskID} {
		out[i] = string(v.kind) + string(v.b)
	}
	return out
}

// FuzzParsePoll: any body reads as one of the three states without a
// panic, and only a body that parses as a poll answer ends a task.
func FuzzParsePoll(f *testing.F) {
	for _, s := range []string{"OK|x", CodeNotReady, `{"status":1,"request":"x"}`, `{"errorId":0,"status":"ready","solution":{}}`, "ERROR_CAPTCHA_UNSOLVABLE", "{"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		switch got := parsePoll(b); got {
		case pollEnded:
			if bytes.HasPrefix(bytes.TrimSpace(b), []byte("OK|")) {
				return
			}
			if _, ok := scanStd(bytes.TrimSpace(b)); !ok && !isCode(bytes.TrimSpace(b)) {
				t.Errorf("parsePoll(%q) = ended, but it is neither OK|, JSON nor a code", b)
			}
		case pollPending, pollUnknown:
		default:
			t.Errorf("parsePoll(%q) = %d", b, got)
		}
	})
}
