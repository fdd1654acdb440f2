// Command linkbench is linkapi's load benchmark. It seeds a scratch database (SQLite,
// or MySQL/MariaDB from LINKAPI_BENCH_MYSQL_URL), builds and starts the real server
// as a child process on loopback, starts the floor (a minimal net/http +
// database/sql + encoding/json server for the same `me` and links queries) the same
// way, drives concurrent clients at both for a fixed time per scenario, and prints
// requests/s, latency percentiles, errors, server-side allocations and CPU per
// request, peak RSS, and linkapi's throughput as a ratio of the floor's.
//
//	go run ./cmd/linkbench --db sqlite --duration 10s
//	LINKAPI_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/linkapi_bench go run ./cmd/linkbench --db mysql
//
// `linkbench floor-serve` is the floor's process; linkbench starts it itself.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "floor-serve" {
		err = floorServe(ctx)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "linkbench:", err)
		os.Exit(1)
	}
}

type options struct {
	db                  string
	mysqlURL            string
	seed                seedSpec
	clients, loginFlood int
	duration, warmup    time.Duration
	scenarios           map[string]bool
	cpuProfile          string
	floorInProcess      bool
	rounds              int
}

func parseOptions(args []string) (*options, error) {
	o := &options{mysqlURL: os.Getenv("LINKAPI_BENCH_MYSQL_URL")}
	if o.mysqlURL == "" {
		o.mysqlURL = "mysql://root@127.0.0.1:3306/linkapi_bench"
	}
	fs := flag.NewFlagSet("linkbench", flag.ContinueOnError)
	fs.StringVar(&o.db, "db", "sqlite", "database: sqlite (a temporary file) or mysql (LINKAPI_BENCH_MYSQL_URL, dropped and re-created)")
	fs.IntVar(&o.seed.Accounts, "accounts", 50, "accounts to seed")
	fs.IntVar(&o.seed.Links, "links", 100, "links per account")
	fs.IntVar(&o.seed.TagsPerLink, "tags", 3, "tags per link")
	fs.IntVar(&o.seed.TagPool, "tag-pool", 20, "tags per account")
	fs.IntVar(&o.clients, "clients", 64, "concurrent clients")
	fs.IntVar(&o.loginFlood, "login-clients", 32, "clients logging in during the me-during-login-flood scenario")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each scenario (and each round)")
	fs.IntVar(&o.rounds, "rounds", 2, "alternating linkapi/floor rounds that share --duration, for me and links")
	only := fs.String("scenarios", "me,links,links100,linksFull,linksFull100,createLink,createLinks,login,flood",
		"scenarios to run, comma-separated (links, links100: links(first: 20|100) { nodes { id url title tags { name } } }; linksFull, linksFull100: the same with totalCount and account { email })")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of linkapi for each scenario into this directory, and its allocation profiles before and after (go tool pprof -sample_index=alloc_objects -base X.allocs-before.pprof X.allocs.pprof)")
	fs.BoolVar(&o.floorInProcess, "floor-in-process", false, "serve the floor inside linkbench instead of a child process (no server-side stats for it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.seed.Accounts < 1 || o.seed.Links < 1 || o.seed.TagPool < 1 || o.seed.TagsPerLink < 0 || o.clients < 1 || o.loginFlood < 0 || o.duration <= 0 || o.warmup < 0 || o.rounds < 1 {
		return nil, errors.New("--accounts, --links, --tag-pool, --clients, --duration and --rounds must be positive")
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		o.scenarios[strings.TrimSpace(s)] = true
	}
	return o, nil
}

// bulkItems is how many links one request of the createLinks scenario saves.
const bulkItems = 100

// scenarioRun is one scenario measured against one server, over one or more rounds.
type scenarioRun struct {
	scenario string
	server   *server
	results  []*result
	cost     sample // what the server spent while measured
	peakRSS  uint64
}

func (r *scenarioRun) requests() int {
	n := 0
	for _, res := range r.results {
		n += res.requests
	}
	return n
}

func (r *scenarioRun) perRequest(f func(s sample) uint64) (float64, bool) {
	if !r.cost.ok || r.requests() == 0 {
		return 0, false
	}
	return float64(f(r.cost)) / float64(r.requests()), true
}

