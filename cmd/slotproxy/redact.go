package main

import (
	"log"
	"log/slog"
	"strings"
)

// redactedLog is a *log.Logger, for http.Server and ReverseProxy, whose
// lines go to logger redacted.
func redactedLog(logger *slog.Logger) *log.Logger {
	return log.New(logWriter{logger}, "", 0)
}

type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	w.l.Warn("slotproxy: http", "error", redact(strings.TrimSpace(string(b))))
	return len(b), nil
}

// maxDecode is how many rounds of percent-decoding redact undoes; text
// still encoded after them is blanked whole.
const maxDecode = 4

// redact blanks what may carry an API key in text about to be logged (a
// path, a URL, an error): the query of any URL ("?..." up to a space or
// quote), and the value after any "key" followed by "=" or ":", in any
// case and with quotes around it (key=, KEY=, clientKey=,
// "clientKey":"..."). It decodes percent-escapes first, as often as they
// decode: a client can put its key in a path as /res.php%3Fkey%3D... (Go
// decodes that to "/res.php?key=..." in URL.Path; issue 11), or encode it
// twice, and a key in any of those forms must not reach the log.
func redact(s string) string {
	s, ok := decodeAll(s)
	if !ok {
		return "REDACTED (encoded too deep)"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '?' {
			b.WriteString("?REDACTED")
			i = skipTo(s, i+1, " \t\r\n\"'")
			continue
		}
		if len(s)-i >= 3 && strings.EqualFold(s[i:i+3], "key") {
			if v := valueStart(s, i+3); v >= 0 {
				b.WriteString(s[i:v] + "REDACTED")
				i = skipTo(s, v, " \t\r\n\"'&;,}")
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// valueStart returns where the value begins after a key's name that ends
// at i: past quotes and spaces, one "=" or ":", then quotes and spaces
// again. It returns -1 when neither "=" nor ":" follows the name.
func valueStart(s string, i int) int {
	i = skipOver(s, i, `"' `)
	if i == len(s) || s[i] != '=' && s[i] != ':' {
		return -1
	}
	return skipOver(s, i+1, `"' `)
}

// skipTo returns the index of the first byte from i on that is in stop.
func skipTo(s string, i int, stop string) int {
	for i < len(s) && strings.IndexByte(stop, s[i]) < 0 {
		i++
	}
	return i
}

// skipOver returns the index of the first byte from i on that is not in
// set.
func skipOver(s string, i int, set string) int {
	for i < len(s) && strings.IndexByte(set, s[i]) >= 0 {
		i++
	}
	return i
}

// decodeAll percent-decodes s until nothing is left to decode, at most
// maxDecode times; ok is false when s still decodes after that.
func decodeAll(s string) (_ string, ok bool) {
	for range maxDecode {
		d := unescape(s)
		if d == s {
			return s, true
		}
		s = d
	}
	return s, unescape(s) == s
}

// unescape decodes each valid %XX in s and keeps everything else as it is
// (url.PathUnescape gives up at the first invalid escape, which would let
// one stray "%" hide a key).
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
