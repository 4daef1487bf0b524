package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // the message names it
	}{
		{[]string{"-slots", "-1"}, "-slots"},
		{[]string{"-slots", "x"}, "-slots"},
		{[]string{"-balance", "-1"}, "-balance"},
		{[]string{"-time-scale", "0"}, "-time-scale"},
		{[]string{"-time-scale", "NaN"}, "-time-scale"},
		{[]string{"-key", "short"}, "-key"},
		{[]string{"-key", captchaaitest.DefaultKey + "," + captchaaitest.DefaultKey}, "-key"},
		{[]string{"-solve", "30s-10s"}, "-solve"},
		{[]string{"-solve", "soon"}, "-solve"},
		{[]string{"-fault", "boom"}, "-fault"},
		{[]string{"-fault", "500", "-fault-rate", "1.5"}, "-fault-rate"},
		{[]string{"-fault-delay", "-1s"}, "-fault-delay"},
		{[]string{"-capacity", "5m"}, "-capacity"},
		{[]string{"-capacity", "5m:2,1m:3"}, "-capacity"},
		{[]string{"-capacity", "5m:-2"}, "-capacity"},
		{[]string{"-pool", "recaptcha"}, "-pool"},
		{[]string{"-pool", "recaptcha=-1"}, "-pool"},
		{[]string{"-pool", "userrecaptcha=4"}, "-pool"},
		{[]string{"-pool", "image=4,5m"}, "-pool image"},
		{[]string{"-pool", "image=4", "-pool", "image=2"}, "-pool"},
		{[]string{"-hours", "0,2,0,0"}, "-hours"},
		{[]string{"-hours", "peak"}, "-hours"},
		{[]string{"-start-hour", "24"}, "-start-hour"},
		{[]string{"-listen", "0.0.0.0:8098"}, "-public"},
		{[]string{"-listen", ":8098"}, "-public"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, "extra"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("run(%q) = %d, want 2", tc.args, code)
			}
			if !strings.Contains(stderr.String(), tc.flag) {
				t.Errorf("run(%q): stderr = %q, want it to name %s", tc.args, stderr.String(), tc.flag)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q): stdout = %q, want nothing", tc.args, stdout.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("run(-h) = %d, want 0", code)
	}
	// Every flag with its default.
	for _, want := range []string{
		`-listen address`, `(default "127.0.0.1:8098")`, `(default "` + captchaaitest.DefaultKey + `")`,
		"-slots int", "(default 5)", "(default 100)", "-time-scale", "(default 1)", "-bans", "(default true)",
		"-solve", "-fault kind", "(default none)", "-fault-rate", "(default 0.05)", "-fault-delay", "(default 10s)",
		"-capacity", "-hours", `(default "off")`, "-start-hour", "-seed", "-public",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run(-h): usage has no %q", want)
		}
	}
}

func TestFault(t *testing.T) {
	t.Run("500 on every submit", func(t *testing.T) {
		c := start(t, "-fault", "500", "-fault-rate", "1")
		for range 3 {
			if code, body := c.get(t, "/in.php", submitQuery(false)); code != 500 || !strings.Contains(body, "nginx") {
				t.Errorf("submit = %d %q, want 500 and nginx's page", code, body)
			}
		}
		// Polls are not faulted.
		poll := url.Values{"key": {captchaaitest.DefaultKey}, "action": {"get"}, "id": {"1"}}
		if code, body := c.get(t, "/res.php", poll); code != 200 || body != "ERROR_WRONG_CAPTCHA_ID" {
			t.Errorf("poll = %d %q, want 200 ERROR_WRONG_CAPTCHA_ID", code, body)
		}
		if a := c.stats(t).Accounts[captchaaitest.DefaultKey]; a.Accepted != 0 {
			t.Errorf("accepted = %d, want 0", a.Accepted)
		}
	})
	t.Run("no-slot on a share", func(t *testing.T) {
		c := start(t, "-fault", "no-slot", "-fault-rate", "0.5", "-slots", "1000", "-bans=false")
		const n = 100
		noSlot := 0
		for range n {
			if _, body := c.get(t, "/in.php", submitQuery(false)); body == "ERROR_NO_SLOT_AVAILABLE" {
				noSlot++
			}
		}
		if noSlot < 25 || noSlot > 75 {
			t.Errorf("NO_SLOT answers = %d of %d at -fault-rate 0.5, want about half", noSlot, n)
		}
		a := c.stats(t).Accounts[captchaaitest.DefaultKey]
		if a.Accepted+a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != n || a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != noSlot {
			t.Errorf("/stats = accepted %d, rejected %v; want %d accepted and %d NO_SLOT", a.Accepted, a.Rejected, n-noSlot, noSlot)
		}
	})
}

