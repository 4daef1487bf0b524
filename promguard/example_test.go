package promguard_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slotguard/slotguard"
	"github.com/slotguard/slotguard/captchaaitest"
	"github.com/slotguard/slotguard/promguard"
)

// Register a Transport's collector, send a submit, and read what a scrape
// would see. A real program serves the registry with promhttp.Handler.
func Example() {
	provider := captchaaitest.New(captchaaitest.Config{}) // in memory, never the internet
	defer provider.Close()
	tr, err := slotguard.New(provider.Transport(), slotguard.Config{Threads: slotguard.Threads{Enabled: true}})
	if err != nil {
		fmt.Println(err)
		return
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promguard.New(tr, promguard.Options{}))

	resp, err := (&http.Client{Transport: tr}).PostForm("https://ocr.captchaai.com/in.php", url.Values{
		"key": {captchaaitest.DefaultKey}, "method": {"userrecaptcha"},
		"googlekey": {"6Le-x"}, "pageurl": {"https://example.com/"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(answer))

	families, err := reg.Gather() // sorted by name
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range families {
		if m := mf.GetMetric(); len(m) == 1 {
			fmt.Println(mf.GetName(), m[0].GetCounter().GetValue()+m[0].GetGauge().GetValue())
		} else {
			fmt.Println(mf.GetName(), len(m), "series")
		}
	}
	// Output:
	// OK|1
	// slotguard_accepted_total 1
	// slotguard_answers_total 0
	// slotguard_attempts_total 1
	// slotguard_breaker_opens_total 0
	// slotguard_breaker_state 3 series
	// slotguard_failed_fast_total 0
	// slotguard_in_flight 0
	// slotguard_no_slot_headroom 110
	// slotguard_polls_total 0
	// slotguard_rate 2
	// slotguard_retries_total 0
	// slotguard_shared_down 0
	// slotguard_submit_headroom 49
	// slotguard_submits_total 1
	// slotguard_thread_capacity 1
	// slotguard_thread_expected_wait_seconds 0
	// slotguard_thread_limit 3
	// slotguard_thread_permits_held 1
	// slotguard_thread_releases_total 4 series
	// slotguard_thread_tasks 1
	// slotguard_thread_waiters 0
	// slotguard_transport_errors_total 0
	// slotguard_type_accepted_total 1
	// slotguard_type_attempts_total 1
	// slotguard_type_breaker_state 3 series
	// slotguard_type_no_slot_total 0
	// slotguard_type_thread_capacity 1
	// slotguard_type_thread_limit 3
	// slotguard_type_thread_permits_held 1
	// slotguard_type_thread_waiters 0
	// slotguard_wait_seconds_total 6 series
}
