// Package s3test runs a real S3-compatible server for tests: versitygw
// (Apache-2.0) with its posix backend serving a temporary folder, on a free
// 127.0.0.1 port. The gateway is pinned in its own module (tools/s3/go.mod),
// so its large dependency graph stays out of hlsd's go.mod; it is built once
// into testdata/.cache/tools/ (keyed by that module's go.sum) and reused by
// every test process after that.
//
// A test package calls Main from TestMain and Shared from its tests: one
// server per test binary, started on first use and stopped when the tests
// end. Start gives a test its own server, for tests that stop it.
package s3test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/s3"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// Credentials and region of every test server (the gateway's root user).
const (
	AccessKey = "hlsdtestaccess"
	SecretKey = "hlsdtestsecret-0123456789"
	Region    = "us-east-1"
)

// startTimeout bounds how long a started gateway may take to answer.
const startTimeout = 30 * time.Second

// Server is one running versitygw process.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir is the folder the posix backend serves: each subfolder is a bucket.
	Dir string

	bin  string
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Main runs the tests of a package that uses Shared and stops the shared
// server afterwards. Call it from TestMain: os.Exit(s3test.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
		os.RemoveAll(shared.Dir)
	}
	return code
}

// Shared returns the test binary's server, starting it on first use. The
// package's TestMain must call Main, which stops it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary(tb)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hlsd-s3test-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(bin, dir)
	})
	if sharedErr != nil {
		tb.Fatalf("s3test: %v", sharedErr)
	}
	return shared
}

// Start starts a server of the test's own, stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := start(Binary(tb), tb.TempDir())
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Binary returns the path of the versitygw binary, building it on first
// use (about a minute on a quiet machine; cached after that). Under -short
// a test that would have to build it is skipped; otherwise it never skips.
func Binary(tb testing.TB) string {
	tb.Helper()
	root, err := testmedia.RepoRoot()
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	mod := filepath.Join(root, "tools", "s3")
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, name))
		if err != nil {
			tb.Fatalf("s3test: read the gateway's module: %v", err)
		}
		h.Write(b)
	}
	key := "versitygw-" + hex.EncodeToString(h.Sum(nil))[:12]
	if _, err := os.Stat(filepath.Join(root, "testdata", ".cache", "tools", key, "versitygw")); err != nil && testing.Short() {
		tb.Skip("s3test: versitygw is not built yet (a few minutes); skipped under -short")
	}
	bin := testmedia.Cached(tb, "tools", key, "versitygw", func(tmp string) error {
		cmd := exec.Command("go", "build", "-modfile="+filepath.Join(mod, "go.mod"), "-trimpath", "-o", tmp,
			"github.com/versity/versitygw/cmd/versitygw")
		cmd.Dir = mod
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build versitygw (tools/s3): %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	})
	// The cache writes files 0644; the binary must be executable.
	if err := os.Chmod(bin, 0o755); err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	return bin
}

func start(bin, dir string) (*Server, error) {
	var lastErr error
	for range 3 { // a free port found by listening can be taken before the gateway binds it
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s := &Server{Endpoint: "http://" + addr, Dir: dir, bin: bin, addr: addr}
		if lastErr = s.Restart(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// Restart starts the gateway again after Stop, on the same port and folder.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("versitygw is already running")
	}
	var stderr strings.Builder
	cmd := exec.Command(s.bin,
		"--port", s.addr, "--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--quiet", "--keep-alive",
		"posix", s.Dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.Dir}
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	// The gateway dies with the test process, even when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(startTimeout)
	for {
		if ready(s.Endpoint) {
			s.cmd, s.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("versitygw on %s exited: %s", s.addr, strings.TrimSpace(stderr.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw on %s did not answer within %s: %s", s.addr, startTimeout, stderr.String())
		}
	}
}

// Stop stops the gateway (SIGTERM, then SIGKILL) and waits for it to exit.
// Objects stay in Dir; Restart serves them again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

// NewBucket creates an empty bucket with a fresh name and returns the name.
// With the posix backend a bucket is a folder of Dir.
func (s *Server) NewBucket(tb testing.TB) string {
	tb.Helper()
	name := "b" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-", "#", "-").Replace(tb.Name()))
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	name = strings.Trim(name, "-") + "-" + fmt.Sprint(time.Now().UnixNano()%1e9)
	if err := os.Mkdir(filepath.Join(s.Dir, name), 0o755); err != nil {
		tb.Fatalf("s3test: create bucket: %v", err)
	}
	return name
}

// URL returns the --store URL of prefix in bucket on this server.
func (s *Server) URL(bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + url.QueryEscape(s.Endpoint) + "&region=" + Region
}

// NewStore returns an S3 store on a new bucket of srv, under prefix ("" or
// a folder ending in "/"), opened from its URL as hlsd opens --store.
func NewStore(tb testing.TB, srv *Server, prefix string) *s3.Store {
	tb.Helper()
	cfg, err := s3.ParseURL(srv.URL(srv.NewBucket(tb), prefix), func(k string) string { return Env()[k] })
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	st, err := s3.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	return st
}

// Env returns the environment variables that give the server's root
// credentials, as a user sets them for hlsd.
func Env() map[string]string {
	return map[string]string{"AWS_ACCESS_KEY_ID": AccessKey, "AWS_SECRET_ACCESS_KEY": SecretKey}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ready reports whether the gateway answers HTTP (any status: an anonymous
// request is refused, which proves it is up).
func ready(endpoint string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(endpoint + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
