package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// nginxPath finds Debian's nginx (in /usr/sbin, often not on a user's PATH).
func nginxPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	t.Fatal("nginx is not installed: the reverse-proxy test needs it (apt-get install nginx-light)")
	return ""
}

// documentedNginx returns the nginx configuration of docs/deploy.md made
// runnable here: plain HTTP on 127.0.0.1:port (the TLS lines go), hlsd at
// upstream.
func documentedNginx(t *testing.T, port int, upstream string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```nginx\n")
	conf, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/deploy.md has no ```nginx block")
	}
	var out []string
	listened := false
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "listen":
			if !listened {
				out = append(out, fmt.Sprintf("    listen 127.0.0.1:%d;", port))
				listened = true
			}
		case len(f) > 0 && (strings.HasPrefix(f[0], "ssl_") || f[0] == "http2"):
		case len(f) == 2 && f[0] == "server" && strings.HasPrefix(f[1], "127.0.0.1:"):
			out = append(out, "    server "+upstream+";")
		default:
			out = append(out, line)
		}
	}
	if !listened {
		t.Fatal("the documented nginx configuration has no listen line")
	}
	return strings.Join(out, "\n")
}

// startNginx runs nginx in the foreground with its own prefix in a temp
// dir, as a reverse proxy to upstream, and returns its base URL.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := nginxPath(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, documentedNginx(t, port, upstream))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	guard := time.After(time.Minute) // hang guard
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s\nconfig:\n%s", out.String(), log, conf)
		case <-guard:
			t.Fatalf("nginx did not answer /healthz within a minute: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// clientFrom is an HTTP client whose connections come from local address
// ip (any of 127.0.0.0/8 is this machine), so a test can tell a client
// from the proxy.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 2 * time.Minute}
}

// TestBehindNginx runs the nginx configuration of docs/deploy.md in front
// of hlsd: the web UI signs in and uploads through it (tus-js-client in
// headless Chromium), hls.js plays the result through it, a raw upload
// passes through it, and hlsd logs the client's address as nginx forwards
// it, trusting X-Forwarded-For only from the proxy.
func TestBehindNginx(t *testing.T) {
	b := browsertest.New(t) // skips under -short
	const token = "proxy-test-token-0123456789"
	srv := startServe(t, nil, "--data", t.TempDir(), "--api-token", token,
		"--trusted-proxies", "127.0.0.1/32", "--rate-limit-exempt", "")
	base := startNginx(t, strings.TrimPrefix(srv.base, "http://"))

	// A raw upload through nginx from another local address, with a
	// forged X-Forwarded-For: hlsd logs the address nginx saw.
	video := testmedia.Path(t, "short.mp4")
	f, err := os.Open(video)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/media?title=raw&filename=short.mp4", f)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	resp, err := clientFrom("127.0.0.2").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("raw upload through nginx: %d %s", resp.StatusCode, body)
	}
	logged := regexp.MustCompile(`method=POST path=/api/v1/media status=201 .*remote=(\S+)`).FindStringSubmatch(srv.stderr.String())
	if logged == nil || logged[1] != "127.0.0.2" {
		t.Errorf("hlsd logged the upload from %q, want the client 127.0.0.2 (not nginx's 127.0.0.1, not the forged 198.51.100.9)", logged)
	}
	// The same forged header sent to hlsd directly, not through the
	// trusted proxy, is ignored.
	req, _ = http.NewRequest("GET", srv.base+"/api/v1/media?direct=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	if resp, err := clientFrom("127.0.0.3").Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if !regexp.MustCompile(`path=/api/v1/media status=200 .*remote=127\.0\.0\.3`).MatchString(srv.stderr.String()) ||
		strings.Contains(srv.stderr.String(), "198.51.100.9") {
		t.Errorf("a direct request's forged X-Forwarded-For was honoured:\n%s", srv.stderr.String())
	}

	// The web UI through nginx: sign in, upload with tus-js-client.
	tab, closeTab := b.NewTab()
	defer closeTab()
	p := &uiPage{t: t, ctx: tab, base: base, console: browsertest.WatchConsole(tab), server: srv}
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	p.run("sign in through nginx",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible("#grid", chromedp.ByID))
	// The library script has run (it lists the raw upload) before a file
	// is picked: its change listener is in place.
	p.waitFor("the library listed", func() (bool, error) {
		var n int
		err := p.eval(`document.querySelectorAll('#grid .media-card').length`, &n)
		return n > 0, err
	})
	p.run("upload through nginx", chromedp.SetUploadFiles("#file", []string{video}, chromedp.ByID))
	var ready []server.MediaObject
	p.waitFor("both uploads ready", func() (bool, error) {
		var failed []string
		if err := p.eval(`[...document.querySelectorAll('.upload.failed .info')].map(e => e.textContent)`, &failed); err != nil {
			return false, err
		}
		if len(failed) > 0 {
			return false, fmt.Errorf("upload failed in the browser: %q", failed)
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/media", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var list struct{ Data []server.MediaObject }
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			return false, err
		}
		ready = ready[:0]
		for _, m := range list.Data {
			if m.Status == "failed" {
				return false, fmt.Errorf("%s failed: %v", m.Title, deref(m.Error))
			}
			if m.Status == "ready" {
				ready = append(ready, m)
			}
		}
		return len(ready) == 2, nil
	})
	if !regexp.MustCompile(`method=PATCH path=/api/v1/uploads/\S+ status=204`).MatchString(srv.stderr.String()) {
		t.Errorf("the browser's upload did not go through tus:\n%s", srv.stderr.String())
	}

	// hls.js plays each through nginx.
	for _, m := range ready {
		pb, err := b.PlayHLS(t, base+m.PlaybackURL, 1)
		if err != nil {
			t.Fatalf("play %s through nginx: %v\nserver log:\n%s", m.Title, err, srv.stderr.String())
		}
		if pb.VideoWidth == 0 {
			t.Errorf("%s: no picture through nginx", m.Title)
		}
	}
}
