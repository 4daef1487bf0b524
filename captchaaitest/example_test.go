package captchaaitest_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// fetch GETs url with client and returns the answer's body.
func fetch(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A submit, NO_SLOT while the only slot is busy, then polling to the
// solution, all in memory.
func Example() {
	p := captchaaitest.New(captchaaitest.Config{
		Accounts: []captchaaitest.Account{{Key: captchaaitest.DefaultKey, Slots: 1}},
		Methods: map[string]captchaaitest.Method{
			"userrecaptcha": {MinSolve: 20 * time.Second, MaxSolve: 20 * time.Second, Price: 0.003},
		},
		TimeScale: 200, // the 20 s solve lasts 100 ms
	})
	defer p.Close()
	client := p.Client() // any host: the path picks the endpoint

	submit := url.Values{
		"key":       {captchaaitest.DefaultKey},
		"method":    {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"},
		"pageurl":   {"https://example.com/login"},
	}
	fmt.Println(fetch(client, "https://ocr.captchaai.com/in.php?"+submit.Encode()))
	fmt.Println(fetch(client, "https://ocr.captchaai.com/in.php?"+submit.Encode()))

	res := "https://ocr.captchaai.com/res.php?key=" + captchaaitest.DefaultKey + "&action=get&id=1"
	fmt.Println(fetch(client, res))
	time.Sleep(100 * time.Millisecond)
	fmt.Println(fetch(client, res))

	st := p.Stats(captchaaitest.DefaultKey)
	fmt.Println(st.Accepted, st.Rejected, st.Polls)
	// Output:
	// OK|1
	// ERROR_NO_SLOT_AVAILABLE
	// CAPCHA_NOT_READY
	// OK|token1
	// 1 map[ERROR_NO_SLOT_AVAILABLE:1] 2
}

// Over loopback, in JSON mode.
func ExampleNewServer() {
	srv := captchaaitest.NewServer(captchaaitest.Config{})
	defer srv.Close()

	form := url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"turnstile"}, "json": {"1"},
		"sitekey": {"0x4AAAAAAA"}, "pageurl": {"https://example.com/"},
	}
	resp, err := srv.Client().PostForm(srv.URL+"/in.php", form)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output:
	// {"status":1,"request":"1"}
}

// The v2 JSON API: createTask answers NO_SLOT with errorId 2.
func ExampleFirstSubmits() {
	p := captchaaitest.New(captchaaitest.Config{
		// The first submit finds every slot busy; then normal service.
		Faults: captchaaitest.FirstSubmits(1, captchaaitest.Fault{Kind: captchaaitest.NoSlot}),
	})
	defer p.Close()
	task := `{"clientKey":"` + captchaaitest.DefaultKey + `","task":{"type":"HCaptchaTaskProxyless",` +
		`"websiteURL":"https://example.com/","websiteKey":"10000000-ffff-ffff-ffff-000000000001"}}`
	for range 2 {
		resp, err := p.Client().Post("https://api.2captcha.com/createTask", "application/json", strings.NewReader(task))
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(b))
	}
	// Output:
	// {"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"No idle workers are available at the moment."}
	// {"errorId":0,"taskId":1}
}

// A reCAPTCHA outage: the type's pool has no workers, so its submits get
// NO_SLOT while image submits on the same key go through.
func ExamplePool() {
	p := captchaaitest.New(captchaaitest.Config{
		Pools: map[string]captchaaitest.Pool{
			captchaaitest.PoolOf("userrecaptcha"): {Workers: 0}, // "recaptcha"
		},
	})
	defer p.Close()
	client := p.Client()

	token := url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"},
		"googlekey": {"6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-"}, "pageurl": {"https://example.com/"},
	}
	image := url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"base64"},
		"body": {base64.StdEncoding.EncodeToString(make([]byte, 100))},
	}
	fmt.Println(fetch(client, "https://ocr.captchaai.com/in.php?"+token.Encode()))
	fmt.Println(fetch(client, "https://ocr.captchaai.com/in.php?"+image.Encode()))

	st := p.Stats(captchaaitest.DefaultKey)
	fmt.Printf("%+v\n", st.ByType["recaptcha"])
	fmt.Printf("%+v\n", st.ByType["image"])
	// Output:
	// ERROR_NO_SLOT_AVAILABLE
	// OK|1
	// {Accepted:0 NoSlot:1 PoolNoSlot:1}
	// {Accepted:1 NoSlot:0 PoolNoSlot:0}
}
