package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/signing"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// TestSignedEncryptedPlayback is the "done when" end to end: a
// server started with --default-visibility signed and --encrypt takes an
// upload, which then plays in hls.js (headless Chromium) from its signed
// URL, AES-128 key included, while its plain URLs, its key without a token
// and its segments without the key give nothing.
func TestSignedEncryptedPlayback(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes and runs Chromium")
	}
	const token = "security-test-token-0123456789"
	data := t.TempDir()
	srv := startServe(t, nil, "--data", data, "--api-token", token,
		"--default-visibility", "signed", "--encrypt", "--signing-key", "k2:second-secret-0123456789",
		"--signing-key", "k1:first-secret-0123456789")
	c := apiClient{base: srv.base, token: token}
	m := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "private clip")
	if m.Visibility != hlsd.VisibilitySigned || !m.Encrypted {
		t.Fatalf("upload: visibility %q encrypted %v, want the server defaults (signed, encrypted)", m.Visibility, m.Encrypted)
	}
	m = c.waitDone(t, m.ID)
	if m.Status != hlsd.StatusReady {
		t.Fatalf("media %s: %s", m.Status, deref(m.Error))
	}
	// The key is outside the served folder.
	if _, err := os.Stat(filepath.Join(data, "keys", m.ID+".key")); err != nil {
		t.Fatalf("key file: %v", err)
	}
	filepath.WalkDir(filepath.Join(data, "media"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".key") {
			t.Errorf("a key file under the served folder: %s", p)
		}
		return nil
	})

	fetch := func(path string) (int, []byte) {
		resp, err := http.Get(srv.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, p := range []string{"master.m3u8", "key", m.Renditions[0].Name + "/index.m3u8"} {
		if status, _ := fetch("/hls/" + m.ID + "/" + p); status != http.StatusForbidden {
			t.Errorf("plain %s: %d, want 403", p, status)
		}
	}

	status, _, body := c.call(t, "POST", "/api/v1/media/"+m.ID+"/playback-tokens", strings.NewReader(`{"ttl_seconds": 600}`),
		map[string]string{"Content-Type": "application/json"})
	var tok server.TokenObject
	if status != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("playback token: %d %s", status, body)
	}
	if tok.PlaybackURL != "/hls/t/"+tok.Token+"/"+m.ID+"/master.m3u8" {
		t.Fatalf("playback_url %q does not carry the token in its path", tok.PlaybackURL)
	}
	// The first --signing-key signs.
	if c, _, _, err := signing.Parse(tok.Token); err != nil || c.KeyID != "k2" {
		t.Errorf("token signed by %q (%v), want k2, the first --signing-key", c.KeyID, err)
	}
	signedBase := strings.TrimSuffix(tok.PlaybackURL, "master.m3u8")
	status, variant := fetch(signedBase + m.Renditions[0].Name + "/index.m3u8")
	if status != 200 || !strings.Contains(string(variant), `#EXT-X-KEY:METHOD=AES-128,URI="../key",IV=0x`) {
		t.Fatalf("signed variant playlist: %d\n%s", status, variant)
	}
	status, key := fetch(signedBase + "key")
	if status != 200 || len(key) != 16 {
		t.Fatalf("key with the token: %d, %d bytes", status, len(key))
	}
	// A segment fetched with the token is still ciphertext: useless
	// without the key (it does not even start with the TS sync byte).
	var seg string
	for _, line := range strings.Split(string(variant), "\n") {
		if strings.HasSuffix(line, ".ts") {
			seg = line
			break
		}
	}
	if status, b := fetch(signedBase + m.Renditions[0].Name + "/" + seg); status != 200 || len(b) == 0 || b[0] == 0x47 {
		t.Errorf("segment %s: %d, first byte %x; want 200 and ciphertext", seg, status, b[:1])
	}

	b := browsertest.New(t)
	// Encrypted presentations are TS (ffmpeg cannot encrypt fMP4), with
	// the audio muxed into each video rendition: hls.js must play them
	// without a single non-fatal error.
	pb, err := b.Play(t, srv.base+tok.PlaybackURL, browsertest.PlayOptions{MinTime: 1.5})
	if err != nil {
		t.Fatalf("hls.js playing the signed, encrypted media: %v (page %s)", err, pb.PageURL)
	}
	if _, err := b.PlayHLS(t, srv.base+"/hls/"+m.ID+"/master.m3u8", 0.5); err == nil {
		t.Errorf("hls.js played the plain URL of a signed media")
	}
}
