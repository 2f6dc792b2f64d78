package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/openapitest"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/testmedia"
	"github.com/hlsd/hlsd/internal/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// apiHTTP sends the API tests' requests: every response is checked against
// docs/openapi.yaml (internal/openapitest).
var apiHTTP = openapitest.Client()

// apiClient calls a running hlsd's REST API over 127.0.0.1, as curl would.
type apiClient struct {
	base, token string
}

// apiCall sends one request and returns the status, headers and body.
func (c apiClient) call(t *testing.T, method, path string, body io.Reader, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func (c apiClient) media(t *testing.T, id string) (int, server.MediaObject) {
	t.Helper()
	status, _, body := c.call(t, "GET", "/api/v1/media/"+id, nil, nil)
	var m server.MediaObject
	if status == 200 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("media %s: %v in %s", id, err, body)
		}
	}
	return status, m
}

// created decodes a 201 answer.
func created(t *testing.T, status int, header http.Header, body []byte) server.MediaObject {
	t.Helper()
	if status != http.StatusCreated {
		t.Fatalf("upload: status %d, want 201: %s", status, body)
	}
	var m server.MediaObject
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if header.Get("Location") != "/api/v1/media/"+m.ID {
		t.Errorf("Location = %q, want /api/v1/media/%s", header.Get("Location"), m.ID)
	}
	return m
}

func (c apiClient) uploadRaw(t *testing.T, path, title string) server.MediaObject {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := url.Values{"title": {title}}
	s, h, b := c.call(t, "POST", "/api/v1/media?"+q.Encode(), f,
		map[string]string{"Content-Disposition": `attachment; filename="` + filepath.Base(path) + `"`})
	return created(t, s, h, b)
}

