package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
	"linkapi/internal/store/storetest"
)

// Rolling deploys under load: the balancer's check interval and the time a
// check may take; the drain delay that covers both, with a margin (a check that
// began just before SIGTERM may say ready for up to their sum); the writers, and
// how long they write.
const (
	rollingCheckInterval = 100 * time.Millisecond
	rollingCheckTimeout  = time.Second
	rollingDrainDelay    = 2 * time.Second
	rollingClients       = 8
	rollingBeforeSIGTERM = time.Second
	rollingLoad          = 3 * time.Second
)

// TestRollingDeploy runs two linkapi processes behind a balancer that follows
// /readyz (balancer) while eight clients write links through it, then stops one
// instance with SIGTERM and starts a replacement, as a rolling deploy does. With
// LINKAPI_DRAIN_DELAY longer than a check's interval and timeout, no client sees a failure (no
// connection closed unanswered, no 5xx, no GraphQL error), every acknowledged
// link is in the database of the instance that acknowledged it, and the stopped
// instance exits 0. Without a drain delay it logs how many requests failed: the
// instance stops accepting, and closes its idle connections, while the balancer
// still sends it requests until its next check; that figure is a measurement
// that depends on timing, not a guarantee either way. On SQLite each instance
// has a database of its own (draining does not depend on shared data); with
// LINKAPI_TEST_MYSQL_URL set all three share one MySQL database, a new one for
// each case.
func TestRollingDeploy(t *testing.T) {
	storetest.ForEachDB(t, func(t *testing.T, url string) {
		// newDB returns the database of a new instance: a SQLite file of its
		// own, or the one MySQL database of the subtest.
		newDB := func(t *testing.T) func(testing.TB) string {
			if !strings.HasPrefix(url, "mysql:") {
				return storetest.SQLiteURL
			}
			shared := storetest.MySQLURL(t)
			return func(testing.TB) string { return shared }
		}
		t.Run("without drain delay", func(t *testing.T) {
			rollingDeploy(t, newDB(t), 0)
		})
		t.Run("with drain delay", func(t *testing.T) {
			r := rollingDeploy(t, newDB(t), rollingDrainDelay)
			if n := r.failures(); n > 0 {
				t.Errorf("%d of %d requests failed with a drain delay of %s behind a balancer checking every %s, want none: %v, e.g. %v",
					n, len(r.writes), rollingDrainDelay, rollingCheckInterval, r.byOutcome(), r.examples())
			}
			if !strings.Contains(r.stoppedLog, "linkapi: draining: /readyz fails for "+rollingDrainDelay.String()) {
				t.Errorf("the stopped instance did not drain:\n%s", r.stoppedLog)
			}
		})
	})
}

// rollingWrite is the outcome of one createLink of a rolling deploy.
type rollingWrite struct {
	url     string
	id      string // the link's id, when acknowledged
	backend string // the instance that answered, if any
	outcome string // "ok", or what failed
	detail  string // the answer of a failed write
	sent    time.Time
}

// rollingRun is what a rolling deploy did.
type rollingRun struct {
	writes     []rollingWrite
	sigterm    time.Time
	stoppedLog string
}

// failures counts the writes that were not acknowledged.
func (r *rollingRun) failures() int {
	n := 0
	for _, w := range r.writes {
		if w.outcome != "ok" {
			n++
		}
	}
	return n
}

// byOutcome counts the writes by outcome.
func (r *rollingRun) byOutcome() map[string]int {
	m := map[string]int{}
	for _, w := range r.writes {
		m[w.outcome]++
	}
	return m
}

// examples returns one failed write of each kind: when it was sent, from
// SIGTERM, which instance answered, and the answer.
func (r *rollingRun) examples() map[string]string {
	m := map[string]string{}
	for _, w := range r.writes {
		if _, seen := m[w.outcome]; !seen && w.outcome != "ok" {
			m[w.outcome] = fmt.Sprintf("sent at %+v from SIGTERM, answered by %q: %s",
				w.sent.Sub(r.sigterm).Round(time.Millisecond), w.backend, w.detail)
		}
	}
	return m
}

