// Package pgtest runs a real PostgreSQL server for tests: Debian's
// postgresql package (binaries in /usr/lib/postgresql/VERSION/bin), started
// once per test binary on a private data directory and a free 127.0.0.1
// port, with a fresh database per test.
//
// Postgres refuses to run as root, so when the tests run as root (as in CI)
// initdb and the server run as the postgres system user, on a data
// directory that user owns. The server is its own process group and gets
// SIGKILL if the test binary dies (a panic, a timeout), so it never
// outlives the tests; Main stops it cleanly and removes its directory.
//
// A missing PostgreSQL fails the test with the package to install; it never
// skips (scripts/deps.sh test installs it).
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binRoot is where Debian installs each PostgreSQL version's binaries.
const binRoot = "/usr/lib/postgresql"

// startTimeout bounds the server's start; a healthy start takes a second.
const startTimeout = 2 * time.Minute

// server is the test binary's running postgres.
type server struct {
	dir  string // temporary directory: data/, the socket, the log
	port int
	cmd  *exec.Cmd
	exit chan struct{}
}

var (
	once     sync.Once
	srv      *server
	startErr error
	dbSeq    atomic.Int64
)

// Main runs the tests of a package that uses the server, then stops the
// server (if a test started it) and removes its files. Call it from
// TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.stop()
	}
	os.Exit(code)
}

// NewDatabase creates an empty database on the test binary's server
// (starting the server on first use) and returns its postgres:// URL. The
// database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { srv, startErr = start() })
	if startErr != nil {
		tb.Fatalf("pgtest: %v", startErr)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := context.Background()
	if err := srv.admin(ctx, "CREATE DATABASE "+name+" STRATEGY FILE_COPY"); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	return srv.url(name)
}

// ServerURL returns the URL of a database name on the test binary's server
// without creating it, starting the server on first use.
func ServerURL(tb testing.TB, name string) string {
	tb.Helper()
	once.Do(func() { srv, startErr = start() })
	if startErr != nil {
		tb.Fatalf("pgtest: %v", startErr)
	}
	return srv.url(name)
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// admin runs one statement on the postgres database.
func (s *server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// BinDir returns the bin directory of the newest PostgreSQL installed the
// Debian way, or an error naming the package to install.
func BinDir() (string, error) {
	entries, _ := os.ReadDir(binRoot)
	var versions []int
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil {
			if _, err := os.Stat(filepath.Join(binRoot, e.Name(), "bin", "initdb")); err == nil {
				versions = append(versions, v)
			}
		}
	}
	if len(versions) == 0 {
		return "", errors.New("no PostgreSQL server found in " + binRoot + "/*/bin: install Debian's postgresql package (apt-get install postgresql, or scripts/deps.sh test)")
	}
	return filepath.Join(binRoot, strconv.Itoa(slices.Max(versions)), "bin"), nil
}

// start initialises a cluster in a new temporary directory and starts the
// server on a free port.
func start() (*server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("hlsd-pgtest-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "--pgdata", data, "--username", "postgres",
		"--auth", "trust", "--encoding", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, lastLines(string(out)))
	}
	var lastErr error
	for range 3 { // another process may take the free port first
		s, err := run(bin, dir, cred)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// run starts postgres on dir's cluster and waits until it accepts
// connections. The settings favour speed over durability: the data is
// thrown away after the tests.
func run(bin, dir string, cred *syscall.Credential) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	if cred != nil {
		os.Chown(logPath, int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &server{dir: dir, port: port, cmd: cmd, exit: make(chan struct{})}
	go func() { cmd.Wait(); close(s.exit) }()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			return s, nil
		}
		select {
		case <-s.exit:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited at start: %s", lastLines(string(log)))
		case <-ctx.Done():
			s.kill()
			return nil, fmt.Errorf("postgres did not accept connections within %v: %v", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the server down (fast shutdown, then SIGKILL of its process
// group) and removes its directory.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exit:
	case <-time.After(30 * time.Second):
	}
	s.kill()
	os.RemoveAll(s.dir)
}

func (s *server) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exit
}

// credential returns the postgres user's credential when running as root
// (and gives it dir), or nil to run as the current user.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and there is no postgres user to run PostgreSQL as (install Debian's postgresql package): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// removeStale removes the directories of test binaries that died without
// Main's cleanup (their pid is in the name).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "hlsd-pgtest-*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		pid, err := strconv.Atoi(f[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}
