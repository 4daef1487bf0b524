// Package captchaaitest is a fake CaptchaAI / 2captcha provider for tests and
// benchmarks, in the manner of net/http/httptest. It never touches the
// internet.
//
//	p := captchaaitest.New(captchaaitest.Config{}) // one account: DefaultKey
//	client := p.Client()                            // in memory: fine in synctest bubbles
//
//	srv := captchaaitest.NewServer(captchaaitest.Config{}) // or loopback
//	client = srv.Client()                                  // requests to srv.URL
//
// # What it models
//
// The v1 API, in.php (submit) and res.php (action=get, getbalance,
// reportbad), by GET or POST (urlencoded, or multipart with the image in the
// field "file"), answering plain text ("OK|123", "ERROR_NO_SLOT_AVAILABLE")
// or, with json=1, {"status":1,"request":"123"}. The v2 JSON API, createTask
// and getTaskResult, answering {"errorId":0,"taskId":123} or
// {"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE",...}. Any path prefix
// works: the suffix picks the endpoint.
//
// Accounts by API key, each with worker slots (threads) and a balance. An
// accepted task is billed its method's price and holds one slot for a solve
// time drawn uniformly from its method's range (DefaultMethods) with a
// generator seeded by Config.Seed. A submit that finds every slot busy is
// answered ERROR_NO_SLOT_AVAILABLE and not billed. Account.Capacity changes
// the slot count over provider time (capacity that collapses and recovers):
// accepted tasks keep their slots when it drops, and submits get NO_SLOT
// until the slots held fall below the new count. Config.Pools gives the
// provider's workers per captcha type (PoolOf: image, recaptcha, hcaptcha,
// ...), shared by all accounts and changing over provider time the same way:
// a type whose workers are all busy, or that has none (an outage), is
// answered NO_SLOT while the other types, on the same key, are accepted. With
// Config.SharedPool, other customers' load refuses some submits of every type
// by time of day as well, at random.
//
// The published penalties, each on unless its Config field turns it off:
//
//	ERROR: 1001     120 NO_SLOT answers in a rolling minute: in.php blocked 10 min
//	ERROR: 1002     120 ZERO_BALANCE answers in a rolling minute: blocked 5 min
//	ERROR: 1003     NO_SLOT >= 3 x accepted in a minute, once NO_SLOT >= 120: 30 s
//	MAX_USER_TURN   more than 60 in.php requests within 3 s: 10 s
//	ERROR: 1005     res.php requests > 20 x accepted + 1200 in a rolling hour: 10 min
//
// A poll before the task is solved is answered CAPCHA_NOT_READY (v2:
// "status":"processing"). A solved task is remembered for 10 minutes of
// provider time; from then on its id is unknown, as one never given:
// ERROR_WRONG_CAPTCHA_ID (v2: ERROR_NO_SUCH_CAPCHA_ID). Faults are injected
// per request by Config.Faults: HTTP 500 and 502 pages, connection resets, a
// task accepted and billed whose answer is lost, bodies cut short, slow
// headers or body, gzip, forced NO_SLOT answers.
//
// # Time
//
// The provider reads time.Now and sets time.NewTimer directly, with no clock
// to inject: tests control it with testing/synctest. Nothing runs in the
// background; a slot frees when its task's solve time has passed, computed
// from timestamps when asked. Config.TimeScale compresses every provider
// duration (solve times, windows, bans, fault delays) so that a benchmark can
// run minutes of provider time in seconds; Stats report provider time.
//
// A long run holds flat memory: nothing is kept per request or per task for
// ever. The rolling windows of the penalties hold the events of their width
// (an hour at most), turned off or not, and the task map the tasks not yet
// forgotten; only Stats.NoSlotPerMinute grows, by one int a provider minute.
//
// # Accounting
//
// Provider.Stats returns, per key, the tasks accepted, the submits refused
// by code, the polls, the bans started by code, the most requests in flight
// at once, the slot time offered, held and used (Stats.Utilization: used
// over offered, where used counts the slots held only up to the slot count
// of the moment), NO_SLOT answers per provider minute, and the submits
// accepted and refused NO_SLOT by captcha type (Stats.ByType, at most 32
// types, the rest under "other"). The package never
// logs, and never prints a key.
package captchaaitest
