package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readRepo reads a file at the repository root.
func readRepo(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dockerInstructions returns the Dockerfile's instructions, continuation
// lines joined and comments dropped.
func dockerInstructions(text string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if cur == "" && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur += strings.TrimSuffix(t, "\\") + " "
			continue
		}
		out = append(out, cur+t)
		cur = ""
	}
	return out
}

// TestDockerfileAndCompose checks the container files statically (no
// container engine or base images here): the image builds with the
// Makefile's target and copies its binary, runs as a non-root user with
// ffmpeg, and its port, volume and health check agree with serve's
// defaults and with compose.yaml.
func TestDockerfileAndCompose(t *testing.T) {
	m := &Main{Getenv: func(string) string { return "" }}
	def, err := m.parseServeFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(def.Addr)
	if err != nil {
		t.Fatal(err)
	}
	bin := regexp.MustCompile(`(?m)^BIN\s*:=\s*(\S+)`).FindStringSubmatch(readRepo(t, "Makefile"))
	if bin == nil {
		t.Fatal("Makefile has no BIN")
	}

	ins := dockerInstructions(readRepo(t, "Dockerfile"))
	var stages []string // FROM lines
	byStage := map[int][]string{}
	for _, in := range ins {
		if strings.HasPrefix(in, "FROM ") {
			stages = append(stages, in)
		}
		byStage[len(stages)-1] = append(byStage[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build and a runtime stage", len(stages))
	}
	build, run := strings.Join(byStage[0], "\n"), strings.Join(byStage[len(stages)-1], "\n")
	final := byStage[len(stages)-1]
	has := func(what, text, want string) {
		t.Helper()
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", what, want)
		}
	}
	has("build stage", build, "RUN make build")
	has("runtime stage", run, "COPY --from=build /src/"+bin[1]+" /usr/local/bin/hlsd")
	if !regexp.MustCompile(`^FROM debian:\S+-slim$`).MatchString(stages[len(stages)-1]) {
		t.Errorf("runtime base %q, want a slim Debian", stages[len(stages)-1])
	}
	has("runtime stage", run, "ffmpeg")
	var user, volume, expose, health, cmd string
	for _, in := range final {
		switch f := strings.Fields(in); f[0] {
		case "USER":
			user = f[1]
		case "VOLUME":
			volume = f[1]
		case "EXPOSE":
			expose = f[1]
		case "HEALTHCHECK":
			health = in
		case "CMD":
			cmd = in
		}
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("USER %q, want a non-root user", user)
	}
	if expose != port {
		t.Errorf("EXPOSE %q, want serve's default port %s", expose, port)
	}
	if volume == "" || !strings.Contains(cmd, `"--data", "`+volume+`"`) {
		t.Errorf("VOLUME %q and CMD %q: want the data dir in the volume", volume, cmd)
	}
	if !strings.Contains(health, "http://127.0.0.1:"+port+"/healthz") {
		t.Errorf("HEALTHCHECK %q, want /healthz on port %s", health, port)
	}

	compose := readRepo(t, "compose.yaml")
	has("compose.yaml", compose, "build: .")
	has("compose.yaml", compose, `- "`+port+`:`+port+`"`)
	has("compose.yaml", compose, ":"+volume+"\n")
	ignore := readRepo(t, ".dockerignore")
	for _, x := range []string{"web/node_modules", "testdata/.cache", "data"} {
		has(".dockerignore", ignore, x)
	}
}

// TestSystemdUnit verifies deploy/hlsd.service with systemd-analyze (the
// Debian package systemd, installed by scripts/deps.sh test) and scores its
// hardening offline: the exposure must stay "OK" (below 2.0).
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze not found: install the Debian package systemd (make deps-test does)")
	}
	unit := readRepo(t, "deploy/hlsd.service")
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/hlsd", "--data /var/lib/hlsd"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	// verify checks that ExecStart's binary exists: point it at a real one.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hlsd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/hlsd", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for hlsd.service: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: %s %s", m[1], m[2])
	if score >= 2 {
		t.Errorf("exposure %s %s, want below 2.0 (OK)", m[1], m[2])
	}
}
