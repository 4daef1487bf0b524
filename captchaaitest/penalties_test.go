package captchaaitest

import (
	"net/url"
	"testing"
	"testing/synctest"
	"time"
)

// full is an account whose one slot is taken for an hour, so that every
// further submit is NO_SLOT.
func full(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.Accounts = []Account{{Key: DefaultKey, Slots: 1}}
	cfg.Methods = map[string]Method{"userrecaptcha": fixed(time.Hour)}
	p := New(cfg)
	if got := submit(t, p); got != "OK|1" {
		t.Fatalf("first submit = %q, want OK|1", got)
	}
	return p
}

// submits sends n submits and fails unless each is answered want.
func submits(t *testing.T, p *Provider, n int, want string, extra ...string) {
	t.Helper()
	for i := range n {
		if got := submit(t, p, extra...); got != want {
			t.Fatalf("submit #%d = %q, want %q", i+1, got, want)
		}
	}
}

// banLifts checks that submits are answered code until exactly d from now,
// then after.
func banLifts(t *testing.T, p *Provider, code string, d time.Duration, after string) {
	t.Helper()
	start := time.Now()
	submits(t, p, 1, code)
	time.Sleep(d - time.Nanosecond)
	submits(t, p, 1, code)
	time.Sleep(time.Nanosecond)
	if got := time.Since(start); got != d {
		t.Fatalf("time.Since(start) = %v, want %v", got, d)
	}
	submits(t, p, 1, after)
}

func Test1001(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Spaced 0.4 s apart, 120 NO_SLOT answers take 47.6 s: inside one
		// minute, and never more than 60 in.php requests in 3 s.
		p := full(t, Config{})
		defer p.Close()
		for i := range limit1001 {
			if i > 0 {
				time.Sleep(400 * time.Millisecond)
			}
			submits(t, p, 1, codeNoSlot)
		}
		// The 120th was still NO_SLOT; the block starts after it.
		banLifts(t, p, codeBan1001, 10*time.Minute, codeNoSlot)
		st := p.Stats(DefaultKey)
		if st.Bans[codeBan1001] != 1 || st.Rejected[codeBan1001] != 2 || st.Rejected[codeNoSlot] != limit1001+1 {
			t.Errorf("Stats: bans %v, rejected %v; want one 1001 ban, two 1001 answers, 121 NO_SLOT", st.Bans, st.Rejected)
		}
		if got := st.Bans[codeMaxUserTurn]; got != 0 {
			t.Errorf("Stats.Bans[MAX_USER_TURN] = %d, want 0", got)
		}
	})
}

func Test1001Rolling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := full(t, Config{NoMaxUserTurn: true})
		defer p.Close()
		submits(t, p, limit1001-1, codeNoSlot)
		time.Sleep(time.Minute) // the 119 leave the window
		submits(t, p, limit1001-1, codeNoSlot)
		submits(t, p, 1, `{"status":0,"request":"ERROR_NO_SLOT_AVAILABLE"}`, "json", "1") // 120th
		if got, want := submit(t, p, "json", "1"), `{"status":0,"request":"ERROR: 1001"}`; got != want {
			t.Errorf("submit after the 120th NO_SLOT = %s, want %s", got, want)
		}
	})
}

func Test1001Off(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := full(t, Config{No1001: true, No1003: true, NoMaxUserTurn: true})
		defer p.Close()
		submits(t, p, 3*limit1001, codeNoSlot)
		if got := p.Stats(DefaultKey).Bans; len(got) != 0 {
			t.Errorf("Stats.Bans with the bans off = %v, want none", got)
		}
	})
}

func Test1003(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 41 accepted: the ratio needs 123 NO_SLOT answers, past the 120 that
		// make it count.
		p := New(Config{
			Accounts:      []Account{{Key: DefaultKey, Slots: 41}},
			Methods:       map[string]Method{"userrecaptcha": fixed(time.Hour)},
			No1001:        true,
			NoMaxUserTurn: true,
		})
		defer p.Close()
		for range 41 {
			submit(t, p)
		}
		submits(t, p, 3*41, codeNoSlot)
		banLifts(t, p, codeBan1003, 30*time.Second, codeNoSlot)
		if got := p.Stats(DefaultKey).Bans[codeBan1003]; got != 1 {
			t.Errorf("Stats.Bans[1003] = %d, want 1", got)
		}
	})
}

func TestMaxUserTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Accounts: []Account{{Key: DefaultKey, Slots: 100}}})
		defer p.Close()
		for i := range limitTurn {
			if got, want := submit(t, p), "OK|"+itoa(i+1); got != want {
				t.Fatalf("submit #%d = %q, want %q", i+1, got, want)
			}
		}
		// The 61st within 3 s is refused itself, and starts the block.
		banLifts(t, p, codeMaxUserTurn, banTurn, "OK|61")
		if got := p.Stats(DefaultKey).Bans[codeMaxUserTurn]; got != 1 {
			t.Errorf("Stats.Bans[MAX_USER_TURN] = %d, want 1", got)
		}
	})
}

func TestMaxUserTurnWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Accounts: []Account{{Key: DefaultKey, Slots: 200}}})
		defer p.Close()
		// 60 requests, then 60 more exactly 3 s later: never 61 within 3 s.
		for range 2 {
			for range limitTurn {
				if got := submit(t, p); got[:3] != "OK|" {
					t.Fatalf("submit = %q, want OK|...", got)
				}
			}
			time.Sleep(windowTurn)
		}
	})
}

func Test1002(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{Accounts: []Account{{Key: DefaultKey, Balance: 0.000001}}, NoMaxUserTurn: true})
		defer p.Close()
		submits(t, p, limit1002, codeZeroBalance)
		banLifts(t, p, codeBan1002, ban1002, codeZeroBalance)
	})
}

func Test1005(t *testing.T) {
	tests := []struct {
		name     string
		accepted int
	}{
		{"no tasks", 0},
		{"two tasks", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(Config{})
				defer p.Close()
				for i := range tt.accepted {
					submits(t, p, 1, "OK|"+itoa(i+1))
				}
				bal := url.Values{"key": {DefaultKey}, "action": {"getbalance"}}
				limit := factor1005*tt.accepted + base1005
				for i := range limit {
					if got := get(t, p.Transport(), base, "/res.php", bal); got == codeBan1005 {
						t.Fatalf("res.php #%d = %q, want the balance", i+1, got)
					}
				}
				start := time.Now()
				polls := func(want string) {
					t.Helper()
					if got := poll(t, p, "1"); got != want {
						t.Fatalf("poll at %v = %q, want %q", time.Since(start), got, want)
					}
				}
				polls(codeBan1005) // one over the limit: refused, block starts
				time.Sleep(ban1005 - time.Nanosecond)
				polls(codeBan1005)
				time.Sleep(time.Nanosecond)
				if tt.accepted == 0 {
					polls(codeWrongCaptcha)
				} else {
					polls("OK|token1")
				}
				if got := p.Stats(DefaultKey).Bans[codeBan1005]; got != 1 {
					t.Errorf("Stats.Bans[1005] = %d, want 1", got)
				}
			})
		})
	}
}