// rollingInstance is one linkapi process of a rolling deploy.
type rollingInstance struct {
	addr, dbURL string
	cmd         *exec.Cmd
	log         *syncBuffer
}

// rollingDeploy starts instances a and b behind a balancer, writes links through
// it from rollingClients clients for rollingLoad, sends a SIGTERM at
// rollingBeforeSIGTERM and then starts instance c, on databases from newDB. It
// checks what holds with or without a drain delay (every acknowledged link is
// stored, the stopped instance exits 0, both first instances served writes),
// logs the figures and returns the writes.
func rollingDeploy(t *testing.T, newDB func(testing.TB) string, drain time.Duration) *rollingRun {
	lb := newBalancer(rollingCheckInterval, rollingCheckTimeout, rollingClients)
	t.Cleanup(lb.stop)
	front := httptest.NewServer(lb)
	t.Cleanup(front.Close)

	const email, password = "writer@example.com", "rolling-deploy-writer-pw-7f3k"
	var accountID int64
	// prepare makes the database of an instance to be, with the writer's account
	// in it before the token is issued (a token issued before an account's
	// password was set is refused). The account has the same id in each
	// database, so that one token is good on every instance.
	prepare := func(name string) string {
		t.Helper()
		url := newDB(t)
		db := openDB(t, url)
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		st := store.New(db)
		sys := auth.NewContext(context.Background(), auth.System())
		a, err := st.CreateAccount(sys, linkapi.AccountCreate{Email: email, Password: password, Scopes: []string{auth.LinksWrite}})
		if linkapi.ErrorCode(err) == linkapi.ECONFLICT {
			a, err = st.FindAccountByEmail(sys, email)
		}
		if err != nil {
			t.Fatal(err)
		}
		if accountID != 0 && a.ID != accountID {
			t.Fatalf("the writer's account is %d in %s's database and %d in the first; want one id", a.ID, name, accountID)
		}
		accountID = a.ID
		return url
	}
	start := func(name, dbURL string) *rollingInstance {
		t.Helper()
		in := &rollingInstance{dbURL: dbURL}
		in.cmd, in.addr, in.log = startMain(t, "LINKAPI_DATABASE_URL="+dbURL, "LINKAPI_FETCH_METADATA=false",
			"LINKAPI_DRAIN_DELAY="+drain.String())
		lb.add(name, in.addr)
		return in
	}
	aDB, bDB, cDB := prepare("a"), prepare("b"), prepare("c")
	a, b := start("a", aDB), start("b", bDB)
	tokens, err := auth.NewTokens([]byte(testSecret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := tokens.Issue(accountID, []string{auth.LinksWrite})
	if err != nil {
		t.Fatal(err)
	}
	waitBackends(t, front.URL, "a", "b")

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: rollingClients}}
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopWriting := func() { stopOnce.Do(func() { close(stop) }) }
	defer stopWriting()
	kind := "without-drain"
	if drain > 0 {
		kind = "with-drain"
	}
	writes := make([][]rollingWrite, rollingClients)
	var writers sync.WaitGroup
	for i := range writes {
		writers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				writes[i] = append(writes[i], createThrough(client, front.URL, token, fmt.Sprintf("https://rolling.example/%s/%d/%d", kind, i, n)))
			}
		})
	}

	began := time.Now()
	time.Sleep(rollingBeforeSIGTERM)
	sigterm := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	c := start("c", cDB)
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("instance a still runs 30 s after SIGTERM:\n%s", a.log.String())
	}
	stoppedAfter := time.Since(sigterm)
	// Write on for a while after a has gone, and for rollingLoad in all.
	time.Sleep(max(500*time.Millisecond, rollingLoad-time.Since(began)))
	stopWriting()
	writers.Wait()
	took := time.Since(began)

	r := &rollingRun{writes: slices.Concat(writes...), sigterm: sigterm, stoppedLog: a.log.String()}
	if exitErr != nil {
		t.Errorf("instance a exited with %v after SIGTERM, want 0:\n%s", exitErr, a.log.String())
	}
	served := map[string]int{}
	afterSIGTERM := 0
	for _, w := range r.writes {
		if w.outcome == "ok" {
			served[w.backend]++
			if w.backend == "a" && !w.sent.Before(sigterm) {
				afterSIGTERM++
			}
		}
	}
	if served["a"] == 0 || served["b"] == 0 {
		t.Errorf("writes acknowledged by each instance: %v; want both a and b to have served some", served)
	}
	missing := missingWrites(t, r.writes, map[string]string{"a": a.dbURL, "b": b.dbURL, "c": c.dbURL}, accountID)
	if len(missing) > 0 {
		t.Errorf("%d acknowledged writes are not in their instance's database, e.g. %+v", len(missing), missing[0])
	}
	t.Logf("drain delay %s, checks every %s, %d clients: %d writes in %s, %d failed %v; acknowledged by instance %v (a %d after SIGTERM); a exited %s after SIGTERM",
		drain, rollingCheckInterval, rollingClients, len(r.writes), took.Round(10*time.Millisecond),
		r.failures(), r.byOutcome(), served, afterSIGTERM, stoppedAfter.Round(10*time.Millisecond))
	return r
}

