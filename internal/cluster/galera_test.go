//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// galeraProvider is where Debian's galera-4 puts the provider.
const galeraProvider = "/usr/lib/galera/libgalera_smm.so"

// The account the instances and the test use on every node.
const (
	dbUser     = "linkapi"
	dbPassword = "linkapi-cluster-password"
	dbName     = "linkapi"
)

// node is one mariadbd of the cluster, on loopback ports of its own.
type node struct {
	t                     *testing.T
	name                  string
	dir, cnf, sock        string
	port, gcomm, ist, sst int
	cmd                   *exec.Cmd
	done                  chan struct{}
}

// galera is a cluster of nodes run by a test under a directory of its own.
type galera struct {
	t     *testing.T
	dir   string
	runAs string // the user mariadbd runs as: mysql when the test runs as root
	nodes []*node
}

// freePort returns a loopback port nothing listens on, below the kernel's
// range of ephemeral ports: a client that keeps dialling the port of a node
// that is down could otherwise be handed that very port as its own (a TCP
// self-connect) and hold it, and the node could not listen on it again.
func freePort(t *testing.T) int {
	t.Helper()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free loopback port in 20000-31999")
	return 0
}

// newGalera lays out n nodes' configuration; nothing runs yet. As root, the
// nodes run as the mysql user: rsync's state transfer runs its daemon as the
// server's user, and a root rsync daemon would write as nobody.
func newGalera(t *testing.T, n int) *galera {
	t.Helper()
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "mariadb", "rsync"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				t.Fatalf("%s is not installed (apt-get install mariadb-server galera-4 rsync)", bin)
			}
		}
	}
	if _, err := os.Stat(galeraProvider); err != nil {
		t.Fatalf("%s is missing (apt-get install galera-4)", galeraProvider)
	}
	dir, err := os.MkdirTemp("", "linkapi-galera-")
	if err != nil {
		t.Fatal(err)
	}
	g := &galera{t: t, dir: dir}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("galera: %d warnings of a node's failure detector running late (starved of CPU)", g.lateChecks())
		}
		for _, n := range g.nodes {
			keepLog(n.name+".error.log", filepath.Join(n.dir, "error.log"))
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		g.runAs = "mysql"
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		nd := &node{t: t, name: fmt.Sprintf("node%d", i), port: freePort(t), gcomm: freePort(t), ist: freePort(t), sst: freePort(t)}
		nd.dir = filepath.Join(dir, nd.name)
		nd.cnf = filepath.Join(dir, nd.name+".cnf")
		nd.sock = filepath.Join(nd.dir, "mysqld.sock")
		if err := os.MkdirAll(filepath.Join(nd.dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		g.nodes = append(g.nodes, nd)
	}
	var peers []string
	for _, nd := range g.nodes {
		peers = append(peers, fmt.Sprintf("127.0.0.1:%d", nd.gcomm))
	}
	for _, nd := range g.nodes {
		cnf := fmt.Sprintf(`[mysqld]
datadir=%[1]s/data
socket=%[2]s
pid-file=%[1]s/mysqld.pid
log-error=%[1]s/error.log
port=%[3]d
bind-address=127.0.0.1
skip-name-resolve
%[4]s
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
performance_schema=OFF
plugin_load_add=metadata_lock_info
wsrep_on=ON
wsrep_provider=%[5]s
wsrep_cluster_name=linkapi_cluster_test
wsrep_cluster_address=gcomm://%[6]s
wsrep_node_name=%[7]s
wsrep_node_address=127.0.0.1:%[8]d
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:%[9]d
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:%[8]d;ist.recv_addr=127.0.0.1:%[10]d;gcache.size=16M;evs.suspect_timeout=PT5S;evs.inactive_timeout=PT10S;evs.install_timeout=PT10S"
`, nd.dir, nd.sock, nd.port, g.userLine(), galeraProvider, strings.Join(peers, ","), nd.name, nd.gcomm, nd.sst, nd.ist)
		if err := os.WriteFile(nd.cnf, []byte(cnf), 0o644); err != nil {
			t.Fatal(err)
		}
		g.own(nd.dir)
	}
	return g
}

func (g *galera) userLine() string {
	if g.runAs == "" {
		return ""
	}
	return "user=" + g.runAs
}

// own hands dir and what is in it to the user the nodes run as.
func (g *galera) own(dir string) {
	if g.runAs == "" {
		return
	}
	u, err := user.Lookup(g.runAs)
	if err != nil {
		g.t.Fatalf("user %s: %v", g.runAs, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(p, uid, gid)
		}
		return err
	})
}