// merge adds round's measurements to r's and returns r, or round when r is nil.
func (r *scenarioRun) merge(round *scenarioRun) *scenarioRun {
	if r == nil {
		return round
	}
	for i, res := range r.results {
		o := round.results[i]
		res.requests += o.requests
		res.errors += o.errors
		res.elapsed += o.elapsed
		res.latencies = append(res.latencies, o.latencies...)
		slices.Sort(res.latencies)
		if res.firstError == "" {
			res.firstError = o.firstError
		}
	}
	r.cost = r.cost.plus(round.cost)
	r.peakRSS = max(r.peakRSS, round.peakRSS)
	return r
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "linkbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return err
		}
	}

	load := loadAverage()
	fmt.Fprintf(out, "linkbench: %s, %d accounts × %d links × %d tags (pool of %d per account), %d clients, %s per scenario after %s warmup\n",
		o.db, o.seed.Accounts, o.seed.Links, o.seed.TagsPerLink, o.seed.TagPool, o.clients, o.duration, o.warmup)
	t := time.Now()
	bin, err := buildLinkapi(ctx, root, tmp)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "built ./cmd/linkapi in %s\n", time.Since(t).Round(time.Millisecond))

	bdb, err := newBenchDB(ctx, o.db, o.mysqlURL)
	if err != nil {
		return err
	}
	defer bdb.cleanup()
	t = time.Now()
	if err := seed(ctx, bdb.url, o.seed); err != nil {
		return err
	}
	fmt.Fprintf(out, "seeded in %s\n", time.Since(t).Round(time.Millisecond))

	key := make([]byte, 32)
	rand.Read(key)
	secret := hex.EncodeToString(key)
	// Every client logs in from loopback, where the bound on anonymous requests
	// would refuse most of the login flood; the scenarios measure the server's
	// work, not that bound. Both settings are needed: with the total off, one
	// address keeps its own bound.
	env := []string{"LINKAPI_DATABASE_URL=" + bdb.url, "LINKAPI_JWT_SECRET=" + secret,
		"LINKAPI_ANON_CONCURRENCY=0", "LINKAPI_ANON_CONCURRENCY_PER_ADDR=0"}
	api, err := startProcess(ctx, "linkapi", []string{bin, "serve"}, env)
	if err != nil {
		return err
	}
	defer api.stop()
	var fl *server
	if o.floorInProcess {
		fl, err = startFloorInProcess(ctx, bdb, []byte(secret))
	} else {
		var self string
		if self, err = os.Executable(); err == nil {
			fl, err = startProcess(ctx, "floor", []string{self, "floor-serve"}, env)
		}
	}
	if err != nil {
		return err
	}
	defer fl.stop()

	// The tokens are those of real sessions, as a front end holds them, so
	// that each request pays for the check of its session; each account also
	// has a session that has ended, whose tokens the check must refuse.
	tokens, err := sessionTokens(ctx, api.base, o.seed.Accounts)
	if err != nil {
		return err
	}
	account := func(client int) int { return client % o.seed.Accounts }
	meBody := graphQLBody(queryMe, nil)
	me := func(client, _ int) request { return request{meBody, tokens[account(client)]} }
	shapeRequests := make(map[string]func(client, seq int) request)
	checks := []request{me(0, 0)}
	for _, sh := range linkShapes {
		body := graphQLBody(sh.query(), nil)
		shapeRequests[sh.scenario] = func(client, _ int) request { return request{body, tokens[account(client)]} }
		checks = append(checks, request{body, tokens[0]})
	}
	loginBodies := make([][]byte, o.seed.Accounts)
	for a := range loginBodies {
		loginBodies[a] = graphQLBody(`mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken } }`,
			map[string]any{"email": benchEmail(a + 1), "password": benchPassword})
	}
	login := func(client, _ int) request { return request{body: loginBodies[account(client)]} }
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	createLink := func(client, seq int) request {
		return request{graphQLBody(`mutation Create($input: CreateLinkInput!) { createLink(input: $input) { id tags { name } } }`,
			map[string]any{"input": map[string]any{
				"url":   fmt.Sprintf("https://example.com/bench/%s/%d/%d", runID, client, seq),
				"title": "Created by linkbench",
				"tags":  []string{tagName(seq % o.seed.TagPool), tagName((seq + 1) % o.seed.TagPool)},
			}}), tokens[account(client)]}
	}

	// createLinks saves bulkItems links like createLink's in one request, to be
	// set against bulkItems createLink requests. Its errors field is aliased,
	// since send counts every answer that names "errors" as a failure.
	createLinks := func(client, seq int) request {
		inputs := make([]any, bulkItems)
		for i := range inputs {
			n := seq*bulkItems + i
			inputs[i] = map[string]any{
				"url":   fmt.Sprintf("https://example.com/bench/%s/%d/bulk/%d", runID, client, n),
				"title": "Created by linkbench",
				"tags":  []string{tagName(n % o.seed.TagPool), tagName((n + 1) % o.seed.TagPool)},
			}
		}
		return request{graphQLBody(`mutation CreateMany($inputs: [CreateLinkInput!]!) { createLinks(inputs: $inputs) { links { id tags { name } } failed: errors { index code } } }`,
			map[string]any{"inputs": inputs}), tokens[account(client)]}
	}

	if err := compareAnswers(ctx, api, fl, checks...); err != nil {
		fmt.Fprintf(out, "WARNING: %v\n", err)
	} else {
		fmt.Fprintln(out, "checked: the floor's answers to me and every links shape equal linkapi's")
	}

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: o.clients + o.loginFlood,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
	var runs []*scenarioRun
	measure := func(name string, srv *server, d time.Duration, profile string, groups ...group) *scenarioRun {
		r := &scenarioRun{scenario: name, server: srv}
		srv.resetPeakRSS()
		var profiled chan error
		var before sample
		r.results = drive(ctx, hc, o.warmup, d, groups, func() func() {
			before = srv.sample()
			if o.cpuProfile != "" && srv == api {
				profiled = make(chan error, 1)
				go func() { profiled <- srv.profile(d, filepath.Join(o.cpuProfile, o.db+"-"+profile+".pprof")) }()
				if err := srv.allocs(filepath.Join(o.cpuProfile, o.db+"-"+profile+".allocs-before.pprof")); err != nil {
					fmt.Fprintf(out, "allocation profile of %s: %v\n", profile, err)
				}
			}
			return func() {
				r.cost = srv.sample().minus(before)
				if o.cpuProfile != "" && srv == api {
					if err := srv.allocs(filepath.Join(o.cpuProfile, o.db+"-"+profile+".allocs.pprof")); err != nil {
						fmt.Fprintf(out, "allocation profile of %s: %v\n", profile, err)
					}
				}
			}
		})
		r.peakRSS = srv.peakRSS()
		if profiled != nil {
			if err := <-profiled; err != nil {
				fmt.Fprintf(out, "cpu profile of %s: %v\n", profile, err)
			}
		}
		for _, res := range r.results {
			fmt.Fprintf(out, "  %-22s %-8s %-12s %8.0f req/s  p50 %-9s p99 %-9s errors %d\n",
				profile, srv.name, res.name, res.rate(), ms(res.percentile(50)), ms(res.percentile(99)), res.errors)
		}
		return r
	}
	clients := func(name string, srv *server, n int, next func(int, int) request) group {
		return group{name: name, url: srv.graphqlURL(), clients: n, next: next}
	}
	// paired measures linkapi and the floor in alternating rounds, so that a drift
	// in the machine's speed weighs on both alike.
	paired := func(name string, next func(int, int) request) {
		var a, f *scenarioRun
		d := o.duration / time.Duration(o.rounds)
		for i := range o.rounds {
			if ctx.Err() != nil {
				return
			}
			label := fmt.Sprintf("%s-%d", name, i+1)
			a = a.merge(measure(name, api, d, label, clients(name, api, o.clients, next)))
			f = f.merge(measure(name, fl, d, label, clients(name, fl, o.clients, next)))
		}
		runs = append(runs, a, f)
	}
	single := func(name string, groups ...group) {
		if ctx.Err() == nil {
			runs = append(runs, measure(name, api, o.duration, name, groups...))
		}
	}
	fmt.Fprintln(out, "running:")
	if o.scenarios["me"] {
		paired("me", me)
	}
	for _, sh := range linkShapes {
		if o.scenarios[sh.scenario] {
			paired(sh.scenario, shapeRequests[sh.scenario])
		}
	}
	if o.scenarios["createLink"] {
		single("createLink", clients("createLink", api, o.clients, createLink))
	}
	if o.scenarios["createLinks"] {
		single("createLinks", clients("createLinks", api, o.clients, createLinks))
	}
	if o.scenarios["login"] {
		single("login", clients("login", api, o.clients, login))
	}
	if o.scenarios["flood"] && o.loginFlood > 0 {
		single("me-during-login-flood", clients("me", api, o.clients, me), clients("login", api, o.loginFlood, login))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	report(out, o, bdb, root, runs, load+" before, "+loadAverage()+" after")
	return nil
}

