// Package pgtest starts a throwaway PostgreSQL cluster for tests: one
// cluster per test binary (initdb + postgres on 127.0.0.1 at a free port,
// unix socket in the cluster's temporary directory, fsync off unless
// SLIPWAY_PG_DURABLE=1), and a fresh database per test. When run as root
// the cluster runs as the postgres user, since PostgreSQL refuses to run
// as root.
//
// Use Start(t) in tests and Main in TestMain so the cluster is stopped
// when the binary exits:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir  string // temporary directory: data/ and the unix socket
	keep bool   // Stop leaves dir (Kept)
	port int
	cmd  *exec.Cmd
	done chan struct{}
	seq  atomic.Int64
}

var (
	once    sync.Once
	shared  *Cluster
	initErr error
)

// BinDir finds PostgreSQL's server binaries: $SLIPWAY_PG_BIN, then
// /usr/lib/postgresql/15/bin, then the directory of initdb on PATH.
func BinDir() (string, error) {
	cands := []string{os.Getenv("SLIPWAY_PG_BIN"), "/usr/lib/postgresql/15/bin"}
	if p, err := exec.LookPath("initdb"); err == nil {
		cands = append(cands, filepath.Dir(p))
	}
	for _, d := range cands {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL 15 server binaries not found (scripts/tools.sh postgres, or set SLIPWAY_PG_BIN)")
}

// Start returns the URL of a fresh, empty database on the shared cluster,
// dropped when the test ends. A missing PostgreSQL skips the test locally
// and fails it in CI.
func Start(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared, initErr = startCluster("") })
	if initErr != nil {
		var missing *missingError
		if errors.As(initErr, &missing) {
			testenv.Missing(t, missing.Error())
		}
		t.Fatalf("pgtest: %v", initErr)
	}
	url, err := shared.CreateDatabase(t.Context())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := shared.dropDatabase(ctx, url); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return url
}

// Main runs the tests and stops the cluster, if one was started.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

type missingError struct{ why string }

func (e *missingError) Error() string { return e.why }

// runAs returns the credential to run PostgreSQL with (the postgres user
// when we are root) and that user's uid/gid for chown.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, &missingError{"running as root and there is no postgres user to run PostgreSQL as"}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Kept starts a cluster whose files stay in dir between runs (initdb on
// first use), for benchmarks that seed a large database once; it is
// stopped, not removed, when t ends. Databases on it are the caller's to
// create and drop (URL, CreateDatabase).
func Kept(t testing.TB, dir string) *Cluster {
	t.Helper()
	c, err := startCluster(dir)
	if err != nil {
		var missing *missingError
		if errors.As(err, &missing) {
			testenv.Missing(t, missing.Error())
		}
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// startCluster starts a cluster in dir (kept), or in a new temporary
// directory when dir is "".
func startCluster(dir string) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, &missingError{err.Error()}
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	keep := dir != ""
	if keep {
		err = os.MkdirAll(dir, 0o700)
	} else {
		dir, err = os.MkdirTemp("", "slipway-pg-")
	}
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil || !keep {
		initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "slipway", "--auth=trust",
			"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
		initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := initdb.CombinedOutput(); err != nil {
			if !keep {
				os.RemoveAll(dir)
			}
			return nil, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		c := &Cluster{dir: dir, keep: keep, done: make(chan struct{})}
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = c.start(bin, cred); lastErr == nil {
			return c, nil
		}
	}
	if !keep {
		os.RemoveAll(dir)
	}
	return nil, lastErr
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Settings are the cluster's server settings as postgres arguments. Tests
// run with fsync, synchronous commit and full-page writes off (a test
// cluster is thrown away, never crashed); durable keeps PostgreSQL's
// defaults for them, for benchmarks that compare against a database which
// syncs every acknowledged write (SLIPWAY_PG_DURABLE=1).
func Settings(durable bool) []string {
	s := []string{"-c", "max_connections=200", "-c", "shared_buffers=64MB", "-c", "log_min_messages=fatal"}
	if !durable {
		s = append(s, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	return s
}

func (c *Cluster) start(bin string, cred *syscall.Credential) error {
	var logBuf strings.Builder
	args := append([]string{"-D", filepath.Join(c.dir, "data"), "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-k", c.dir},
		Settings(os.Getenv("SLIPWAY_PG_DURABLE") == "1")...)
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = &logBuf, &logBuf
	// Pdeathsig stops the server if the test binary dies without Main.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited: %s", logBuf.String())
		default:
		}
		if time.Now().After(deadline) {
			c.Stop()
			return fmt.Errorf("postgres did not accept connections: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopWait is how long Stop waits for a fast shutdown: longer for a kept
// cluster, whose shutdown checkpoint may write gigabytes.
func stopWait(keep bool) time.Duration {
	if keep {
		return 5 * time.Minute
	}
	return 10 * time.Second
}

// URL is the connection URL of a database on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://slipway@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// CreateDatabase creates a new empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return c.URL(name), nil
}

func (c *Cluster) dropDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
	return err
}

// Stop stops the server by its PID (fast shutdown) and removes its files
// (not those of a Kept cluster).
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(stopWait(c.keep)):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	if !c.keep {
		os.RemoveAll(c.dir)
	}
}
