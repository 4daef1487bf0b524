package main

// Real clients from other languages through slotproxy: Python with
// requests, and curl. They skip when the tool is missing, except under
// CI=true, where a missing tool fails the test (.ci/run installs them:
// apt-get install -y python3-requests curl).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotguard/slotguard/captchaaitest"
)

// need returns the path of tool, or skips the test (fails it under CI).
func need(t *testing.T, tool string, check ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil && len(check) > 0 {
		err = exec.Command(path, check...).Run()
	}
	if err != nil {
		msg := tool + " " + strings.Join(check, " ") + ": " + err.Error() +
			" (on Debian: apt-get install -y python3-requests curl)"
		if ci() {
			t.Fatal("CI=true and " + msg)
		}
		t.Skip("skipping: " + msg)
	}
	return path
}

func python(t *testing.T) string { return need(t, "python3", "-c", "import requests") }

// runPython runs the CaptchaAI-style client for tasks tasks through base
// and returns the tokens it printed.
func runPython(t *testing.T, base string, tasks int, extra ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args := append([]string{"testdata/captchaai_client.py", "--base", base, "--key", key,
		"--tasks", strconv.Itoa(tasks), "--scale", strconv.Itoa(scale), "--max-wait", "0.1"}, extra...)
	cmd := exec.CommandContext(ctx, python(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	return strings.Fields(string(out))
}

// checkOnce checks that every task was solved and billed exactly once.
func checkOnce(t *testing.T, srv *captchaaitest.Server, tokens []string, tasks int) {
	t.Helper()
	distinct := make(map[string]bool)
	for _, tok := range tokens {
		distinct[tok] = true
	}
	if len(tokens) != tasks || len(distinct) != tasks {
		t.Errorf("got %d tokens (%d distinct), want %d: %q", len(tokens), len(distinct), tasks, tokens)
	}
	if n := srv.Provider.Stats(key).Accepted; n != tasks {
		t.Errorf("provider billed %d tasks for %d, want each once", n, tasks)
	}
}

func TestPythonThroughNoSlotStorm(t *testing.T) {
	const tasks = 6
	srv := fakeProvider(t, noSlot(12))
	p := guarded(t, srv)
	tokens := runPython(t, p.URL, tasks)
	checkOnce(t, srv, tokens, tasks)
	if st := srv.Provider.Stats(key); st.Rejected[slotNoSlot] < 12 {
		t.Errorf("provider answered %d NO_SLOT, want at least the 12 injected", st.Rejected[slotNoSlot])
	}
}

// A slot outage long enough to open the breaker, and failing polls: the
// client sees 503 circuit-open (nothing sent) and waits; polls that fail
// are asked again; nothing is billed twice.
func TestPythonThroughOutage(t *testing.T) {
	const tasks = 6
	var (
		mu       sync.Mutex
		start    time.Time // the first submit: the outage lasts 400 ms from it
		badPolls int
	)
	srv := fakeProvider(t, func(fi captchaaitest.FaultInfo) captchaaitest.Fault {
		mu.Lock()
		if fi.Endpoint.Submit() && start.IsZero() {
			start = time.Now()
		}
		out := fi.Endpoint.Submit() && time.Since(start) < 400*time.Millisecond
		mu.Unlock()
		if out {
			return captchaaitest.Fault{Kind: captchaaitest.NoSlot}
		}
		if fi.Endpoint == captchaaitest.Res && fi.N%4 == 0 {
			mu.Lock()
			badPolls++
			mu.Unlock()
			return captchaaitest.Fault{Kind: captchaaitest.HTML502}
		}
		return captchaaitest.Fault{}
	})
	p := guarded(t, srv, "-attempts", "3", "-breaker-failures", "3")
	tokens := runPython(t, p.URL, tasks)
	checkOnce(t, srv, tokens, tasks)
	_, m := get(t, client(t), p.URL+"/metrics")
	if strings.Contains(m, "slotguard_breaker_opens_total 0") || strings.Contains(m, "slotguard_failed_fast_total 0") {
		t.Errorf("the breaker never opened or failed nothing fast:\n%s", grep(m, "slotguard_"))
	}
	mu.Lock()
	defer mu.Unlock()
	if badPolls == 0 {
		t.Errorf("no poll failed; the test lost its point")
	}
}

func grep(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// curl runs curl with args and returns what it printed.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(need(t, "curl"), append([]string{"-sS", "--max-time", "20"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// pollCurl polls res.php with curl until the answer.
func pollCurl(t *testing.T, base, id string, args ...string) string {
	t.Helper()
	for range 100 {
		got := curl(t, append(args, base+"/res.php?action=get&key="+key+"&id="+id)...)
		if got != "CAPCHA_NOT_READY" {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("task %s never solved", id)
	return ""
}

func TestCurlThroughNoSlotStorm(t *testing.T) {
	need(t, "curl")
	srv := fakeProvider(t, noSlot(4))
	p := guarded(t, srv)

	form := []string{"-d", "key=" + key, "-d", "method=userrecaptcha",
		"-d", "googlekey=6Le-wvkSAAAAAPBMRTvw0Q4Muexq9bi0DJwx_mJ-", "-d", "pageurl=https://example.com/"}
	if got := curl(t, append(form, p.URL+"/in.php")...); got != "OK|1" {
		t.Errorf("curl submit = %q, want OK|1", got)
	}
	img := filepath.Join(t.TempDir(), "captcha.png")
	if err := os.WriteFile(img, make([]byte, 1500), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := curl(t, "-F", "key="+key, "-F", "method=post", "-F", "file=@"+img, p.URL+"/in.php"); got != "OK|2" {
		t.Errorf("curl multipart upload = %q, want OK|2", got)
	}
	if got := pollCurl(t, p.URL, "1"); got != "OK|token1" {
		t.Errorf("curl poll = %q, want OK|token1", got)
	}
	if st := srv.Provider.Stats(key); st.Accepted != 2 || st.Rejected[slotNoSlot] != 4 {
		t.Errorf("provider: %d billed, %d NO_SLOT; want 2, 4", st.Accepted, st.Rejected[slotNoSlot])
	}
}

// selfSigned makes a CA and a certificate it signs for 127.0.0.1, ::1 and
// localhost (a self-signed leaf fails Python's strict verification), and
// writes the CA (for --cacert), the certificate and its key to dir.
func selfSigned(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := newKey(), newKey()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slotproxy test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER),
		write("key.pem", "PRIVATE KEY", keyDER), pool
}

// Clients that take a server name but force https (the official Python
// client does) reach slotproxy over TLS on loopback.
func TestTLS(t *testing.T) {
	caFile, certFile, keyFile, pool := selfSigned(t, t.TempDir())
	srv := fakeProvider(t, noSlot(2))
	p := guarded(t, srv, "-tls-cert", certFile, "-tls-key", keyFile)
	if !strings.HasPrefix(p.URL, "https://") {
		t.Fatalf("serving %s, want https", p.URL)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	if _, got := postForm(t, c, p.URL+"/in.php", recaptcha()); got != "OK|1" {
		t.Errorf("Go https submit = %q, want OK|1", got)
	}
	if _, err := exec.LookPath("curl"); err == nil || ci() {
		if got := pollCurl(t, p.URL, "1", "--cacert", caFile); got != "OK|token1" {
			t.Errorf("curl --cacert poll = %q, want OK|token1", got)
		}
	}
	if _, err := exec.LookPath("python3"); err == nil || ci() {
		tokens := runPython(t, p.URL, 3, "--cafile", caFile)
		if len(tokens) != 3 {
			t.Errorf("python over https: %d tokens, want 3", len(tokens))
		}
	}
	if n := srv.Provider.Stats(key).Accepted; n != 4 {
		t.Errorf("provider billed %d, want 4", n)
	}
}
