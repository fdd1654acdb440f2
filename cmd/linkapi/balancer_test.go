package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// balancer is a load balancer of the kind that sits in front of several
// instances (HAProxy, Envoy, a Kubernetes Service): it checks each backend's
// /readyz every interval and sends a request only to a backend whose last check
// passed, round-robin, over a pool of keep-alive connections. It never retries:
// the client sees exactly what the backend did. A request the backend did not
// answer is a 502 whose X-Balancer-Error says why ("refused": the connection was
// refused, the request never reached the backend; "no answer": it was sent and
// the connection ended without a response), and a request with no ready backend
// a 503 with X-Balancer-Error "no backend". Every answer from a backend carries
// X-Backend, the backend's name.
type balancer struct {
	interval  time.Duration
	transport *http.Transport
	check     *http.Client

	mu       sync.Mutex
	backends []*backend
	next     int

	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
}

// backend is one instance behind a balancer.
type backend struct {
	name  string
	proxy *httputil.ReverseProxy
	ready atomic.Bool
}

// newBalancer returns a balancer that checks its backends every interval, each
// check waiting up to timeout (as Kubernetes' timeoutSeconds, so that a loaded
// backend that answers slowly is not taken for a failing one), and keeps up to
// conns idle connections to each; stop ends the checks.
func newBalancer(interval, timeout time.Duration, conns int) *balancer {
	ctx, cancel := context.WithCancel(context.Background())
	return &balancer{
		interval:  interval,
		transport: &http.Transport{MaxIdleConns: 4 * conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second},
		check:     &http.Client{Timeout: timeout},
		ctx:       ctx, cancel: cancel,
	}
}

// add puts the instance at addr behind the balancer, under name. It gets no
// request before its first check passes.
func (b *balancer) add(name, addr string) *backend {
	target := &url.URL{Scheme: "http", Host: addr}
	be := &backend{name: name}
	be.proxy = &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: b.transport,
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set("X-Backend", name)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			why := "no answer"
			if errors.Is(err, syscall.ECONNREFUSED) {
				why = "refused"
			}
			w.Header().Set("X-Backend", name)
			w.Header().Set("X-Balancer-Error", why)
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	b.mu.Lock()
	b.backends = append(b.backends, be)
	b.mu.Unlock()
	b.running.Go(func() {
		t := time.NewTicker(b.interval)
		defer t.Stop()
		for {
			be.ready.Store(b.readyz(addr))
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return be
}

// readyz reports whether the instance at addr answers /readyz with 200.
func (b *balancer) readyz(addr string) bool {
	req, _ := http.NewRequestWithContext(b.ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	res, err := b.check.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// pick returns the next ready backend, round-robin, or nil when none is.
func (b *balancer) pick() *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		be := b.backends[b.next%len(b.backends)]
		b.next++
		if be.ready.Load() {
			return be
		}
	}
	return nil
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	be := b.pick()
	if be == nil {
		w.Header().Set("X-Balancer-Error", "no backend")
		http.Error(w, "no backend is ready", http.StatusServiceUnavailable)
		return
	}
	be.proxy.ServeHTTP(w, r)
}

// stop ends the checks and closes the pooled connections.
func (b *balancer) stop() {
	b.cancel()
	b.running.Wait()
	b.transport.CloseIdleConnections()
}