func TestBan1001(t *testing.T) {
	// No slots: every submit is NO_SLOT. The 120th in a rolling minute starts
	// the 10-minute block, so the 121st is ERROR: 1001. At -time-scale 30 a
	// minute lasts 2 s; 3 ms between submits (90 ms of provider time) keeps
	// under MAX_USER_TURN's 60 in 3 s, and 121 of them fit in the minute.
	c := start(t, "-slots", "0", "-time-scale", "30")
	for i := range 120 {
		if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
			t.Fatalf("submit %d = %q, want ERROR_NO_SLOT_AVAILABLE", i+1, body)
		}
		time.Sleep(3 * time.Millisecond)
	}
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR: 1001" {
		t.Fatalf("submit 121 = %q, want ERROR: 1001", body)
	}
	if _, body := c.get(t, "/in.php", submitQuery(true)); body != `{"status":0,"request":"ERROR: 1001"}` {
		t.Errorf("submit 122 in json=1 = %q, want the ban", body)
	}
	a := c.stats(t).Accounts[captchaaitest.DefaultKey]
	if a.Bans["ERROR: 1001"] != 1 || a.Rejected["ERROR: 1001"] != 2 || a.Rejected["ERROR_NO_SLOT_AVAILABLE"] != 120 {
		t.Errorf("/stats = bans %v, rejected %v; want one 1001, 120 NO_SLOT, 2 refused by the ban", a.Bans, a.Rejected)
	}
	c.stop(t)
	if out := c.stdout.String(); !strings.Contains(out, "bans           1 (ERROR: 1001 1)") {
		t.Errorf("stdout has no ban line:\n%s", out)
	}
}

func TestBansOff(t *testing.T) {
	c := start(t, "-slots", "0", "-bans=false")
	for i := range 130 {
		if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
			t.Fatalf("submit %d = %q, want ERROR_NO_SLOT_AVAILABLE with -bans=false", i+1, body)
		}
	}
}

func TestZeroBalance(t *testing.T) {
	c := start(t, "-balance", "0")
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_ZERO_BALANCE" {
		t.Errorf("submit with -balance 0 = %q, want ERROR_ZERO_BALANCE", body)
	}
}

func TestCapacity(t *testing.T) {
	// At 1000x, the step at 1m comes after 60 ms.
	c := start(t, "-slots", "0", "-capacity", "1m:3", "-time-scale", "1000", "-bans=false")
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
		t.Errorf("submit before the step = %q, want ERROR_NO_SLOT_AVAILABLE", body)
	}
	time.Sleep(100 * time.Millisecond)
	if _, body := c.get(t, "/in.php", submitQuery(false)); !strings.HasPrefix(body, "OK|") {
		t.Errorf("submit after the step = %q, want OK|id", body)
	}
	if got := c.stats(t).Accounts[captchaaitest.DefaultKey].Slots; got != 3 {
		t.Errorf("slots after the step = %d, want 3", got)
	}
}

// TestPool: a type's pool that runs out answers NO_SLOT to that type only,
// while the account's threads are free, and comes back at its step.
func TestPool(t *testing.T) {
	// At 1000x, the step at 1m comes after 60 ms.
	c := start(t, "-slots", "5", "-pool", "recaptcha=0,1m:2", "-pool", "image=3", "-time-scale", "1000", "-bans=false")
	image := submitQuery(false)
	image.Set("method", "base64")
	image.Set("body", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x89}, 200)))
	if _, body := c.get(t, "/in.php", submitQuery(false)); body != "ERROR_NO_SLOT_AVAILABLE" {
		t.Errorf("recaptcha during its outage = %q, want ERROR_NO_SLOT_AVAILABLE", body)
	}
	if _, body := c.get(t, "/in.php", image); !strings.HasPrefix(body, "OK|") {
		t.Errorf("image during the recaptcha outage = %q, want OK|id", body)
	}
	time.Sleep(100 * time.Millisecond)
	if _, body := c.get(t, "/in.php", submitQuery(false)); !strings.HasPrefix(body, "OK|") {
		t.Errorf("recaptcha after its pool's step = %q, want OK|id", body)
	}
}
