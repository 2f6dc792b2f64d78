package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/ingest/ingesttest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

func TestVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		// A test binary has no link-time stamps: "devel" and what the
		// build info has.
		if code != 0 || stderr != "" || !regexp.MustCompile(`^hlsd \S+ \(rev \S+, .+, go1\.\d+.*\)\n$`).MatchString(stdout) {
			t.Errorf("hlsd %v: exit %d, stdout %q, stderr %q; want exit 0 and one version line", args, code, stdout, stderr)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"ingest", "--help"}, {"probe", "-h"}, {"backup", "-h"}, {"config", "-h"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: hlsd") {
			t.Errorf("hlsd %v: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := runCLI(t, nil); code != 2 || !strings.HasPrefix(stderr, "usage: hlsd") {
		t.Errorf("hlsd alone: exit %d, stderr %q; want 2 and the usage", code, stderr)
	}
}

func TestVersionStampedByMakefile(t *testing.T) {
	v := buildVersion{Version: "v1.2.3", Revision: "0123456789abcdef0123", Date: "2026-11-29T06:00:00Z", Go: "go1.26.0"}
	if got, want := v.String(), "hlsd v1.2.3 (rev 0123456789ab, 2026-11-29T06:00:00Z, go1.26.0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"-X main.version=", "-X main.revision=", "-X main.buildDate="} {
		if !bytes.Contains(mk, []byte(x)) {
			t.Errorf("Makefile does not stamp %s", x)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--port", "80"}, "hlsd serve: unknown flag --port (see 'hlsd serve -h')\n"},
		{[]string{"ingest", "clip.mp4", "--bogus"}, "hlsd ingest: unknown flag --bogus (see 'hlsd ingest -h')\n"},
		{[]string{"ingest", "clip.mp4", "-o"}, "hlsd ingest: flag --o needs a value (see 'hlsd ingest -h')\n"},
		{[]string{"serve", "--workers", "many"}, `hlsd serve: invalid value "many" for flag --workers: parse error (see 'hlsd serve -h')` + "\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, nil, tt.args...)
		if code != 2 || stdout != "" || stderr != tt.want {
			t.Errorf("hlsd %v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args      []string
		o         string
		json      bool
		positions []string
	}{
		{[]string{"clip.mp4", "-o", "out/"}, "out/", false, []string{"clip.mp4"}},
		{[]string{"-o", "out/", "clip.mp4", "--json"}, "out/", true, []string{"clip.mp4"}},
		{[]string{"a", "--json", "b", "-o=x"}, "x", true, []string{"a", "b"}},
		{[]string{"--json", "--", "-o", "b"}, "", true, []string{"-o", "b"}},
	}
	for _, tt := range tests {
		m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
		fs := m.newFlagSet("x", "")
		o := fs.String("o", "", "")
		j := fs.Bool("json", false, "")
		if err := m.parseFlags(fs, tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if *o != tt.o || *j != tt.json || strings.Join(fs.Args(), " ") != strings.Join(tt.positions, " ") {
			t.Errorf("%v: o=%q json=%v args=%q; want %q %v %q", tt.args, *o, *j, fs.Args(), tt.o, tt.json, tt.positions)
		}
	}
}

// TestIngestFlagsAfterInput runs `hlsd ingest clip.mp4 -o out/` as users
// type it, and a ladder rung taller than the source.
func TestIngestFlagsAfterInput(t *testing.T) {
	skipShortIngest(t)
	src := testmedia.Path(t, "short.mp4") // 320x240
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	code, stdout, stderr := runIngestCLI(t, false, nil, src, "-o", out, "--ladder", "144p")
	if code != 0 || !strings.HasPrefix(stdout, "wrote "+out) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "master.m3u8")); err != nil {
		t.Error(err)
	}

	t.Run("rung taller than the source", func(t *testing.T) {
		parent := t.TempDir()
		code, _, stderr := runIngestCLI(t, false, nil, src, "-o", filepath.Join(parent, "out"), "--ladder", "720p,144p")
		want := "hlsd: ladder rung 720p is taller than the source (240p)"
		if code != 1 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q; want 1 and one line starting %q", code, stderr, want)
		}
		if got := ingesttest.Entries(t, parent); len(got) != 0 {
			t.Errorf("left behind %v", got)
		}
	})
}

// TestServeBusyPortLeavesNothing: the listener opens first, so a busy port
// is one line and no data dir, token or keys appear.
func TestServeBusyPortLeavesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	data := filepath.Join(t.TempDir(), "data")
	code, _, stderr := runCLI(t, nil, "serve", "--addr", busy.Addr().String(), "--data", data)
	want := "hlsd: cannot listen on " + busy.Addr().String() + ": address already in use\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data dir %s exists after a failed start (%v)", data, err)
	}
}

// TestServeStartLine checks what a new user sees at the default level: the
// URL to open and where the token is, without River's migration lines.
func TestServeStartLine(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	r := startServe(t, nil, "--data", data)
	r.stop()
	<-r.done
	r.done <- nil
	log := r.stderr.String()
	for _, want := range []string{"open=http://127.0.0.1:", "api_token=" + filepath.Join(data, "api-token")} {
		if !strings.Contains(log, want) {
			t.Errorf("start log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "component=river") || strings.Contains(log, "level=DEBUG") {
		t.Errorf("default level shows debug or River lines:\n%s", log)
	}

	t.Run("debug", func(t *testing.T) {
		r := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--log-level", "debug")
		if log := r.stderr.String(); !strings.Contains(log, "component=river") || !strings.Contains(log, "msg=\"found ffmpeg\"") {
			t.Errorf("--log-level debug lacks River's and the ffmpeg check's lines:\n%s", log)
		}
	})
	code, _, stderr := runCLI(t, nil, "serve", "--log-level", "loud")
	if code != 1 || stderr != "hlsd: --log-level \"loud\": want debug, info, warn or error\n" {
		t.Errorf("bad --log-level: exit %d, stderr %q", code, stderr)
	}
}

// TestServeChecksFFmpeg: an ffmpeg older than the oldest tested release (a
// script answering -version as 4.4 does) or a missing ffprobe is one
// warning line at start; the server still starts.
func TestServeChecksFFmpeg(t *testing.T) {
	old := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'ffmpeg version 4.4.2 Copyright'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, nil, "--data", filepath.Join(t.TempDir(), "data"), "--ffmpeg", old, "--ffprobe", "/nonexistent/ffprobe")
	log := r.stderr.String()
	for _, want := range []string{
		`level=WARN msg="ffmpeg 4.4 at ` + old + ` is older than 5.1, the oldest version hlsd is tested with: install a newer ffmpeg; uploads will fail until then"`,
		`level=WARN msg="ffprobe not found at /nonexistent/ffprobe: install the Debian package ffmpeg; uploads will fail until then"`,
	} {
		if strings.Count(log, want) != 1 {
			t.Errorf("log lacks %q once:\n%s", want, log)
		}
	}
}
