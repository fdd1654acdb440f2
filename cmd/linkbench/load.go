package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// request is one GraphQL request a client sends.
type request struct {
	body          []byte
	authorization string // the whole header value, or empty
}

// graphQLBody encodes a GraphQL request body.
func graphQLBody(query string, variables map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		panic(err)
	}
	return b
}

// group is a number of clients sending one kind of request to one server.
type group struct {
	name    string
	url     string
	clients int
	next    func(client, seq int) request
}

// result is what one group measured.
type result struct {
	name       string
	clients    int
	requests   int
	errors     int
	elapsed    time.Duration
	latencies  []time.Duration // sorted
	firstError string
}

func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r *result) percentile(p float64) time.Duration { return percentile(r.latencies, p) }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted
// latencies, or 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(n))) - 1
	return sorted[min(max(k, 0), n-1)]
}

// drive runs every group's clients at once for warmup+duration. Only requests that
// start after the warmup count; measure is called as measuring starts and returns a
// function called as it ends.
func drive(ctx context.Context, hc *http.Client, warmup, duration time.Duration, groups []group, measure func() func()) []*result {
	start := time.Now()
	t0, end := start.Add(warmup), start.Add(warmup+duration)
	results := make([]*result, len(groups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for gi, g := range groups {
		results[gi] = &result{name: g.name, clients: g.clients, elapsed: duration}
		for c := range g.clients {
			wg.Go(func() {
				var lat []time.Duration
				var errs int
				var first string
				var buf bytes.Buffer
				for seq := 0; ctx.Err() == nil; seq++ {
					began := time.Now()
					if !began.Before(end) {
						break
					}
					ok, msg := send(ctx, hc, g.url, g.next(c, seq), &buf)
					if began.Before(t0) {
						continue
					}
					lat = append(lat, time.Since(began))
					if !ok {
						errs++
						if first == "" {
							first = msg
						}
					}
				}
				mu.Lock()
				defer mu.Unlock()
				r := results[gi]
				r.latencies = append(r.latencies, lat...)
				r.requests += len(lat)
				r.errors += errs
				if r.firstError == "" {
					r.firstError = first
				}
			})
		}
	}
	time.Sleep(time.Until(t0))
	done := measure()
	time.Sleep(time.Until(end))
	done()
	wg.Wait()
	for _, r := range results {
		slices.Sort(r.latencies)
	}
	return results
}

var errorsKey = []byte(`"errors"`)

// send posts req and reports whether it succeeded: HTTP 200 and no GraphQL errors.
// Otherwise it returns a short description of the failure.
func send(ctx context.Context, hc *http.Client, url string, req request, buf *bytes.Buffer) (bool, string) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req.body))
	if err != nil {
		return false, err.Error()
	}
	hr.Header.Set("Content-Type", "application/json")
	if req.authorization != "" {
		hr.Header.Set("Authorization", req.authorization)
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return false, err.Error()
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err.Error()
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(buf.Bytes(), errorsKey) {
		body := buf.String()
		if len(body) > 200 {
			body = body[:200] + "…"
		}
		return false, "HTTP " + strconv.Itoa(resp.StatusCode) + ": " + body
	}
	return true, ""
}
