package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/signing"
	"github.com/hlsd/hlsd/internal/testmedia"
)

func TestServeSecurityFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad visibility", []string{"--default-visibility", "private"}, nil, `--default-visibility "private": want public or signed`},
		{"short signing key", []string{"--signing-key", "k1:short"}, nil, "--signing-key: signing key secret must be at least 16 characters"},
		{"short signing key in env", nil, map[string]string{"HLSD_SIGNING_KEY": "tooshort"}, "--signing-key: signing key secret must be at least 16"},
		{"duplicate kid", []string{"--signing-key", "k1:0123456789abcdef", "--signing-key", "k1:fedcba9876543210"}, nil, `--signing-key: signing key id "k1" given twice`},
		{"bad kid", []string{"--signing-key", "a/b:0123456789abcdef"}, nil, "--signing-key: signing key id"},
		{"frame ancestor not an origin", []string{"--frame-ancestors", "javascript:alert(1)"}, nil, "--frame-ancestors: frame ancestor"},
		{"frame ancestor smuggling a directive", []string{"--frame-ancestors", "https://a.example;script-src"}, nil, "--frame-ancestors"},
		{"zero api rate", []string{"--api-rate", "0"}, nil, "--api-rate must be positive, or -1 for no limit"},
		{"negative uploads", []string{"--max-uploads-per-hour", "-5"}, nil, "--max-uploads-per-hour must be positive"},
		{"negative conns", []string{"--max-conns", "-1"}, nil, "--max-conns must be 0"},
		{"bad exempt network", []string{"--rate-limit-exempt", "127.0.0.1/8,localhost"}, nil, `--rate-limit-exempt: "localhost" is not a network`},
		{"bad trusted proxy", []string{"--trusted-proxies", "10.0.0.0/8,proxy.lan"}, nil, `--trusted-proxies: "proxy.lan" is not a network`},
		{"umask not octal", []string{"--umask", "0x1f"}, nil, `--umask "0x1f": want an octal mask`},
		{"umask locking hlsd out", []string{"--umask", "777"}, nil, `--umask "777" would keep hlsd from its own files`},
		{"tiny token ttl", []string{"--max-token-ttl", "10ms"}, nil, "--max-token-ttl must be at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			var stderr bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string { return tt.env[k] }}
			code := m.exitCode(m.Run(t.Context(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, tt.args...)))
			if code != 1 || !strings.HasPrefix(stderr.String(), "hlsd: "+tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want 1 and one line starting %q", code, stderr.String(), "hlsd: "+tt.want)
			}
			if strings.Contains(stderr.String(), "0123456789abcdef") {
				t.Errorf("stderr shows a secret: %q", stderr.String())
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("data dir created despite the bad flag: %v", err)
			}
		})
	}
}

// TestServeGeneratesSigningKey: without --signing-key the first start
// makes DATA/signing-keys (mode 0600) and later starts reuse it, so tokens
// survive restarts.
func TestServeGeneratesSigningKey(t *testing.T) {
	data := t.TempDir()
	srv := startServe(t, nil, "--data", data, "--api-token", "flags-test-token-0123456789")
	path := filepath.Join(data, signing.KeyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("signing key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("signing key file mode %o, want 600", fi.Mode().Perm())
	}
	first, err := signing.ReadKeyFile(path)
	if err != nil || len(first) != 1 {
		t.Fatalf("key file: %v, %v", first, err)
	}
	if strings.Contains(srv.stderr.String(), string(first[0].Secret)) {
		t.Errorf("the secret was logged")
	}
	if code := srv.shutdown(t); code != 0 {
		t.Fatalf("shutdown exit %d", code)
	}
	srv = startServe(t, nil, "--data", data, "--api-token", "flags-test-token-0123456789")
	again, err := signing.ReadKeyFile(path)
	if err != nil || len(again) != 1 || again[0].ID != first[0].ID || string(again[0].Secret) != string(first[0].Secret) {
		t.Errorf("second start: keys %v (%v), want the saved one", again, err)
	}
	srv.shutdown(t)
}

func TestIngestEncrypt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	src := testmedia.Path(t, "short.mp4")
	run := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
		return m.exitCode(m.Run(t.Context(), append([]string{"ingest"}, args...))), stderr.String()
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "clip")
	if code, stderr := run("--encrypt", "--ladder", "144p", "-o", out, src); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fi, err := os.Stat(out + ".key")
	if err != nil || fi.Size() != 16 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file beside the output: %v %v", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(out, "144p", "index.m3u8"))
	if err != nil || !strings.Contains(string(b), `#EXT-X-KEY:METHOD=AES-128,URI="../../clip.key",IV=0x`) || !strings.Contains(string(b), ".ts\n") {
		t.Errorf("playlist (%v):\n%s", err, b)
	}

	custom := filepath.Join(dir, "other")
	keyFile := filepath.Join(dir, "keys", "other.key")
	if code, stderr := run("--encrypt", "--key-file", keyFile, "--key-url", "https://keys.example/other", "--ladder", "144p", "-o", custom, src); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(custom, "144p", "index.m3u8")); !strings.Contains(string(b), `URI="https://keys.example/other"`) {
		t.Errorf("custom key URL not in the playlist:\n%s", b)
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("custom key file: %v", err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--key-url", "x", "-o", filepath.Join(dir, "a"), src}, "hlsd: --key-file and --key-url need --encrypt\n"},
		{[]string{"--encrypt", "--format", "fmp4", "-o", filepath.Join(dir, "b"), src}, "hlsd: AES-128 encryption needs the ts format: ffmpeg cannot encrypt fmp4 segments\n"},
		{[]string{"--encrypt", "--key-file", filepath.Join(dir, "c", "k.key"), "-o", filepath.Join(dir, "c"), src}, "inside the output folder"},
	} {
		code, stderr := run(tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("ingest %v: exit %d, stderr %q, want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
