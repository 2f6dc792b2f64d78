package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hlsd/hlsd/internal/server"
)

// serving runs s.Serve on a 127.0.0.1:0 listener (optionally wrapped) and
// returns its base URL, a stop function cancelling its context, and the
// channel Serve's result arrives on.
func serving(t *testing.T, s *server.Server, wrap func(net.Listener) net.Listener) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- s.Serve(ctx, ln)
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return "http://" + addr, cancel, done
}

func mustNew(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bigSegment plants a segment of n random bytes in the tree's presentation.
func bigSegment(t *testing.T, tr *tree, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	write(t, filepath.Join(tr.data, "media", "abc", "360p", "big.m4s"), data)
	return data
}

// slowGet starts GET path, reads the response header, and returns the
// rest of the response unread: with a body larger than the socket buffers,
// the server stays in the middle of sending it.
func slowGet(t *testing.T, base, path string) (net.Conn, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, resp
}

// TestGracefulShutdown cancels Serve's context while a slow client is in
// the middle of a large segment: the listener closes at once (new
// connections are refused), the download still completes intact, and
// Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	tr := newTree(t)
	data := bigSegment(t, tr, 32<<20)
	s := mustNew(t, server.Config{DataDir: tr.data, ShutdownTimeout: 5 * time.Minute})
	base, stop, done := serving(t, s, nil)

	conn, resp := slowGet(t, base, "/hls/abc/360p/big.m4s")
	defer conn.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}

	stop()
	// New connections are refused once the listener is closed.
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			break
		}
		c.Close()
		select {
		case err := <-done:
			t.Fatalf("Serve returned %v before the in-flight download finished", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a download in flight", err)
	default:
	}

	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("in-flight download cut during shutdown: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, want the %d-byte file intact", len(got), len(data))
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v after a graceful shutdown, want nil", err)
	}
}

// TestShutdownDeadline checks that a client that stops reading cannot hold
// the process: after ShutdownTimeout the connection is closed and Serve
// still returns nil.
func TestShutdownDeadline(t *testing.T) {
	tr := newTree(t)
	bigSegment(t, tr, 32<<20)
	s := mustNew(t, server.Config{DataDir: tr.data, ShutdownTimeout: 100 * time.Millisecond})
	base, stop, done := serving(t, s, nil)
	conn, resp := slowGet(t, base, "/hls/abc/360p/big.m4s")
	defer conn.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after the shutdown deadline", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && n == 32<<20 {
		t.Errorf("stalled download completed; want it cut at the deadline")
	}
}

// TestSlowHeaders checks ReadHeaderTimeout: a client that never finishes
// its request header is disconnected.
func TestSlowHeaders(t *testing.T) {
	tr := newTree(t)
	s := mustNew(t, server.Config{DataDir: tr.data, ReadHeaderTimeout: 200 * time.Millisecond})
	base, _, _ := serving(t, s, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // no final CRLF
	conn.SetReadDeadline(time.Now().Add(time.Minute))         // hang guard only
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v (the server kept the connection open)", err)
	}
	if bytes.Contains(b, []byte("200 OK")) {
		t.Errorf("incomplete request was answered: %q", b)
	}
}

// TestMaxHeaderBytes checks that huge request headers are refused.
func TestMaxHeaderBytes(t *testing.T) {
	tr := newTree(t)
	s := mustNew(t, server.Config{DataDir: tr.data})
	base, _, _ := serving(t, s, nil)
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2*server.MaxHeaderBytes))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// countingListener records what the connections' ReadFrom was handed:
// net/http sends a response body through the connection's ReadFrom only
// when nothing between the handler and the socket hides it, and
// (*net.TCPConn).ReadFrom is where Go uses sendfile(2) for files.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	calls []string // the source type of each ReadFrom
	bytes int64
}

type countingConn struct {
	*net.TCPConn
	l *countingListener
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c.(*net.TCPConn), l}, nil
}

func (c countingConn) ReadFrom(r io.Reader) (int64, error) {
	src := fmt.Sprintf("%T", r)
	if lr, ok := r.(*io.LimitedReader); ok {
		src += fmt.Sprintf("(%T)", lr.R)
	}
	n, err := c.TCPConn.ReadFrom(r)
	c.l.mu.Lock()
	c.l.calls = append(c.l.calls, src)
	c.l.bytes += n
	c.l.mu.Unlock()
	return n, err
}

// TestSendfilePath checks that a segment's body reaches the socket through
// the TCP connection's ReadFrom with the *os.File itself as the source,
// through the access-log and metrics middleware: the zero-copy path.
func TestSendfilePath(t *testing.T) {
	// MaxConns wraps every connection in the connection limiter, which must
	// not hide the TCP connection's ReadFrom.
	for _, maxConns := range []int{0, 8} {
		t.Run(fmt.Sprintf("max-conns %d", maxConns), func(t *testing.T) {
			tr := newTree(t)
			data := bigSegment(t, tr, 4<<20)
			s := mustNew(t, server.Config{DataDir: tr.data, AccessLog: true, MaxConns: maxConns})
			var cl *countingListener
			base, _, _ := serving(t, s, func(l net.Listener) net.Listener {
				cl = &countingListener{Listener: l}
				return cl
			})
			r := do(t, "GET", base+"/hls/abc/360p/big.m4s", nil)
			if r.status != 200 || !bytes.Equal(r.body, data) {
				t.Fatalf("GET = %d with %d bytes, want 200 with the file", r.status, len(r.body))
			}
			cl.mu.Lock()
			defer cl.mu.Unlock()
			if len(cl.calls) != 1 || cl.calls[0] != "*io.LimitedReader(*os.File)" {
				t.Fatalf("connection ReadFrom calls = %q, want one with the *os.File", cl.calls)
			}
			// net/http copies the first 512 bytes itself (for sniffing), the rest
			// goes to ReadFrom.
			if cl.bytes != int64(len(data))-512 {
				t.Errorf("ReadFrom sent %d bytes, want %d", cl.bytes, len(data)-512)
			}
		})
	}
}

