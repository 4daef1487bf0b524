package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

const (
	runMark  = "<!-- run: "
	copyMark = "<!-- copy: "
	endMark  = "<!-- end -->"
)

// regenerate replaces the body of every run block of doc with what gen
// returns for its command (errSkip: the body stays), and returns the new
// document and each block's body by command.
func regenerate(doc []byte, gen func(cmd string) (string, error)) ([]byte, map[string]string, error) {
	bodies := map[string]string{}
	out, err := eachBlock(doc, runMark, func(cmd, body string) (string, error) {
		fresh, err := gen(cmd)
		if errors.Is(err, errSkip) {
			fresh = body
		} else if err != nil {
			return "", err
		}
		bodies[cmd] = fresh
		return fresh, nil
	})
	return out, bodies, err
}

// copyBlocks gives every copy block of doc the body of the run block of
// the same command.
func copyBlocks(doc []byte, bodies map[string]string) ([]byte, error) {
	return eachBlock(doc, copyMark, func(cmd, _ string) (string, error) {
		b, ok := bodies[cmd]
		if !ok {
			return "", fmt.Errorf("copy block %q: no run block of that command", cmd)
		}
		return b, nil
	})
}

// eachBlock calls f for each block opened by mark, and puts what it returns
// in the block's place.
func eachBlock(doc []byte, mark string, f func(cmd, body string) (string, error)) ([]byte, error) {
	var out bytes.Buffer
	rest := string(doc)
	line := 1
	for {
		i := strings.Index(rest, mark)
		if i < 0 {
			out.WriteString(rest)
			return out.Bytes(), nil
		}
		line += strings.Count(rest[:i], "\n")
		j := strings.Index(rest[i:], "-->")
		if j < 0 {
			return nil, fmt.Errorf("line %d: marker without -->", line)
		}
		cmd := strings.TrimSpace(rest[i+len(mark) : i+j])
		open := rest[i : i+j+len("-->")]
		after := rest[i+len(open):]
		after = strings.TrimPrefix(after, "\n")
		k := strings.Index(after, endMark)
		if k < 0 {
			return nil, fmt.Errorf("line %d: block %q has no %s", line, cmd, endMark)
		}
		if cmd == "" {
			return nil, fmt.Errorf("line %d: block without a command", line)
		}
		body, err := f(cmd, after[:k])
		if err != nil {
			return nil, err
		}
		out.WriteString(rest[:i])
		out.WriteString(open + "\n")
		out.WriteString(body)
		if body != "" && !strings.HasSuffix(body, "\n") {
			out.WriteString("\n")
		}
		out.WriteString(endMark)
		line += strings.Count(rest[i:i+len(open)+1+k], "\n")
		rest = after[k+len(endMark):]
	}
}