// compareAnswers checks that the floor answers each request exactly as linkapi does.
func compareAnswers(ctx context.Context, api, fl *server, reqs ...request) error {
	for _, req := range reqs {
		var got [2]any
		var raw [2]string
		for i, s := range []*server{api, fl} {
			hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.graphqlURL(), strings.NewReader(string(req.body)))
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Authorization", req.authorization)
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			raw[i] = string(b)
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &got[i]) != nil {
				return fmt.Errorf("%s answered %s: %.300s", s.name, resp.Status, b)
			}
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			return fmt.Errorf("the floor's answer differs from linkapi's for %s\nlinkapi: %.400s\nfloor:   %.400s", req.body, raw[0], raw[1])
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func mib(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// report prints the detailed table, then the markdown summary and the machine.
func report(out io.Writer, o *options, bdb *benchDB, root string, runs []*scenarioRun, load string) {
	fmt.Fprintln(out, "\nresults (server columns count every request of the scenario, from the server process itself):")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tserver\tclients\treq/s\tp50\tp99\tp99/p50\terrors\tallocs/req\tKiB/req\tCPU µs/req\tpeak RSS\t")
	for _, r := range runs {
		for i, res := range r.results {
			cols := []string{"", "", "", ""}
			if i == 0 {
				if v, ok := r.perRequest(func(s sample) uint64 { return s.mallocs }); ok {
					cols[0] = fmt.Sprintf("%.0f", v)
				}
				if v, ok := r.perRequest(func(s sample) uint64 { return s.allocBytes }); ok {
					cols[1] = fmt.Sprintf("%.1f", v/1024)
				}
				if v, ok := r.perRequest(func(s sample) uint64 { return s.cpuTicks }); ok {
					cols[2] = fmt.Sprintf("%.0f", v*1e6/clockTicks)
				}
				cols[3] = mib(r.peakRSS)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d %s\t%.0f\t%s\t%s\t%.1f\t%d\t%s\t%s\t%s\t%s\t\n",
				r.scenario, r.server.name, res.clients, res.name, res.rate(), ms(res.percentile(50)), ms(res.percentile(99)),
				ratio(res.percentile(99), res.percentile(50)), res.errors, cols[0], cols[1], cols[2], cols[3])
		}
	}
	tw.Flush()
	for _, r := range runs {
		for _, res := range r.results {
			if res.firstError != "" {
				fmt.Fprintf(out, "first error of %s/%s (%s): %s\n", r.scenario, res.name, r.server.name, res.firstError)
			}
		}
	}

	find := func(scenario, srv, group string) *result {
		for _, r := range runs {
			if r.scenario == scenario && r.server.name == srv {
				for _, res := range r.results {
					if res.name == group {
						return res
					}
				}
			}
		}
		return nil
	}
	findRun := func(scenario, srv string) *scenarioRun {
		for _, r := range runs {
			if r.scenario == scenario && r.server.name == srv {
				return r
			}
		}
		return nil
	}
	perReq := func(scenario, srv string, f func(s sample) uint64) string {
		if r := findRun(scenario, srv); r != nil {
			if v, ok := r.perRequest(f); ok {
				return fmt.Sprintf("%.0f", v)
			}
		}
		return "—"
	}
	cpuTicksOf := func(s sample) uint64 { return s.cpuTicks * 1e6 / clockTicks }
	mallocsOf := func(s sample) uint64 { return s.mallocs }
	fmt.Fprintf(out, "\n| scenario (%s, %d clients) | linkapi req/s | floor req/s | ratio | p50 | p99 | floor p50 | floor p99 | CPU µs/req | floor | allocs/req | floor |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", o.db, o.clients)
	row := func(label, scenario, group string) {
		a := find(scenario, "linkapi", group)
		if a == nil {
			return
		}
		floorRate, r, fp50, fp99 := "—", "—", "—", "—"
		if f := find(scenario, "floor", group); f != nil {
			floorRate, r = fmt.Sprintf("%.0f", f.rate()), fmt.Sprintf("%.2f×", a.rate()/f.rate())
			fp50, fp99 = ms(f.percentile(50)), ms(f.percentile(99))
		}
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, a.rate(), floorRate, r,
			ms(a.percentile(50)), ms(a.percentile(99)), fp50, fp99,
			perReq(scenario, "linkapi", cpuTicksOf), perReq(scenario, "floor", cpuTicksOf),
			perReq(scenario, "linkapi", mallocsOf), perReq(scenario, "floor", mallocsOf))
	}
	row("`me`", "me", "me")
	for _, sh := range linkShapes {
		row(sh.label(), sh.scenario, sh.scenario)
	}
	row("`createLink` (2 tags)", "createLink", "createLink")
	row(fmt.Sprintf("`createLinks` of %d (2 tags each)", bulkItems), "createLinks", "createLinks")
	row("`login`", "login", "login")
	row(fmt.Sprintf("`me` during a flood of %d login clients", o.loginFlood), "me-during-login-flood", "me")
	row("`login` during that flood", "me-during-login-flood", "login")

	fmt.Fprintln(out)
	if one, bulk := find("createLink", "linkapi", "createLink"), find("createLinks", "linkapi", "createLinks"); one != nil && bulk != nil {
		fmt.Fprintf(out, "- `createLinks` of %d takes %.1f× the p50 of one `createLink` (%s against %s): %.0f links/s against %.0f.\n",
			bulkItems, ratio(bulk.percentile(50), one.percentile(50)), ms(bulk.percentile(50)), ms(one.percentile(50)),
			bulk.rate()*bulkItems, one.rate())
	}
	if quiet, flood := find("me", "linkapi", "me"), find("me-during-login-flood", "linkapi", "me"); quiet != nil && flood != nil {
		fmt.Fprintf(out, "- `me` p99 during the login flood: %s against %s without it (%.2f×; target ≤ 2×).\n",
			ms(flood.percentile(99)), ms(quiet.percentile(99)), ratio(flood.percentile(99), quiet.percentile(99)))
	}
	for _, pair := range [][2]string{{"links", "links100"}, {"linksFull", "linksFull100"}} {
		line := fmt.Sprintf("- One more link on a `%s` page (from first: 20 to first: 100) costs", pair[0])
		var costs []float64
		for _, srv := range []string{"linkapi", "floor"} {
			small, big := findRun(pair[0], srv), findRun(pair[1], srv)
			if small == nil || big == nil {
				break
			}
			c20, ok1 := small.perRequest(func(s sample) uint64 { return s.cpuTicks })
			c100, ok2 := big.perRequest(func(s sample) uint64 { return s.cpuTicks })
			m20, ok3 := small.perRequest(mallocsOf)
			m100, ok4 := big.perRequest(mallocsOf)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				break
			}
			us := (c100 - c20) * 1e6 / clockTicks / 80
			costs = append(costs, us)
			line += fmt.Sprintf(" %s %.1f µs of CPU and %.0f allocations,", srv, us, (m100-m20)/80)
		}
		if len(costs) == 2 {
			fmt.Fprintf(out, "%s linkapi/floor %.2f× (target ≤ 1.5×).\n", strings.TrimSuffix(line, ","), costs[0]/costs[1])
		}
	}
	for _, sc := range []string{"me", "links", "links100", "linksFull", "linksFull100"} {
		var a, f *scenarioRun
		for _, r := range runs {
			if r.scenario == sc && r.server.name == "linkapi" {
				a = r
			} else if r.scenario == sc && r.server.name == "floor" {
				f = r
			}
		}
		if a == nil || f == nil {
			continue
		}
		line := fmt.Sprintf("- `%s` per request on the server, linkapi vs floor:", sc)
		if am, ok := a.perRequest(func(s sample) uint64 { return s.mallocs }); ok {
			if fm, ok := f.perRequest(func(s sample) uint64 { return s.mallocs }); ok {
				line += fmt.Sprintf(" %.0f vs %.0f allocations,", am, fm)
			}
		}
		if ac, ok := a.perRequest(func(s sample) uint64 { return s.cpuTicks }); ok {
			if fc, ok := f.perRequest(func(s sample) uint64 { return s.cpuTicks }); ok {
				line += fmt.Sprintf(" %.0f vs %.0f µs of CPU (floor/linkapi %.2f×),", ac*1e6/clockTicks, fc*1e6/clockTicks, fc/ac)
			}
		}
		fmt.Fprintln(out, strings.TrimSuffix(line, ",")+".")
	}
	var peak, peakReads uint64
	for _, r := range runs {
		if r.server.name == "linkapi" {
			peak = max(peak, r.peakRSS)
			if r.scenario == "me" || strings.HasPrefix(r.scenario, "links") {
				peakReads = max(peakReads, r.peakRSS)
			}
		}
	}
	fmt.Fprintf(out, "- linkapi peak RSS (VmHWM): %s over the reads, %s over the whole run (logins included).\n", mib(peakReads), mib(peak))
	fmt.Fprintf(out, "- Machine: %s; %s.\n", machine(), database(bdb))
	if runtime.NumCPU() <= 4 {
		fmt.Fprintf(out, "- Only %d CPUs: the load generator runs on the same CPUs as the server (and the database), so absolute req/s understate the server; compare the ratios, measured side by side in one run.\n", runtime.NumCPU())
	}
	fmt.Fprintf(out, "- Load average (1 min) %s the run; anything else running skews absolute figures more than ratios.\n", load)
	fmt.Fprintf(out, "- linkapi %s; allocations and CPU are read from the server processes (stats.go, added to the linkapi build with `go build -overlay`); peak RSS is VmHWM, reset before each scenario.\n", commit(root))
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// machine describes the CPUs, the kernel and Go.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d × %s (nproc %d), %s/%s, %s", runtime.NumCPU(), model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// loadAverage returns the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func database(b *benchDB) string {
	if b.dialect == "mysql" {
		kind := "MySQL"
		if strings.Contains(b.version, "MariaDB") {
			kind = "MariaDB"
		}
		return kind + " " + b.version + " on " + b.mysql.Addr
	}
	return "SQLite (modernc.org/sqlite) in a temporary file, WAL"
}

func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output()
	if err != nil {
		return "(commit unknown)"
	}
	return "at " + strings.TrimSpace(string(out))
}

// floorServe is the floor's process: it reads LINKAPI_DATABASE_URL,
// LINKAPI_JWT_SECRET and LINKAPI_ADDR like linkapi does, and serves until SIGTERM.
func floorServe(ctx context.Context) error {
	b, err := benchDBFromURL(os.Getenv("LINKAPI_DATABASE_URL"))
	if err != nil {
		return err
	}
	h, err := floorHandler(ctx, b, []byte(os.Getenv("LINKAPI_JWT_SECRET")))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              os.Getenv("LINKAPI_ADDR"),
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// floorHandler opens the database and returns the floor with /graphql and /readyz.
func floorHandler(ctx context.Context, b *benchDB, secret []byte) (http.Handler, error) {
	db, err := b.openSQL()
	if err != nil {
		return nil, err
	}
	f, err := newFloor(ctx, db, secret)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", f)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := db.PingContext(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	return mux, nil
}

func startFloorInProcess(ctx context.Context, b *benchDB, secret []byte) (*server, error) {
	h, err := floorHandler(ctx, b, secret)
	if err != nil {
		return nil, err
	}
	return startInProcess("floor", h)
}
