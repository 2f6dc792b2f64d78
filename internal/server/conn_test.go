package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Connection-life tests (issue 10, item 2): a request announcing a body
// that the handler never reads must still be answered, and its connection
// must not stay open waiting for the body. Real sockets to a real server on
// 127.0.0.1; the minute-long deadlines are hang guards, not thresholds.

// keepAliveRequest is a request that announces a body it never sends,
// without "Connection: close", so that net/http would keep the connection
// and wait for the rest of the body.
func keepAliveRequest(addr, method, target string, contentLength int64, headers ...string) string {
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, target, addr, contentLength)
	for _, h := range headers {
		req += h + "\r\n"
	}
	return req + "\r\n"
}

// answer sends req on a new connection and reads one response; it fails t
// when none comes within the hang guard.
func answer(t *testing.T, addr, req string) (*http.Response, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, conn
}

func TestUnreadBodyAnswered(t *testing.T) {
	e := newAttackEnv(t)
	for _, tt := range []struct {
		name, method, target string
		length               int64
		headers              []string
		want                 int
	}{
		{"healthz", "GET", "/healthz", 1000, nil, 200},
		{"segment", "GET", "/hls/" + e.pub + "/360p/seg_00001.ts", 1000, nil, 200},
		{"not found", "GET", "/nowhere", 1000, nil, 404},
		{"unauthenticated API", "GET", "/api/v1/media", 1000, nil, 401},
		{"unauthenticated POST", "POST", "/api/v1/media/" + e.pub + "/playback-tokens", 1000, []string{"Content-Type: application/json"}, 401},
		{"wrong method", "DELETE", "/healthz", 1000, nil, 405},
		{"bad path", "POST", "/hls/%2e%2e/x", 1000, nil, 400},
		{"1 TB upload over --max-upload", "POST", "/api/v1/media?filename=a.mp4", 1 << 40, []string{authHeader}, 413},
		{"1 TB upload, expecting 100-continue", "POST", "/api/v1/media?filename=a.mp4", 1 << 40, []string{authHeader, "Expect: 100-continue"}, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, conn := answer(t, e.addr, keepAliveRequest(e.addr, tt.method, tt.target, tt.length, tt.headers...))
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			// The server does not wait for the body it announced: it
			// hangs up (the guard is generous; only a hang fails).
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			if n, err := conn.Read(make([]byte, 1)); err == nil || n > 0 {
				t.Errorf("connection still open after the answer (read %d, %v)", n, err)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("connection still open a minute after the answer")
			}
		})
	}
}

// TestUnreadBodiesDoNotPinConnections: many clients announcing bodies they
// never send do not hold the server's connection slots: with 40 slots,
// 200 such clients each get their answer and a normal request is still
// served.
func TestUnreadBodiesDoNotPinConnections(t *testing.T) {
	data := t.TempDir()
	os.MkdirAll(filepath.Join(data, "media"), 0o700)
	srv, err := New(Config{DataDir: data, MaxConns: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })

	const n = 200
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, keepAliveRequest(addr, "GET", "/healthz", 1000)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a normal request after %d unread bodies: %v", n, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("normal request: %d", resp.StatusCode)
	}
	answered := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if r, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && r.StatusCode == 200 {
			answered++
		}
	}
	if answered != n {
		t.Errorf("%d of %d clients with an unread body got their answer", answered, n)
	}
}