// bootstrap initialises the first node's data directory, starts it as a new
// cluster, and creates the test's account and database, which the other nodes
// receive with their state transfer.
func (g *galera) bootstrap() {
	g.t.Helper()
	n := g.nodes[0]
	args := []string{"--defaults-file=" + n.cnf, "--auth-root-authentication-method=normal", "--skip-test-db"}
	if g.runAs != "" {
		args = append(args, "--user="+g.runAs)
	}
	if out, err := exec.Command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		g.t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	g.own(n.dir)
	n.start(true)
	n.cli(fmt.Sprintf(`CREATE USER '%[1]s'@'127.0.0.1' IDENTIFIED BY '%[2]s';
		GRANT ALL PRIVILEGES ON *.* TO '%[1]s'@'127.0.0.1';
		CREATE DATABASE %[3]s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`, dbUser, dbPassword, dbName))
}

// start runs the node's mariadbd and waits until it is synced with the
// cluster (wsrep_ready); bootstrap starts a new cluster.
func (n *node) start(bootstrap bool) {
	n.t.Helper()
	args := []string{"--defaults-file=" + n.cnf}
	if bootstrap {
		args = append(args, "--wsrep-new-cluster")
	}
	n.cmd = exec.Command(mariadbd(), args...)
	if os.Geteuid() == 0 {
		// The nodes share two cores with the instances, the test and whatever
		// else the machine runs. Galera takes a node that has not been heard
		// from for a few seconds for gone: starved of CPU, a node has been seen
		// to declare the others inactive and leave the primary component, and
		// the cluster to hold every commit while it came back. A higher
		// priority, which every thread inherits, makes the nodes behave as on
		// machines of their own.
		n.cmd = exec.Command("nice", append([]string{"-n", "-10", mariadbd()}, args...)...)
	}
	out, err := os.OpenFile(filepath.Join(n.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("starting %s: %v", n.name, err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); out.Close(); close(done) }(n.cmd, n.done)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if v, err := n.status("wsrep_ready"); err == nil && v == "ON" {
			return
		}
		select {
		case <-n.done:
			n.t.Fatalf("%s exited while starting; its log:\n%s", n.name, n.logTail())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s not synced within 3 minutes; its log:\n%s", n.name, n.logTail())
		}
	}
}