// uploadMultipart streams a multipart body through a pipe, as a browser
// form would send it (no Content-Length: chunked).
func (c apiClient) uploadMultipart(t *testing.T, path, title string) server.MediaObject {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("title", title)
		if err == nil {
			var fw io.Writer
			if fw, err = mw.CreateFormFile("file", filepath.Base(path)); err == nil {
				var f *os.File
				if f, err = os.Open(path); err == nil {
					_, err = io.Copy(fw, f)
					f.Close()
				}
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	s, h, b := c.call(t, "POST", "/api/v1/media", pr, map[string]string{"Content-Type": mw.FormDataContentType()})
	return created(t, s, h, b)
}

// uploadTus sends path with the tus 1.0 protocol, cutting the connection of
// the first PATCH after half the bytes, then asking the offset with HEAD and
// sending the rest. It returns the media id from Hlsd-Media-Id.
func (c apiClient) uploadTus(t *testing.T, path, title string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	meta := "filename " + b64([]byte(filepath.Base(path))) + ",title " + b64([]byte(title))
	tus := map[string]string{"Tus-Resumable": "1.0.0"}
	with := func(kv ...string) map[string]string {
		h := map[string]string{"Tus-Resumable": "1.0.0"}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	status, h, body := c.call(t, "POST", "/api/v1/uploads", nil, with("Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", meta))
	if status != http.StatusCreated {
		t.Fatalf("tus create: %d %s", status, body)
	}
	loc, err := url.Parse(h.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.Path, "/api/v1/uploads/") {
		t.Fatalf("tus Location = %q", h.Get("Location"))
	}
	upload := loc.Path

	// First PATCH: announce every byte, send half, cut the connection.
	half := len(data) / 2
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		upload, strings.TrimPrefix(c.base, "http://"), c.token, len(data))
	conn.Write(data[:half])
	// The stream ends early: close our side, then wait for the server to
	// end the request. (Resuming while the cut PATCH still holds the
	// upload makes tusd interrupt it, and tusd v2.9.1 has a data race on
	// that path, context.go:65 against writeChunk, which -race reports.)
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	io.Copy(io.Discard, conn)
	conn.Close()

	// HEAD tells how much arrived (tusd keeps what it received).
	var offset int
	deadline := time.Now().Add(time.Minute)
	for {
		status, h, _ = c.call(t, "HEAD", upload, nil, tus)
		offset, _ = strconv.Atoi(h.Get("Upload-Offset"))
		if status == http.StatusOK && offset > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusOK || offset <= 0 || offset > half {
		t.Fatalf("HEAD after the cut: status %d, Upload-Offset %d, want 200 and 0 < offset <= %d", status, offset, half)
	}
	if got := h.Get("Upload-Length"); got != strconv.Itoa(len(data)) {
		t.Errorf("Upload-Length = %s, want %d", got, len(data))
	}
	t.Logf("tus: cut after %d bytes, server kept %d, resuming", half, offset)

	// Resume from the server's offset.
	status, h, body = c.call(t, "PATCH", upload, bytes.NewReader(data[offset:]),
		with("Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream"))
	if status != http.StatusNoContent || h.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("tus resume: %d, Upload-Offset %q: %s", status, h.Get("Upload-Offset"), body)
	}
	id := h.Get(server.HeaderMediaID)
	if !hlsd.ValidMediaID(id) {
		t.Fatalf("final PATCH: %s = %q, want a media id", server.HeaderMediaID, id)
	}
	// A client that lost that answer learns the id with HEAD.
	status, h, _ = c.call(t, "HEAD", upload, nil, tus)
	if status != http.StatusOK || h.Get(server.HeaderMediaID) != id || h.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Errorf("HEAD after finishing: %d, %s %q, Upload-Offset %q", status, server.HeaderMediaID, h.Get(server.HeaderMediaID), h.Get("Upload-Offset"))
	}
	return id
}

// waitDone polls a media until it is ready or failed (a hang guard, not a
// performance threshold), and returns it.
func (c apiClient) waitDone(t *testing.T, id string) server.MediaObject {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		status, m := c.media(t, id)
		if status != 200 {
			t.Fatalf("media %s: status %d", id, status)
		}
		if m.Status == hlsd.StatusReady || m.Status == hlsd.StatusFailed {
			return m
		}
		if m.Progress < 0 || m.Progress > 1 {
			t.Errorf("progress %v out of 0..1", m.Progress)
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %s still %s (%.2f) after 5 minutes", id, m.Status, m.Progress)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantReady checks what a user would: ready, the right kind and duration,
// renditions with codecs.
func wantReady(t *testing.T, m server.MediaObject, kind hlsd.Kind, duration float64) {
	t.Helper()
	if m.Status != hlsd.StatusReady {
		t.Fatalf("media %s is %s (error %v), want ready", m.ID, m.Status, deref(m.Error))
	}
	if m.Kind == nil || *m.Kind != kind {
		t.Errorf("kind = %v, want %s", deref(m.Kind), kind)
	}
	if m.Duration == nil || *m.Duration < duration-0.5 || *m.Duration > duration+0.5 {
		t.Errorf("duration = %v, want about %.1f", deref(m.Duration), duration)
	}
	if m.Progress != 1 || len(m.Renditions) == 0 {
		t.Errorf("progress %v, %d renditions", m.Progress, len(m.Renditions))
	}
	for _, r := range m.Renditions {
		if r.Codecs == "" || r.Bandwidth <= 0 || (r.Kind == "video" && r.Resolution == "") {
			t.Errorf("rendition %+v lacks codecs, bandwidth or resolution", r)
		}
	}
	if (kind == hlsd.KindVideo) != (m.PosterURL != nil) {
		t.Errorf("poster_url = %v for %s", deref(m.PosterURL), kind)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// wantGone checks that a deleted media left nothing: 404 from the API and
// from delivery, no catalog entry, no source, no presentation.
func wantGone(t *testing.T, c apiClient, data, id string) {
	t.Helper()
	if status, _ := c.media(t, id); status != 404 {
		t.Errorf("GET after delete: %d, want 404", status)
	}
	if resp, _ := get(t, c.base+"/hls/"+id+"/master.m3u8", nil); resp.StatusCode != 404 {
		t.Errorf("playlist after delete: %d, want 404", resp.StatusCode)
	}
	for _, d := range []string{"sources", "media"} {
		if _, err := os.Stat(filepath.Join(data, d, id)); !os.IsNotExist(err) {
			t.Errorf("%s/%s after delete: %v, want it gone", d, id, err)
		}
	}
	_, _, body := c.call(t, "GET", "/api/v1/media?limit=100", nil, nil)
	if bytes.Contains(body, []byte(id)) {
		t.Errorf("list after delete still has %s", id)
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestAPIUploadAndPlay is the user's flow: first start prints a token;
// upload audio and video raw, multipart and by tus with a dropped
// connection; each becomes ready and plays in Chromium through hls.js;
// a non-media file fails with a clear error; delete leaves nothing.
func TestAPIUploadAndPlay(t *testing.T) {
	b := browsertest.New(t) // skips under -short
	data := t.TempDir()
	r := startServe(t, nil, "--data", data)

	// The first start generated a token, saved it 0600 and printed it once.
	tokenPath := filepath.Join(data, "api-token")
	raw, err := os.ReadFile(tokenPath)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	token := strings.TrimSpace(string(raw))
	if fi, _ := os.Stat(tokenPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	if line := "API token (saved in " + tokenPath + "): " + token; strings.Count(r.stderr.String(), line) != 1 {
		t.Errorf("stderr does not show %q once:\n%s", line, r.stderr.String())
	}
	if n, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(n) != 32 {
		t.Errorf("token %q is not 32 random bytes in base64url", token)
	}
	c := apiClient{base: r.base, token: token}

	tests := []struct {
		name, fixture, how string
		kind               hlsd.Kind
		duration           float64
	}{
		{"audio raw", "tone.flac", "raw", hlsd.KindAudio, 6},
		{"video raw", "short.mp4", "raw", hlsd.KindVideo, 2},
		{"audio multipart", "tone.flac", "multipart", hlsd.KindAudio, 6},
		{"video multipart", "short.mp4", "multipart", hlsd.KindVideo, 2},
		{"audio tus resumed", "tone.flac", "tus", hlsd.KindAudio, 6},
		{"video tus resumed", "short.mp4", "tus", hlsd.KindVideo, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testmedia.Path(t, tt.fixture)
			title := tt.name + " ✓"
			var id string
			switch tt.how {
			case "raw":
				id = c.uploadRaw(t, path, title).ID
			case "multipart":
				id = c.uploadMultipart(t, path, title).ID
			case "tus":
				id = c.uploadTus(t, path, title)
			}
			m := c.waitDone(t, id)
			wantReady(t, m, tt.kind, tt.duration)
			if m.Title != title {
				t.Errorf("title = %q, want %q", m.Title, title)
			}
			src, _ := filepath.Glob(filepath.Join(data, "sources", id, "source.*"))
			if len(src) != 1 || fileHash(t, src[0]) != fileHash(t, path) {
				t.Errorf("source %v differs from the uploaded file", src)
			}
			pb, err := b.Play(t, r.base+m.PlaybackURL, browsertest.PlayOptions{MinTime: 1, Audio: tt.kind == hlsd.KindAudio})
			if err != nil {
				t.Errorf("play %s: %v", m.PlaybackURL, err) // go on: delete must still leave nothing
			} else if pb.Duration < tt.duration-0.5 || (tt.kind == hlsd.KindVideo && pb.VideoWidth == 0) {
				t.Errorf("played %.2fs of %.2fs, %dx%d", pb.CurrentTime, pb.Duration, pb.VideoWidth, pb.VideoHeight)
			}
			if status, _, body := c.call(t, "DELETE", "/api/v1/media/"+id, nil, nil); status != 204 {
				t.Fatalf("delete: %d %s", status, body)
			}
			wantGone(t, c, data, id)
		})
	}

	t.Run("not media fails with a clear error", func(t *testing.T) {
		path := testmedia.Path(t, "not-media.txt")
		m := c.waitDone(t, c.uploadRaw(t, path, "").ID)
		if m.Status != hlsd.StatusFailed || m.Error == nil || !strings.Contains(*m.Error, "not a media file") {
			t.Fatalf("media = %+v (error %v), want failed with a clear error", m, deref(m.Error))
		}
		t.Logf("error: %s", *m.Error)
		if strings.Contains(*m.Error, data) {
			t.Errorf("error %q shows a server path", *m.Error)
		}
		// Bad media fails once and keeps its source.
		if _, err := os.Stat(filepath.Join(data, "sources", m.ID, "source.txt")); err != nil {
			t.Errorf("source of failed media: %v", err)
		}
		status, _, body := c.call(t, "DELETE", "/api/v1/media/"+m.ID, nil, nil)
		if status != 204 {
			t.Fatalf("delete: %d %s", status, body)
		}
		wantGone(t, c, data, m.ID)
	})

	// Nothing is left in the work areas.
	for _, d := range []string{"tmp", "sources", "media"} {
		var left []string
		filepath.WalkDir(filepath.Join(data, d), func(p string, e os.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() && !strings.HasSuffix(p, ".media") {
				left = append(left, p)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("left in DATA/%s: %v", d, left)
		}
	}

	// A restart keeps the token and does not print it again.
	if code := r.shutdown(t); code != 0 {
		t.Fatalf("shutdown exit %d", code)
	}
	r2 := startServe(t, nil, "--data", data)
	if strings.Contains(r2.stderr.String(), "API token") {
		t.Errorf("second start printed the token again:\n%s", r2.stderr.String())
	}
	if status, _, body := (apiClient{base: r2.base, token: token}).call(t, "GET", "/api/v1/media", nil, nil); status != 200 {
		t.Errorf("saved token after restart: %d %s", status, body)
	}
	// --api-token (here as HLSD_API_TOKEN) replaces the saved one.
	r2.shutdown(t)
	r3 := startServe(t, map[string]string{"HLSD_API_TOKEN": "env-token-0123456789abcdef"}, "--data", data)
	if status, _, _ := (apiClient{base: r3.base, token: token}).call(t, "GET", "/api/v1/media", nil, nil); status != 401 {
		t.Errorf("saved token with HLSD_API_TOKEN set: %d, want 401", status)
	}
	if status, _, _ := (apiClient{base: r3.base, token: "env-token-0123456789abcdef"}).call(t, "GET", "/api/v1/media", nil, nil); status != 200 {
		t.Errorf("HLSD_API_TOKEN: %d, want 200", status)
	}
}

// TestAPIParallelUploads sends ten small files at once to one worker: all
// are accepted and all end ready.
func TestAPIParallelUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes ten files: skipped with -short")
	}
	data := t.TempDir()
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": "parallel-token-0123456789"}, "--data", data, "--workers", "1")
	c := apiClient{base: r.base, token: "parallel-token-0123456789"}
	fixtures := []string{testmedia.Path(t, "short.mp4"), testmedia.Path(t, "tone.wav")}
	ids := make([]string, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			f, err := os.Open(fixtures[i%2])
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			req, _ := http.NewRequest("POST", c.base+"/api/v1/media?filename="+filepath.Base(f.Name())+"&title=p"+strconv.Itoa(i), f)
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := apiHTTP.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var m server.MediaObject
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 201 {
				t.Errorf("upload %d: %d %v", i, resp.StatusCode, err)
				return
			}
			ids[i] = m.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, id := range ids {
		m := c.waitDone(t, id)
		kind, dur := hlsd.KindVideo, 2.0
		if i%2 == 1 {
			kind, dur = hlsd.KindAudio, 6
		}
		wantReady(t, m, kind, dur)
	}
	_, _, body := c.call(t, "GET", "/api/v1/media?status=ready&limit=100", nil, nil)
	var list struct{ Data []server.MediaObject }
	json.Unmarshal(body, &list)
	if len(list.Data) != 10 {
		t.Errorf("%d ready media listed, want 10", len(list.Data))
	}
}

// binary is `hlsd` built into a temporary folder and started with exec.
type binary struct {
	cmd    *exec.Cmd
	base   string
	stderr *lockedBuffer
	exited chan struct{}
}

func buildHLSD(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hlsd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startBinary(t *testing.T, bin string, env []string, args ...string) *binary {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &binary{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			b.stderr.Write([]byte(line + "\n"))
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-b.exited
	})
	select {
	case a := <-addr:
		b.base = "http://" + a
	case <-b.exited:
		t.Fatalf("hlsd exited before listening:\n%s", b.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("hlsd did not listen within a minute:\n%s", b.stderr.String())
	}
	return b
}

// TestKillDuringTranscode kills the real binary with SIGKILL while it
// transcodes, restarts it on the same data dir, and checks the media still
// ends ready from its intact source; then SIGTERM stops it cleanly.
func TestKillDuringTranscode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and transcodes: skipped with -short")
	}
	bin := buildHLSD(t)
	data := t.TempDir()
	env := []string{"HLSD_API_TOKEN=kill-token-0123456789abcdef"}
	p := startBinary(t, bin, env, "--data", data)
	c := apiClient{base: p.base, token: "kill-token-0123456789abcdef"}

	fixture := testmedia.Path(t, "video-720p-long.mp4")
	want := fileHash(t, fixture)
	m := c.uploadRaw(t, fixture, "long")
	source := filepath.Join(data, "sources", m.ID, "source.mp4")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		_, cur := c.media(t, m.ID)
		if cur.Status == hlsd.StatusProcessing && cur.Progress > 0 {
			t.Logf("killing at progress %.2f", cur.Progress)
			break
		}
		if cur.Status == hlsd.StatusReady || cur.Status == hlsd.StatusFailed || time.Now().After(deadline) {
			t.Fatalf("media %s before the kill, want processing with progress > 0", cur.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	if fileHash(t, source) != want {
		t.Fatal("source changed or lost by the kill")
	}

	p2 := startBinary(t, bin, env, "--data", data)
	c.base = p2.base
	done := c.waitDone(t, m.ID)
	wantReady(t, done, hlsd.KindVideo, 30)
	if fileHash(t, source) != want {
		t.Error("source changed after the restart")
	}
	resp, body := get(t, c.base+done.PlaybackURL, nil)
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		t.Errorf("playlist after restart: %d %q", resp.StatusCode, body)
	}

	// SIGTERM: the server drains, stops the library and exits 0.
	p2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p2.exited:
	case <-time.After(time.Minute):
		t.Fatal("no exit within a minute of SIGTERM")
	}
	if code := p2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p2.stderr.String())
	}
	if log := p2.stderr.String(); !strings.Contains(log, "library stopped") || strings.Index(log, "msg=stopped") > strings.Index(log, "library stopped") {
		t.Errorf("want HTTP stopped, then the library:\n%s", log)
	}
}

// TestServeLibraryFlags checks the library and API flags: bad values give
// one clear line and exit 1 before anything is created.
func TestServeLibraryFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad size", []string{"--max-upload", "12XB"}, `--max-upload: "12XB" is not a size`},
		{"zero size", []string{"--max-upload", "0"}, "--max-upload must be positive"},
		{"no workers", []string{"--workers", "0"}, "--workers must be at least 1"},
		{"secret without webhook", []string{"--webhook-secret", "s"}, "--webhook-secret needs --webhook"},
		{"webhook not http", []string{"--webhook", "ftp://x"}, `--webhook "ftp://x": want an http:// or https:// URL`},
		{"bad whsec secret", []string{"--webhook", "http://127.0.0.1:1/hook", "--webhook-secret", "whsec_not base64"}, "--webhook-secret: the webhook secret starts with whsec_ but the rest is not base64"},
		{"short token", []string{"--api-token", "short"}, "--api-token must be at least 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			var stderr bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }}
			code := m.exitCode(m.Run(t.Context(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, tt.args...)))
			if code != 1 || stderr.String() != "hlsd: "+tt.want+"\n" && !strings.HasPrefix(stderr.String(), "hlsd: "+tt.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q", code, stderr.String(), tt.want)
			}
			if strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr has %d lines, want 1", strings.Count(stderr.String(), "\n"))
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("data dir created despite the bad flag: %v", err)
			}
		})
	}
}

// TestAPIBadInputs is the table of bad inputs against `hlsd serve`:
// each gets its status, error code and message, and leaves nothing in
// DATA/tmp or DATA/sources. (Files that are not media are accepted and
// then fail: see TestAPIUploadAndPlay.)
func TestAPIBadInputs(t *testing.T) {
	data := t.TempDir()
	const token = "bad-inputs-token-0123456789"
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token}, "--data", data, "--max-upload", "1MiB")
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	tests := []struct {
		name, method, path string
		body               []byte
		header             map[string]string
		truncate           bool // announce 500 kB more than sent, then close
		status             int
		code, msg          string
	}{
		{name: "empty body", method: "POST", path: "/api/v1/media?filename=a.mp4", body: []byte{}, status: 400, code: "invalid", msg: "upload is empty"},
		{name: "truncated upload", method: "POST", path: "/api/v1/media?filename=a.mp4", body: big[:100000], truncate: true, status: 400, code: "invalid", msg: "the upload was interrupted after"},
		{name: "oversize", method: "POST", path: "/api/v1/media?filename=a.mp4", body: big, status: 413, code: "too_large", msg: "the upload is larger than the limit of 1 MiB"},
		{name: "unknown id", method: "GET", path: "/api/v1/media/zzzzzzzzzzzz", status: 404, code: "not_found", msg: `media "zzzzzzzzzzzz" not found`},
		{name: "bad JSON", method: "PATCH", path: "/api/v1/media/zzzzzzzzzzzz", body: []byte(`{"title": "x",}`), header: map[string]string{"Content-Type": "application/json"}, status: 400, code: "invalid", msg: "the request body is not valid JSON"},
		{name: "unknown JSON field", method: "PATCH", path: "/api/v1/media/zzzzzzzzzzzz", body: []byte(`{"titel": "x"}`), status: 400, code: "invalid", msg: `unknown field "titel"`},
		{name: "missing token", method: "POST", path: "/api/v1/media", body: []byte("data"), header: map[string]string{"Authorization": ""}, status: 401, code: "unauthorized", msg: "missing API token: send Authorization: Bearer TOKEN"},
		{name: "wrong token", method: "POST", path: "/api/v1/media", body: []byte("data"), header: map[string]string{"Authorization": "Bearer " + token + "x"}, status: 401, code: "unauthorized", msg: "the API token is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			var body []byte
			if tt.truncate {
				conn, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", tt.method, tt.path, token, len(tt.body)+500000)
				conn.Write(tt.body)
				conn.(*net.TCPConn).CloseWrite()
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("read response: %v", err)
				}
				status = resp.StatusCode
				body, _ = io.ReadAll(resp.Body)
				conn.Close()
			} else {
				var rd io.Reader
				if tt.body != nil {
					rd = bytes.NewReader(tt.body)
				}
				status, _, body = apiClient{base: r.base, token: token}.call(t, tt.method, tt.path, rd, tt.header)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != tt.status || e.Error.Code != tt.code || !strings.HasPrefix(e.Error.Message, tt.msg) {
				t.Errorf("got %d %s %q, want %d %s %q", status, e.Error.Code, e.Error.Message, tt.status, tt.code, tt.msg)
			}
			for _, d := range []string{"tmp", "sources"} {
				filepath.WalkDir(filepath.Join(data, d), func(p string, e os.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						t.Errorf("left behind: %s", p)
					}
					return nil
				})
			}
		})
	}
	_, _, body := apiClient{base: r.base, token: token}.call(t, "GET", "/api/v1/media", nil, nil)
	if string(body) != `{"data":[],"next_cursor":null}`+"\n" {
		t.Errorf("media list = %s, want empty", body)
	}
}

