package main

// This file is compiled twice: into linkbench itself (which serves the floor in a
// child process), and, through `go build -overlay`, into the linkapi binary that the
// benchmark builds, without touching cmd/linkapi's sources. When
// LINKBENCH_STATS_ADDR is set, it serves the process's allocation counters and a
// CPU profile on that loopback address, so the benchmark can measure allocations
// per request on the server side. Every name is prefixed so that it cannot clash
// with the package it is compiled into.

import (
	lbjson "encoding/json"
	lbnet "net"
	lbhttp "net/http"
	lbpprof "net/http/pprof"
	lbos "os"
	lbruntime "runtime"
)

// linkbenchStatsEnv names the variable holding the address of the stats listener.
const linkbenchStatsEnv = "LINKBENCH_STATS_ADDR"

// linkbenchMemStats is what GET /memstats returns.
type linkbenchMemStats struct {
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"total_alloc"`
	NumGC      uint32 `json:"num_gc"`
}

func init() {
	addr := lbos.Getenv(linkbenchStatsEnv)
	if addr == "" {
		return
	}
	ln, err := lbnet.Listen("tcp", addr)
	if err != nil {
		lbos.Stderr.WriteString("linkbench stats: " + err.Error() + "\n")
		return
	}
	mux := lbhttp.NewServeMux()
	mux.HandleFunc("/memstats", func(w lbhttp.ResponseWriter, r *lbhttp.Request) {
		var m lbruntime.MemStats
		lbruntime.ReadMemStats(&m)
		lbjson.NewEncoder(w).Encode(linkbenchMemStats{Mallocs: m.Mallocs, TotalAlloc: m.TotalAlloc, NumGC: m.NumGC})
	})
	mux.HandleFunc("/debug/pprof/profile", lbpprof.Profile)
	mux.Handle("/debug/pprof/allocs", lbpprof.Handler("allocs"))
	go lbhttp.Serve(ln, mux)
}
