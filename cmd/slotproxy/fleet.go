package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slotguard/slotguard/redisguard"
)

// joinFleet puts the pace, the ban budget, the breaker and the thread
// permits of -redis-key in Redis at -redis (redisguard), shared with every
// slotproxy pointed at the same Redis and key, and returns what closes the
// client.
//
// A Fleet is one API key's: its lines are that key's bans. slotproxy serves
// that one key when -redis is given (requests with another are refused,
// 403 wrong-key) rather than build fleets per key seen: a key's state in
// Redis is only worth sharing when every process that uses the key shares
// it, which is the operator's setup, not something a proxy can find out.
//
// -rate, -burst and the -budget lines are then the fleet's, all
// slotproxies together; each slotproxy's own stay on top of them.
func (o *options) joinFleet(logger *slog.Logger) (func(), error) {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  o.redisAddr,
		ContextTimeoutEnabled: true, // redisguard bounds each call with it
	})
	fleet, err := redisguard.New(rdb, o.redisKey, redisguard.Config{
		Rate:      o.cfg.Rate,
		Burst:     o.cfg.Burst,
		Budget:    o.cfg.Budget,
		TimeScale: o.cfg.TimeScale,
	})
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("slotproxy: -redis: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := fleet.Load(ctx); err != nil {
		// Not fatal: while Redis is away, slotguard runs on this
		// process's own limits, and joins the fleet when it answers.
		logger.Warn("slotproxy: -redis: not answering, local limits stand in until it does", "error", redact(err.Error()))
	}
	o.cfg.Shared = fleet.Shared()
	return func() { rdb.Close() }, nil
}

// wrongKey is the answer to a request with another key than -redis-key.
func wrongKey() *failure {
	return &failure{status: http.StatusForbidden, side: sideClient, kind: "wrong-key",
		msg: "this slotproxy shares one API key's limits through -redis and serves that key only"}
}

// requestKey is the API key r carries: clientKey in a JSON body (the v2
// API: createTask, getTaskResult, getBalance), else key= in the form or
// the query (the form wins). r's body is read through GetBody, so r itself
// is untouched.
func requestKey(r *http.Request) string {
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, _ := io.ReadAll(body)
			body.Close()
			if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
				var v struct {
					ClientKey string `json:"clientKey"`
				}
				json.Unmarshal(b, &v)
				return v.ClientKey
			}
		}
	}
	return formValue(r, "key")
}

// formValue is r.FormValue(name), read from a clone of r through GetBody.
func formValue(r *http.Request, name string) string {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	if r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			c.Body = body
			defer body.Close()
		}
	}
	c.Form, c.PostForm, c.MultipartForm = nil, nil, nil
	if err := c.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		c.ParseForm()
	}
	if c.MultipartForm != nil {
		c.MultipartForm.RemoveAll()
	}
	return c.FormValue(name)
}