// TestWatchFolderAndWebhook runs `hlsd serve --watch DIR --webhook URL
// --webhook-secret S`: a file dropped in DIR becomes ready media (listed by
// the API), and the receiver gets media.ready and media.deleted events
// carrying the API's media object, signed per Standard Webhooks.
func TestWatchFolderAndWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("transcodes: skipped with -short")
	}
	type got struct {
		typ string
		m   server.MediaObject
	}
	const secret = "webhook-secret-for-tests"
	events := make(chan got, 10)
	hook := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The Standard Webhooks project's verifier, given the whsec_ form
		// of the plain secret, as a receiver would be.
		wh, err := standardwebhooks.NewWebhook(webhook.FormatSecret([]byte(secret)))
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			t.Errorf("webhook signature: %v", err)
			w.WriteHeader(400)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, 0, time.Now()); err != nil {
			t.Errorf("deprecated Hlsd-Signature: %v", err)
		}
		var ev struct {
			Type string
			Data server.MediaObject
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		events <- got{ev.Type, ev.Data}
	})

	data, watchDir := t.TempDir(), t.TempDir()
	const token = "watch-token-0123456789abcdef"
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token, "HLSD_WEBHOOK_SECRET": secret},
		"--data", data, "--watch", watchDir, "--watch-quiet", "100ms", "--webhook", hook)
	c := apiClient{base: r.base, token: token}

	src, err := os.ReadFile(testmedia.Path(t, "tone.wav"))
	if err != nil {
		t.Fatal(err)
	}
	// Written under a hidden name then renamed, as a careful copier does;
	// the watcher also waits for the size to settle.
	os.WriteFile(filepath.Join(watchDir, ".part"), src, 0o644)
	os.Rename(filepath.Join(watchDir, ".part"), filepath.Join(watchDir, "Dropped tone.wav"))

	var ev got
	select {
	case ev = <-events:
	case <-time.After(3 * time.Minute):
		t.Fatalf("no webhook within 3 minutes\n%s", r.stderr.String())
	}
	if ev.typ != "media.ready" || ev.m.Title != "Dropped tone" || ev.m.Status != hlsd.StatusReady ||
		ev.m.PlaybackURL != "/hls/"+ev.m.ID+"/master.m3u8" || len(ev.m.Renditions) == 0 {
		t.Fatalf("event %s %+v, want media.ready of the dropped file", ev.typ, ev.m)
	}
	_, m := c.media(t, ev.m.ID)
	wantReady(t, m, hlsd.KindAudio, 6)
	if _, err := os.Stat(filepath.Join(watchDir, "Dropped tone.wav")); !os.IsNotExist(err) {
		t.Errorf("dropped file still in the watch folder: %v", err)
	}
	src2, _ := filepath.Glob(filepath.Join(data, "sources", m.ID, "source.wav"))
	if len(src2) != 1 || fileHash(t, src2[0]) != sha256.Sum256(src) {
		t.Errorf("source %v is not the dropped file", src2)
	}

	if status, _, body := c.call(t, "DELETE", "/api/v1/media/"+m.ID, nil, nil); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	select {
	case ev = <-events:
		if ev.typ != "media.deleted" || ev.m.ID != m.ID {
			t.Errorf("event %s %s, want media.deleted %s", ev.typ, ev.m.ID, m.ID)
		}
	case <-time.After(time.Minute):
		t.Fatal("no media.deleted event")
	}
}

