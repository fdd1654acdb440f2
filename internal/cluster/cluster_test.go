//go:build cluster

package cluster

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"linkapi/internal/redis/redistest"
)

var adminPassword = regexp.MustCompile(`created admin@localhost with scope admin:write and password (\S+)`)

const createLink = `mutation($u: String!, $t: [String!]) { createLink(input: {url: $u, title: "t", tags: $t}) { id url } }`

// TestGaleraCluster runs three linkapi instances, each on its own node of a
// three-node MariaDB Galera cluster, sharing one Redis, all on loopback, and
// checks what several instances promise: they start together on the empty
// cluster, conflicting writes through different nodes are retried, a write is
// read at once through another node, limits, persisted queries and cache
// invalidations are shared through Redis (and limits hold without it), a node
// that leaves the cluster takes its instance out of service while the others
// go on, and a node that comes back has everything that was acknowledged.
func TestGaleraCluster(t *testing.T) {
	began := time.Now()
	g := newGalera(t, 3)
	g.bootstrap()
	for _, n := range g.nodes[1:] {
		n.start(false)
	}
	g.waitSynced(time.Minute)
	if size := g.nodes[0].statusInt("wsrep_cluster_size"); size != 3 {
		t.Fatalf("wsrep_cluster_size = %d, want 3", size)
	}
	t.Logf("cluster: three Galera nodes synced in %s", time.Since(began).Round(100*time.Millisecond))

	rd := redistest.Start(t)
	bin := buildLinkapi(t, t.TempDir())

	// Starting together on the empty cluster.
	var ins []*instance
	for i, n := range g.nodes {
		ins = append(ins, startInstance(t, bin, fmt.Sprintf("instance%d", i), n.url(), rd.URL, "LINKAPI_DRAIN_DELAY="+drainDelay.String()))
	}
	for _, in := range ins {
		in.onHang = func(in *instance, what string) {
			t.Logf("%s after the test began: %s", time.Since(began).Round(time.Millisecond), what)
			t.Logf("the nodes:\n%s", g.diagnose())
			t.Logf("%s's goroutines (SIGQUIT):\n%s", in.name, in.dumpGoroutines())
		}
		in.onStuck = func(in *instance, what string) {
			t.Logf("%s after the test began: %s; the nodes:\n%s", time.Since(began).Round(time.Millisecond), what, g.diagnose())
		}
	}
	for _, in := range ins {
		in.waitReadyz(http.StatusOK, 2*time.Minute)
	}
	var password string
	creators := 0
	for _, in := range ins {
		if m := adminPassword.FindStringSubmatch(in.log.String()); m != nil {
			creators++
			password = m[1]
		}
	}
	if creators != 1 {
		t.Fatalf("instances that created admin@localhost: %d, want 1", creators)
	}
	db0 := g.nodes[0].sql()
	var accounts, versions, records int
	if err := db0.QueryRow("SELECT COUNT(*) FROM accounts").Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	if err := db0.QueryRow("SELECT COUNT(DISTINCT version_id), COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions, &records); err != nil {
		t.Fatal(err)
	}
	if accounts != 1 || versions == 0 || versions != records {
		t.Fatalf("after starting together: %d accounts (want 1), %d migration records of %d versions (want each once)", accounts, records, versions)
	}
	t.Logf("start together: 3 instances ready, one admin created, %d migrations applied once each", versions)

	admin := ins[0].login("admin@localhost", password)
	for _, email := range []string{"ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"} {
		ins[0].ok(admin, `mutation($e: String!) { createAccount(input: {email: $e, password: "cluster-password-1", scopes: ["links:write", "tags:write", "account:write"]}) { id } }`,
			map[string]any{"e": email})
	}
	ann := ins[1].login("ann@example.com", "cluster-password-1")
	acked := map[string]string{} // id -> url of every link whose creation was answered

	// Concurrent createLinks with the same new tag through different nodes.
	certBefore, bfBefore := g.sum("wsrep_local_cert_failures"), g.sum("wsrep_local_bf_aborts")
	retriesBefore := sumMetric(ins, `linkapi_db_transaction_retries_total{error="1213"}`)
	const rounds = 10
	for r := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		answers := make([]*response, len(ins))
		for i, in := range ins {
			wg.Go(func() {
				<-start
				answers[i] = in.do(ann, createLink, map[string]any{"u": fmt.Sprintf("https://example.com/conflict/%d/%d", r, i), "t": []string{fmt.Sprintf("round-%d", r)}})
			})
		}
		close(start)
		wg.Wait()
		for i, a := range answers {
			if a.Status != http.StatusOK || len(a.Errors) > 0 {
				t.Fatalf("round %d through %s: status %d: %s", r, ins[i].name, a.Status, a.Raw)
			}
			acked[dig(a.Data, "createLink", "id").(string)] = dig(a.Data, "createLink", "url").(string)
		}
	}
	var dups int
	if err := db0.QueryRow("SELECT COUNT(*) FROM (SELECT account_id, name FROM tags GROUP BY account_id, name HAVING COUNT(*) > 1) d").Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Errorf("tags named twice in one account: %d", dups)
	}
	for r := range rounds {
		d := ins[2].ok(ann, `query($t: String) { links(tag: $t) { totalCount } }`, map[string]any{"t": fmt.Sprintf("round-%d", r)})
		if n := dig(d, "links", "totalCount"); n != float64(len(ins)) {
			t.Errorf("links tagged round-%d: %v, want %d", r, n, len(ins))
		}
	}
	certFailures, bfAborts := g.sum("wsrep_local_cert_failures")-certBefore, g.sum("wsrep_local_bf_aborts")-bfBefore
	retries := sumMetric(ins, `linkapi_db_transaction_retries_total{error="1213"}`) - retriesBefore
	if retries < certFailures {
		t.Errorf("transactions retried on 1213: %d, fewer than the certification failures %d", retries, certFailures)
	}
	t.Logf("conflicts: %d rounds of %d concurrent createLinks with one new tag: no error, no duplicate tag; wsrep_local_cert_failures +%d, wsrep_local_bf_aborts +%d, retries on 1213 +%d",
		rounds, len(ins), certFailures, bfAborts, retries)

	// A write through one node is read at once through another.
	for i := range 30 {
		w, rd := ins[i%3], ins[(i+1)%3]
		d := w.ok(ann, createLink, map[string]any{"u": fmt.Sprintf("https://example.com/ryw/%d", i)})
		id := dig(d, "createLink", "id").(string)
		acked[id] = dig(d, "createLink", "url").(string)
		got := rd.ok(ann, `query($id: ID!) { link(id: $id) { url } }`, map[string]any{"id": id})
		if dig(got, "link", "url") != acked[id] {
			t.Fatalf("link %s written through %s, read at once through %s: got %v", id, w.name, rd.name, got)
		}
	}
	t.Logf("read-your-writes: 30 links each read at once through another node (wsrep_sync_wait=1)")

	// Failed logins are limited across instances.
	for i := range 11 {
		r := ins[i%3].do("", `mutation { login(email: "bob@example.com", password: "wrong-password") { accessToken } }`, nil)
		want := "UNAUTHENTICATED"
		if i == 10 {
			want = "RATE_LIMITED"
		}
		if r.Code() != want {
			t.Fatalf("wrong password %d through %s: got %q, want %s: %s", i+1, ins[i%3].name, r.Code(), want, r.Raw)
		}
	}
	t.Logf("login limits: the 11th wrong password, spread round-robin, is RATE_LIMITED")

	// A persisted query registered on one instance runs by hash on the others.
	query := `query Persisted { me { email } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	if r := ins[0].post(ann, map[string]any{"query": query, "extensions": ext}); r.Status != http.StatusOK || r.Code() != "" {
		t.Fatalf("registering a persisted query: %s", r.Raw)
	}
	for _, in := range ins[1:] {
		r := in.post(ann, map[string]any{"extensions": ext})
		if dig(r.Data, "me", "email") != "ann@example.com" {
			t.Fatalf("persisted query by hash on %s: %s", in.name, r.Raw)
		}
	}
	t.Logf("persisted queries: registered on instance0, run by hash on instance1 and instance2")

	// A scope change through one instance reaches another at once.
	cy := ins[1].login("cy@example.com", "cluster-password-1")
	ins[1].ok(cy, `{ links { totalCount } }`, nil) // instance1 now caches cy's account for a minute
	cyID := dig(ins[0].ok(admin, `{ accounts(first: 100) { nodes { id email } } }`, nil), "accounts", "nodes")
	var id string
	for _, a := range cyID.([]any) {
		if dig(a, "email") == "cy@example.com" {
			id = dig(a, "id").(string)
		}
	}
	ins[0].ok(admin, `mutation($id: ID!) { setAccountScopes(id: $id, scopes: []) { id } }`, map[string]any{"id": id})
	changed := time.Now()
	var delay time.Duration
	for {
		if r := ins[1].do(cy, `{ links { totalCount } }`, nil); r.Code() == "FORBIDDEN" {
			delay = time.Since(changed)
			break
		} else if r.Status >= 500 {
			t.Fatalf("instance1 after a scope change: %s", r.Raw)
		}
		if time.Since(changed) > 10*time.Second {
			t.Fatalf("setAccountScopes through instance0 not refused on instance1 within 10s (its account cache lasts 1m)")
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("invalidation: setAccountScopes through instance0 refused on instance1 after %s", delay.Round(time.Millisecond))

	// With Redis stopped, logins are still limited and nothing answers 500.
	rd.Stop()
	for i := range 11 {
		r := ins[0].do("", `mutation { login(email: "dee@example.com", password: "wrong-password") { accessToken } }`, nil)
		if r.Status >= 500 || r.Status == 0 {
			t.Fatalf("login with Redis stopped: status %d: %s", r.Status, r.Raw)
		}
		if i == 10 && r.Code() != "RATE_LIMITED" {
			t.Fatalf("11th wrong password with Redis stopped: got %q, want RATE_LIMITED", r.Code())
		}
	}
	for i, in := range ins {
		d := in.ok(ann, createLink, map[string]any{"u": fmt.Sprintf("https://example.com/no-redis/%d", i)})
		acked[dig(d, "createLink", "id").(string)] = dig(d, "createLink", "url").(string)
	}
	t.Logf("Redis stopped: logins limited per instance, writes answered, no 5xx")

	// A node desynced, as a donor is for the whole of a state transfer, whose
	// writes may then wait: its instance is not ready, and says why.
	g.nodes[2].cli(`SET GLOBAL wsrep_desync = ON`)
	reason := ins[2].waitReadyz(http.StatusServiceUnavailable, time.Minute)
	if !strings.Contains(reason, "Donor/Desynced") {
		t.Errorf("/readyz of the desynced node's instance: reason %q, want Donor/Desynced", reason)
	}
	t.Logf("desynced node: instance2 /readyz 503: %s", reason)
	g.nodes[2].cli(`SET GLOBAL wsrep_desync = OFF`)
	ins[2].waitReadyz(http.StatusOK, time.Minute)

	// A node cut off from the others: its instance is not ready, and says why.
	iso := g.nodes[2]
	// Until the node gives the others up (evs.suspect_timeout), reads that wait
	// for the cluster's writes wait, and /readyz may first find the database
	// not answering; then it must say why.
	iso.cli(`SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'`)
	reason = ins[2].waitReadyzReason(http.StatusServiceUnavailable, "wsrep_ready=OFF", time.Minute)
	t.Logf("isolated node: instance2 /readyz 503: %s", reason)
	iso.cli(`SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'`)
	ins[2].waitReadyz(http.StatusOK, 2*time.Minute)

	// A node killed: its instance is not ready, the others keep writing; back,
	// it has everything that was acknowledged.
	g.nodes[2].kill()
	reason = ins[2].waitReadyz(http.StatusServiceUnavailable, time.Minute)
	t.Logf("killed node: instance2 /readyz 503: %s", reason)
	for i := range 20 {
		w := ins[i%2]
		d := w.ok(ann, createLink, map[string]any{"u": fmt.Sprintf("https://example.com/two-nodes/%d", i)})
		acked[dig(d, "createLink", "id").(string)] = dig(d, "createLink", "url").(string)
	}
	g.nodes[2].start(false)
	ins[2].waitReadyz(http.StatusOK, 2*time.Minute)
	if missing := missingLinks(t, g.nodes[2].sql(), acked); missing > 0 {
		t.Errorf("the rejoined node lacks %d of %d acknowledged links", missing, len(acked))
	}
	d := ins[2].ok(ann, `{ links { totalCount } }`, nil)
	if n := dig(d, "links", "totalCount"); n != float64(len(acked)) {
		t.Errorf("ann's links through the rejoined node's instance: %v, want %d", n, len(acked))
	}
	t.Logf("rejoin: node2 back, instance2 ready, all %d acknowledged links there", len(acked))

	// A rolling restart behind HAProxy, which follows /readyz: instance1 is
	// stopped (SIGTERM) while eight clients, each of its own account, write
	// through the balancer. Its drain delay outlasts the checks that take it
	// out, so no client sees a write fail, and every write answered is in the
	// cluster. (Writers of one account on several nodes at once conflict on
	// its usage row; see docs/cluster.md.)
	var writers []string
	for i := range 8 {
		email := fmt.Sprintf("writer%d@example.com", i)
		ins[0].ok(admin, `mutation($e: String!) { createAccount(input: {email: $e, password: "cluster-password-1", scopes: ["links:write"]}) { id } }`,
			map[string]any{"e": email})
		writers = append(writers, ins[i%3].login(email, "cluster-password-1"))
	}
	writes, signalled, exited := rollingRestartBehindHAProxy(t, ins, ins[1], writers)
	failed, toVictim, afterExit := 0, 0, 0
	var failure string
	for _, w := range writes {
		if w.failure != "" {
			failed, failure = failed+1, w.failure
			continue
		}
		acked[w.id] = w.url
		if w.servedBy == ins[1].name {
			toVictim++
			if w.at.After(exited) {
				afterExit++
			}
		}
	}
	if failed > 0 {
		t.Errorf("behind haproxy: %d of %d writes failed while instance1 stopped with a drain delay of %s, want none; e.g. %s", failed, len(writes), drainDelay, failure)
	}
	if toVictim == 0 || afterExit > 0 {
		t.Errorf("behind haproxy: %d writes served by instance1, %d of them sent after it exited; want some, and none after", toVictim, afterExit)
	}
	if missing := missingLinks(t, db0, acked); missing > 0 {
		t.Errorf("after the rolling restart the cluster lacks %d of %d acknowledged links", missing, len(acked))
	}
	t.Logf("rolling restart behind haproxy: %d writes by 8 clients of 8 accounts, %d served by instance1, which took %s from SIGTERM to exit; %d failed",
		len(writes), toVictim, exited.Sub(signalled).Round(10*time.Millisecond), failed)
	t.Logf("galera: %d warnings of a node's failure detector running late (starved of CPU)", g.lateChecks())
	t.Logf("cluster test took %s", time.Since(began).Round(time.Second))
}

// drainDelay is how long a stopping instance fails /readyz before it shuts
// down: longer than HAProxy's two failed checks take (haproxyCheck).
const drainDelay = 1500 * time.Millisecond

// missingLinks returns how many of acked (id -> url) the database lacks.
func missingLinks(t *testing.T, db *sql.DB, acked map[string]string) int {
	t.Helper()
	rows, err := db.Query("SELECT id, url FROM links")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[string]string{}
	for rows.Next() {
		var id int64
		var url string
		if err := rows.Scan(&id, &url); err != nil {
			t.Fatal(err)
		}
		have[strconv.FormatInt(id, 10)] = url
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, url := range acked {
		if have[id] != url {
			missing++
		}
	}
	return missing
}

// sum adds a numeric status value over the nodes that run.
func (g *galera) sum(name string) int64 {
	var total int64
	for _, n := range g.nodes {
		if n.cmd != nil {
			total += n.statusInt(name)
		}
	}
	return total
}

// sumMetric adds a counter of /metrics over the instances.
func sumMetric(ins []*instance, name string) int64 {
	var total int64
	for _, in := range ins {
		v, _ := strconv.ParseFloat(in.metric(name), 64)
		total += int64(v)
	}
	return total
}