// waitBackends waits until the balancer at front has sent a request to each
// named backend: until each has passed a check.
func waitBackends(t *testing.T, front string, names ...string) {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; len(seen) < len(names); i++ {
		if i > 500 {
			t.Fatalf("backends answering through the balancer: %v, want %v", slices.Collect(maps.Keys(seen)), names)
		}
		if res, err := http.Get(front + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				seen[res.Header.Get("X-Backend")] = true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createThrough posts one createLink of url to the balancer at front and says
// how it went: "ok" with the link's id, or the failure (the balancer's
// X-Balancer-Error, "5xx", "transport error", or another status or GraphQL
// error code).
func createThrough(client *http.Client, front, token, url string) rollingWrite {
	w := rollingWrite{url: url, sent: time.Now()}
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($in: CreateLinkInput!) { createLink(input: $in) { id } }`,
		"variables": map[string]any{"in": map[string]any{"url": url}},
	})
	req, _ := http.NewRequest(http.MethodPost, front+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		w.outcome, w.detail = "transport error", err.Error()
		return w
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	w.backend = res.Header.Get("X-Backend")
	var out gqlResponse
	switch {
	case err != nil:
		w.outcome = "transport error"
	case res.Header.Get("X-Balancer-Error") != "":
		w.outcome, w.detail = res.Header.Get("X-Balancer-Error"), strings.TrimSpace(string(raw))
	case res.StatusCode >= 500:
		w.outcome = "5xx"
	case json.Unmarshal(raw, &out) != nil || res.StatusCode != http.StatusOK:
		w.outcome, w.detail = fmt.Sprintf("status %d", res.StatusCode), string(raw)
	case len(out.Errors) > 0:
		w.outcome, w.detail = "error "+out.Code(), string(raw)
	default:
		link, _ := out.Data["createLink"].(map[string]any)
		w.id, _ = link["id"].(string)
		w.outcome = "ok"
		if w.id == "" {
			w.outcome = "no id"
		}
	}
	return w
}

// missingWrites returns the acknowledged writes whose link is not in the
// database of the instance that acknowledged it, with the id it was given.
func missingWrites(t *testing.T, writes []rollingWrite, dbOf map[string]string, accountID int64) []rollingWrite {
	t.Helper()
	stored := map[string]map[string]string{} // database URL: link URL: id
	for _, u := range dbOf {
		if stored[u] != nil {
			continue
		}
		stored[u] = map[string]string{}
		db := openDB(t, u)
		err := eachRow(db.SQL(), "SELECT id, url FROM links WHERE account_id = ?", func(rows *sql.Rows) error {
			var id int64
			var url string
			if err := rows.Scan(&id, &url); err != nil {
				return err
			}
			stored[u][url] = formatInt(id)
			return nil
		}, accountID)
		if err != nil {
			t.Fatal(err)
		}
	}
	var missing []rollingWrite
	for _, w := range writes {
		if w.outcome == "ok" && stored[dbOf[w.backend]][w.url] != w.id {
			missing = append(missing, w)
		}
	}
	return missing
}