// httptestServer serves h on 127.0.0.1 until the test ends.
func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/hook"
}

// TestWatchEarly plays a media while it is still processing: the
// rendition playlists are EVENT playlists without ENDLIST, served with
// no-cache, and hls.js plays them; once ready they are VOD.
func TestWatchEarly(t *testing.T) {
	b := browsertest.New(t) // skips under -short
	data := t.TempDir()
	const token = "early-token-0123456789abcdef"
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token}, "--data", data)
	c := apiClient{base: r.base, token: token}
	m := c.uploadRaw(t, testmedia.Path(t, "video-720p-long.mp4"), "early")

	// Wait for a first segment of every rendition while processing.
	var variants []string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, cur := c.media(t, m.ID)
		if cur.Status == hlsd.StatusReady || cur.Status == hlsd.StatusFailed || time.Now().After(deadline) {
			t.Fatalf("media %s before any check while processing", cur.Status)
		}
		resp, body := get(t, r.base+m.PlaybackURL, nil)
		if resp.StatusCode == 200 {
			variants = variants[:0]
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasSuffix(l, ".m3u8") {
					variants = append(variants, l)
				} else if i := strings.Index(l, `URI="`); i >= 0 && strings.Contains(l, "EXT-X-MEDIA") {
					variants = append(variants, strings.SplitN(l[i+5:], `"`, 2)[0])
				}
			}
			// The source rendition (an H.264/AAC upload played as is) is
			// there at once and is VOD: wait for the ladder's renditions.
			variants = slices.DeleteFunc(variants, func(v string) bool { return strings.HasPrefix(v, "source/") })
			ready := len(variants) > 0
			for _, v := range variants {
				resp, body := get(t, r.base+"/hls/"+m.ID+"/"+v, nil)
				ready = ready && resp.StatusCode == 200 && strings.Contains(string(body), "#EXTINF")
			}
			if ready {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, body := get(t, r.base+"/hls/"+m.ID+"/"+variants[0], nil)
	if _, cur := c.media(t, m.ID); cur.Status != hlsd.StatusProcessing {
		t.Fatalf("the transcode finished before it could be checked while processing (status %s)", cur.Status)
	}
	if !strings.Contains(string(body), "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(string(body), "#EXT-X-ENDLIST") ||
		resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("playlist while processing: Cache-Control %q\n%s", resp.Header.Get("Cache-Control"), body)
	}
	if _, err := b.Play(t, r.base+m.PlaybackURL, browsertest.PlayOptions{MinTime: 1}); err != nil {
		t.Fatalf("play while processing: %v", err)
	}
	done := c.waitDone(t, m.ID)
	wantReady(t, done, hlsd.KindVideo, 30)
	_, body = get(t, r.base+"/hls/"+m.ID+"/"+variants[0], nil)
	if !strings.Contains(string(body), "#EXT-X-ENDLIST") {
		t.Errorf("playlist once ready has no ENDLIST:\n%s", body)
	}
}