// waitSynced waits up to limit for every node that runs to be synced with
// the cluster (wsrep_local_state 4): wsrep_ready comes on as a joiner takes
// its snapshot, while it may still be catching up and its donor still
// desynced.
func (g *galera) waitSynced(limit time.Duration) {
	g.t.Helper()
	deadline := time.Now().Add(limit)
	for _, n := range g.nodes {
		for n.cmd != nil {
			v, err := n.status("wsrep_local_state_comment")
			if err == nil && v == "Synced" {
				break
			}
			if time.Now().After(deadline) {
				g.t.Fatalf("%s not synced within %s (wsrep_local_state_comment %q, %v); its log:\n%s", n.name, limit, v, err, n.logTail())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

func mariadbd() string {
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p
	}
	return "/usr/sbin/mariadbd"
}

// kill ends the node's mariadbd at once, as a crash would.
func (n *node) kill() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

// stop ends every node that runs.
func (g *galera) stop() {
	for _, n := range g.nodes {
		n.kill()
	}
}

// cli runs statements as root through the node's socket and returns what they
// print, tab-separated.
func (n *node) cli(stmts string) string {
	n.t.Helper()
	out, err := n.tryCLI(stmts)
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", n.name, err, out)
	}
	return out
}

func (n *node) tryCLI(stmts string) (string, error) {
	return n.cliWithin(30*time.Second, stmts)
}

func (n *node) cliWithin(limit time.Duration, stmts string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "mariadb", "--socket="+n.sock, "-uroot", "-N", "-B", "-e", stmts)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// status returns a global status value of the node.
func (n *node) status(name string) (string, error) {
	out, err := n.tryCLI("SHOW GLOBAL STATUS LIKE '" + name + "'")
	if err != nil {
		return "", err
	}
	_, v, _ := strings.Cut(out, "\t")
	return v, nil
}

// statusInt is status as a number, failing the test when it is not one.
func (n *node) statusInt(name string) int64 {
	n.t.Helper()
	v, err := n.status(name)
	if err != nil {
		n.t.Fatalf("%s: %s: %v", n.name, name, err)
	}
	i, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		n.t.Fatalf("%s: %s = %q", n.name, name, v)
	}
	return i
}

// url is the linkapi database URL of the node, with reads that wait for the
// writes the cluster has committed (wsrep_sync_wait=1).
func (n *node) url() string {
	return fmt.Sprintf("mysql://%s:%s@127.0.0.1:%d/%s?wsrep_sync_wait=1", dbUser, dbPassword, n.port, dbName)
}

// sql opens the test's own connection to the node's database.
func (n *node) sql() *sql.DB {
	n.t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = dbUser, dbPassword, "tcp", fmt.Sprintf("127.0.0.1:%d", n.port), dbName
	cfg.Params = map[string]string{"wsrep_sync_wait": "1"}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	db := sql.OpenDB(c)
	n.t.Cleanup(func() { db.Close() })
	return db
}

// diagnose says what every node that runs is doing, for a test that found a
// request held: its sessions, open transactions, lock and metadata-lock waits,
// its Galera state and flow control, and the end of its log.
func (g *galera) diagnose() string {
	var b strings.Builder
	for _, n := range g.nodes {
		if n.cmd == nil {
			fmt.Fprintf(&b, "== %s: not running\n", n.name)
			continue
		}
		for _, q := range []string{
			"SHOW FULL PROCESSLIST",
			"SELECT trx_id, trx_state, trx_started, trx_mysql_thread_id, trx_query, trx_operation_state, trx_tables_locked, trx_rows_locked, trx_rows_modified, trx_isolation_level FROM information_schema.innodb_trx",
			"SELECT * FROM information_schema.innodb_lock_waits",
			"SELECT * FROM information_schema.metadata_lock_info",
			"SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_connected', 'wsrep_local_state', 'wsrep_local_state_comment', " +
				"'wsrep_cluster_status', 'wsrep_cluster_size', 'wsrep_desync_count', 'wsrep_flow_control_paused', 'wsrep_flow_control_sent', " +
				"'wsrep_flow_control_recv', 'wsrep_flow_control_active', 'wsrep_local_recv_queue', 'wsrep_local_send_queue', 'wsrep_last_committed', " +
				"'wsrep_local_cert_failures', 'wsrep_local_bf_aborts', 'wsrep_apply_waits', 'Threads_connected')",
			"SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_sync_wait', 'wsrep_causal_reads', 'wsrep_osu_method', 'lock_wait_timeout', 'innodb_lock_wait_timeout', 'wait_timeout')",
		} {
			out, err := n.cliWithin(5*time.Second, q)
			fmt.Fprintf(&b, "== %s: %s\n%s\n", n.name, q, out)
			if err != nil {
				fmt.Fprintf(&b, "(%v)\n", err)
			}
		}
		fmt.Fprintf(&b, "== %s: error.log, the end\n%s\n", n.name, n.logTail())
	}
	return b.String()
}

// lateChecks counts, over the nodes' logs, Galera's warnings that a node's
// failure detector ran late ("last inactive check more than PT1.5S ago"): the
// node was starved of CPU, and may have taken the others for gone.
func (g *galera) lateChecks() int {
	late := 0
	for _, n := range g.nodes {
		b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
		late += bytes.Count(b, []byte("last inactive check more than"))
	}
	return late
}

func (n *node) logTail() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// keepLogsEnv names a directory where the test leaves the nodes' and the
// instances' logs when it ends, for a run to be looked at afterwards.
const keepLogsEnv = "LINKAPI_CLUSTER_LOGS"

// keepLog copies the file at from to name in the directory of keepLogsEnv, if
// it is set.
func keepLog(name, from string) {
	if b, err := os.ReadFile(from); err == nil {
		keepLogText(name, string(b))
	}
}

func keepLogText(name, text string) {
	dir := os.Getenv(keepLogsEnv)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output to be written to
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
