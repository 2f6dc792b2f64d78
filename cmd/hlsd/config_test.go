package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes a config file with mode perm.
func writeConfig(t *testing.T, text string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hlsd.toml")
	if err := os.WriteFile(p, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

// configLine returns the line of key in `hlsd config` output.
func configLine(t *testing.T, out, key string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key+" = ") {
			return l
		}
	}
	t.Fatalf("no %s line in:\n%s", key, out)
	return ""
}

func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `
addr = "127.0.0.1:9999"
workers = 3
max-upload = "1GiB"
keep-source-rendition = false
cors-origins = ["https://a.example", "https://b.example"]
playlist-max-age = "5s"
`, 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		key  string
		want string
	}{
		{"file over default", nil, []string{"--config", file}, "workers", `workers = 3  # config ` + file},
		{"env over file", map[string]string{"HLSD_WORKERS": "2"}, []string{"--config", file}, "workers", `workers = 2  # env HLSD_WORKERS`},
		{"flag over env", map[string]string{"HLSD_WORKERS": "2"}, []string{"--config", file, "--workers", "4"}, "workers", `workers = 4  # flag`},
		{"HLSD_CONFIG", map[string]string{"HLSD_CONFIG": file}, nil, "addr", `addr = "127.0.0.1:9999"  # config ` + file},
		{"default", nil, nil, "addr", `addr = ":8080"  # default`},
		{"boolean", nil, []string{"--config", file}, "keep-source-rendition", `keep-source-rendition = false  # config ` + file},
		{"array joined", nil, []string{"--config", file}, "cors-origins", `cors-origins = "https://a.example,https://b.example"  # config ` + file},
		{"duration", nil, []string{"--config", file}, "playlist-max-age", `playlist-max-age = "5s"  # config ` + file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, append([]string{"config"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if got := configLine(t, stdout, tt.key); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	t.Run("the printed configuration is a valid config file", func(t *testing.T) {
		_, out, _ := runCLI(t, nil, "config", "--config", file)
		again := writeConfig(t, out, 0o600)
		code, out2, stderr := runCLI(t, nil, "config", "--config", again)
		if code != 0 || configLine(t, out2, "workers") != "workers = 3  # config "+again {
			t.Errorf("exit %d, stderr %q, output:\n%s", code, stderr, out2)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       string
	}{
		{"unknown key", "workers = 2\nport = 80\n", `unknown key "port"`},
		{"bad value", "workers = \"many\"\n", `invalid workers = "many"`},
		{"table", "[server]\naddr = \":1\"\n", `unknown key "server"`},
		{"syntax", "addr = \n", "toml:"},
		{"checked like a flag", "log-format = \"xml\"\n", `--log-format "xml": want text, json or off`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeConfig(t, tt.text, 0o600)
			code, _, stderr := runCLI(t, nil, "serve", "--config", file)
			if code != 1 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line containing %q", code, stderr, tt.want)
			}
		})
	}
	code, _, stderr := runCLI(t, nil, "serve", "--config", filepath.Join(t.TempDir(), "none.toml"))
	if code != 1 || !strings.HasSuffix(stderr, "none.toml: no such file or directory\n") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestConfigSecrets(t *testing.T) {
	secret := "s3cret-token-0123456789"
	t.Run("readable by others warns", func(t *testing.T) {
		file := writeConfig(t, "api-token = \""+secret+"\"\n", 0o644)
		code, stdout, stderr := runCLI(t, nil, "config", "--config", file)
		if code != 0 || !strings.Contains(stderr, "hlsd: warning: config "+file+" holds secrets (api-token) and is readable by every user") {
			t.Errorf("exit %d, stderr %q; want the warning", code, stderr)
		}
		if strings.Contains(stdout, secret) || configLine(t, stdout, "api-token") != `api-token = "<redacted>"  # config `+file {
			t.Errorf("secret not masked:\n%s", stdout)
		}
	})
	t.Run("mode 0600 does not warn", func(t *testing.T) {
		file := writeConfig(t, "api-token = \""+secret+"\"\n", 0o600)
		if code, _, stderr := runCLI(t, nil, "config", "--config", file); code != 0 || stderr != "" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("from a file, as container platforms pass them", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "token")
		os.WriteFile(p, []byte(secret+"\n"), 0o600)
		hook := filepath.Join(t.TempDir(), "hook")
		os.WriteFile(hook, []byte("whsec-0123456789abcdef"), 0o600)
		env := map[string]string{"HLSD_API_TOKEN_FILE": p, "HLSD_WEBHOOK_SECRET_FILE": hook, "HLSD_WEBHOOK": "https://user:pw@hooks.example/x"}
		code, stdout, stderr := runCLI(t, env, "config")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if got := configLine(t, stdout, "api-token"); got != `api-token = "<redacted>"  # file HLSD_API_TOKEN_FILE` {
			t.Errorf("got %q", got)
		}
		if got := configLine(t, stdout, "webhook"); got != `webhook = "https://user:xxxxx@hooks.example/x"  # env HLSD_WEBHOOK` {
			t.Errorf("got %q", got)
		}
		if strings.Contains(stdout, secret) || strings.Contains(stdout, "whsec-0123") || strings.Contains(stdout, ":pw@") {
			t.Errorf("a secret shows:\n%s", stdout)
		}
		// The value read is the one serve uses.
		m := &Main{Stderr: os.Stderr, Getenv: func(k string) string { return env[k] }}
		cfg, err := m.parseServeFlags(nil)
		if err != nil || cfg.APIToken != secret {
			t.Errorf("APIToken = %q (%v), want the file's content without its newline", cfg.APIToken, err)
		}
	})
	t.Run("only secret flags read files", func(t *testing.T) {
		env := map[string]string{"HLSD_TLS_KEY_FILE": "/etc/hlsd/key.pem"}
		_, stdout, _ := runCLI(t, env, "config")
		if got := configLine(t, stdout, "tls-key"); got != `tls-key = ""  # default` {
			t.Errorf("got %q", got)
		}
	})
}

func TestBackupReadsDataFromConfig(t *testing.T) {
	file := writeConfig(t, "data = \"/nonexistent/hlsd-data\"\nworkers = 2\n", 0o600)
	code, _, stderr := runCLI(t, nil, "backup", "--config", file, filepath.Join(t.TempDir(), "b"))
	if code != 1 || !strings.HasPrefix(stderr, "hlsd: /nonexistent/hlsd-data is not an hlsd data dir") {
		t.Errorf("exit %d, stderr %q; want the config's data dir", code, stderr)
	}
}