// TestMetrics checks the Prometheus series after a known set of requests.
func TestMetrics(t *testing.T) {
	tr := newTree(t)
	reg := prometheus.NewRegistry()
	_, base := newServer(t, tr, server.Config{Registry: reg})

	for range 3 {
		do(t, "GET", base+"/hls/abc/360p/index.m3u8", nil)
	}
	do(t, "GET", base+"/hls/abc/360p/seg_00001.m4s", nil)
	do(t, "GET", base+"/static/360p/seg_00001.m4s", map[string]string{"Range": "bytes=0-99"})
	do(t, "GET", base+"/hls/abc/360p/init.mp4", nil)
	do(t, "GET", base+"/hls/abc/poster.jpg", nil)
	do(t, "GET", base+"/hls/abc/keys/k1.key", nil)
	do(t, "GET", base+"/hls/abc/360p/seg_09999.m4s", nil)
	do(t, "POST", base+"/hls/abc/360p/index.m3u8", nil)
	do(t, "GET", base+"/api/v1/media", nil)
	rawRequest(t, base, "GET", "/hls/abc/../../metrics")

	want := []struct {
		kind, code string
		n          float64
	}{
		{"playlist", "200", 3},
		{"segment", "200", 1},
		{"segment", "206", 1},
		{"segment", "404", 1},
		{"init", "200", 1},
		{"poster", "200", 1},
		{"key", "200", 1},
		{"playlist", "405", 1},
		{"api", "404", 1},
		{"other", "400", 1},
	}
	fams := gather(t, reg)
	for _, w := range want {
		if got := value(fams, "hlsd_http_requests_total", map[string]string{"kind": w.kind, "code": w.code}); got != w.n {
			t.Errorf("hlsd_http_requests_total{kind=%q,code=%q} = %v, want %v", w.kind, w.code, got, w.n)
		}
	}
	if got, want := value(fams, "hlsd_http_response_bytes_total", map[string]string{"kind": "segment"}), float64(100_000+100+len("404 page not found\n")); got != want {
		t.Errorf("segment bytes = %v, want %v", got, want)
	}
	if got := value(fams, "hlsd_http_request_duration_seconds", map[string]string{"kind": "playlist"}); got != 4 {
		t.Errorf("playlist latency observations = %v, want 4", got)
	}
	if got := value(fams, "hlsd_http_in_flight_requests", nil); got != 0 {
		t.Errorf("in-flight = %v after all requests ended, want 0", got)
	}

	// And over HTTP: /metrics counts itself as in flight while it answers.
	r := do(t, "GET", base+"/metrics", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte("hlsd_http_in_flight_requests 1\n")) ||
		!bytes.Contains(r.body, []byte(`hlsd_http_requests_total{code="200",kind="playlist"} 3`)) {
		t.Errorf("GET /metrics = %d:\n%s", r.status, r.body)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns a counter's or gauge's value, or a histogram's sample
// count, for the series with exactly the given labels.
func value(fams []*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

// TestAccessLog checks one structured line per request.
func TestAccessLog(t *testing.T) {
	tr := newTree(t)
	var buf syncBuffer
	_, base := newServer(t, tr, server.Config{Logger: slogJSON(&buf), AccessLog: true})
	do(t, "GET", base+"/hls/abc/360p/seg_00001.m4s", map[string]string{"Range": "bytes=0-9"})
	line := buf.String()
	for _, want := range []string{`"msg":"request"`, `"method":"GET"`, `"path":"/hls/abc/360p/seg_00001.m4s"`, `"status":206`, `"bytes":10`, `"duration":`, `"remote":"127.0.0.1:`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %q lacks %s", line, want)
		}
	}

	var quiet syncBuffer
	_, base = newServer(t, tr, server.Config{Logger: slogJSON(&quiet), AccessLog: false})
	do(t, "GET", base+"/hls/abc/master.m3u8", nil)
	if quiet.String() != "" {
		t.Errorf("access log off, yet logged %q", quiet.String())
	}
}

// TestHTTP2 serves over TLS with a self-signed certificate and checks that
// a client negotiates HTTP/2 and gets the same headers.
func TestHTTP2(t *testing.T) {
	tr := newTree(t)
	certFile, keyFile, pool := selfSigned(t)
	s := mustNew(t, server.Config{DataDir: tr.data, TLSCertFile: certFile, TLSKeyFile: keyFile})
	base, _, _ := serving(t, s, nil)
	base = strings.Replace(base, "http://", "https://", 1)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2:  true,
		DisableCompression: true,
	}}
	for _, tt := range []struct{ path, ctype string }{
		{"/hls/abc/360p/index.m3u8", "application/vnd.apple.mpegurl"},
		{"/hls/abc/360p/seg_00001.m4s", "video/mp4"},
	} {
		resp, err := c.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("%s: protocol %s, want HTTP/2", tt.path, resp.Proto)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.ctype || len(body) == 0 {
			t.Errorf("%s: %d %q (%d bytes)", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}

func TestServeTLSErrors(t *testing.T) {
	tr := newTree(t)
	s := mustNew(t, server.Config{DataDir: tr.data, TLSCertFile: filepath.Join(tr.dir, "missing.pem"), TLSKeyFile: filepath.Join(tr.dir, "missing.key")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = s.Serve(context.Background(), ln)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Serve with a missing certificate = %v, want a not-exist error", err)
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
