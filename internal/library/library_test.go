package library_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/testmedia"
	"github.com/hlsd/hlsd/internal/webhook"
)

// waitLimit guards against a hang; it is not a performance threshold.
const waitLimit = 5 * time.Minute

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testWriter sends log lines to t.Log while the test runs.
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("transcodes with ffmpeg; skipped under -short")
	}
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("internal/library tests need %s on PATH (apt-get install ffmpeg): %v", bin, err)
		}
	}
}

// start makes a Library on dir and starts it; it is stopped at cleanup.
func start(t *testing.T, cfg library.Config) *library.Library {
	t.Helper()
	if cfg.Logger == nil {
		w := &testWriter{t: t}
		t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
		cfg.Logger = slog.New(slog.NewTextHandler(w, nil))
	}
	lib, err := newLibrary(t, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := lib.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lib.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return lib
}

func createFile(t *testing.T, lib *library.Library, path string, meta library.Upload) *hlsd.Media {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if meta.Filename == "" {
		meta.Filename = filepath.Base(path)
	}
	m, err := lib.Create(context.Background(), f, meta)
	if err != nil {
		t.Fatalf("Create %s: %v", meta.Filename, err)
	}
	return m
}

// waitFor polls the media until cond holds, failing on a hang.
func waitFor(t *testing.T, lib *library.Library, id, what string, cond func(*hlsd.Media) bool) *hlsd.Media {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		m, err := lib.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get %s while waiting for %s: %v", id, what, err)
		}
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %s never became %s; last: status %s progress %.2f error %q", id, what, m.Status, m.Progress, m.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitDone(t *testing.T, lib *library.Library, id string) *hlsd.Media {
	t.Helper()
	return waitFor(t, lib, id, "ready or failed", func(m *hlsd.Media) bool {
		return m.Status == hlsd.StatusReady || m.Status == hlsd.StatusFailed
	})
}

// jobRow is a River job as the tests see it, read with a second connection.
type jobRow struct {
	State   string
	Attempt int
}

func transcodeJobs(t *testing.T, dataDir, mediaID string) []jobRow {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "hlsd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT state, attempt FROM river_job WHERE kind = 'transcode' AND json_extract(args, '$.media_id') = ? ORDER BY id`, mediaID)
	if err != nil {
		t.Fatalf("query river_job: %v", err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.State, &j.Attempt); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// waitJobs polls the media's transcode jobs until none is running or
// waiting (River records a job's outcome shortly after Work returns).
func waitJobs(t *testing.T, dataDir, mediaID string) []jobRow {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		jobs := transcodeJobs(t, dataDir, mediaID)
		settled := len(jobs) > 0
		for _, j := range jobs {
			switch j.State {
			case "completed", "cancelled", "discarded":
			default:
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			return jobs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dirEntries lists a folder's names ("" for a missing folder).
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkPresentation parses the published presentation of id and checks
// that every playlist it names exists, is VOD and ends, and that its
// segments are on disk.
func checkPresentation(t *testing.T, mediaDir string, wantDuration float64) *hls.Multivariant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(mediaDir, "master.m3u8"))
	if err != nil {
		t.Fatalf("read master playlist: %v", err)
	}
	mv, err := hls.ParseMultivariant(data)
	if err != nil {
		t.Fatalf("ParseMultivariant: %v\n%s", err, data)
	}
	if len(mv.Variants) == 0 {
		t.Fatalf("master playlist has no variants:\n%s", data)
	}
	uris := []string{}
	for _, v := range mv.Variants {
		uris = append(uris, v.URI)
	}
	for _, a := range mv.Alternatives {
		if a.URI != "" {
			uris = append(uris, a.URI)
		}
	}
	for _, uri := range uris {
		path := filepath.Join(mediaDir, filepath.FromSlash(uri))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("variant playlist %s: %v", uri, err)
		}
		mp, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatalf("ParseMedia %s: %v", uri, err)
		}
		if !mp.EndList || mp.PlaylistType != hls.TypeVOD {
			t.Errorf("%s: type %q endlist %v, want a finished VOD playlist", uri, mp.PlaylistType, mp.EndList)
		}
		var total float64
		for _, s := range mp.Segments {
			total += s.Duration
			if !exists(filepath.Join(filepath.Dir(path), filepath.FromSlash(s.URI))) {
				t.Errorf("%s: segment %s missing", uri, s.URI)
			}
		}
		if math.Abs(total-wantDuration) > 0.5 {
			t.Errorf("%s: segments add up to %.2fs, want %.2fs", uri, total, wantDuration)
		}
	}
	return mv
}

// hookRecorder is a webhook endpoint on 127.0.0.1 that records verified
// events; the first failFirst requests are answered 500.
type hookRecorder struct {
	srv       *httptest.Server
	secret    string
	mu        sync.Mutex
	failFirst int
	requests  int
	events    []webhook.Event
	badSig    []string
}

func newHookRecorder(t *testing.T, secret string, failFirst int) *hookRecorder {
	h := &hookRecorder{secret: secret, failFirst: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if h.requests <= h.failFirst {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		if err := webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), body, 0, time.Now()); err != nil {
			h.badSig = append(h.badSig, err.Error())
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get(webhook.HeaderEventID) {
			h.badSig = append(h.badSig, fmt.Sprintf("bad body or event id header: %v", err))
		}
		h.events = append(h.events, ev)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitEvent waits for an event of typ about media id and returns its data.
func (h *hookRecorder) waitEvent(t *testing.T, typ, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		h.mu.Lock()
		for _, ev := range h.events {
			var data map[string]any
			if ev.Type == typ && json.Unmarshal(ev.Data, &data) == nil && data["id"] == id {
				h.mu.Unlock()
				return data
			}
		}
		bad := slices.Clone(h.badSig)
		h.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("webhook requests failed verification: %v", bad)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s webhook for %s", typ, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventIDs returns the distinct ids of the events of typ about media id
// received so far (a retried delivery repeats its id).
func (h *hookRecorder) eventIDs(typ, id string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, ev := range h.events {
		var data map[string]any
		if ev.Type == typ && json.Unmarshal(ev.Data, &data) == nil && data["id"] == id && !slices.Contains(ids, ev.ID) {
			ids = append(ids, ev.ID)
		}
	}
	return ids
}

func TestCreateProcessPlay(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	hooks := newHookRecorder(t, "s3cret", 1)
	lib := start(t, library.Config{DataDir: data, WebhookURL: hooks.srv.URL, WebhookSecret: "s3cret"})
	tests := []struct {
		fixture  string
		title    string
		kind     hlsd.Kind
		duration float64
		ext      string
	}{
		{"short.mp4", "short", hlsd.KindVideo, 2, ".mp4"},
		{"tone.flac", "tone", hlsd.KindAudio, 6, ".flac"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			src := testmedia.Path(t, tt.fixture)
			srcInfo, _ := os.Stat(src)
			m := createFile(t, lib, src, library.Upload{})
			if m.Status != hlsd.StatusQueued || m.Title != tt.title || m.SourceSize != srcInfo.Size() {
				t.Errorf("Create = status %q title %q size %d, want queued, %q, %d", m.Status, m.Title, m.SourceSize, tt.title, srcInfo.Size())
			}
			m = waitDone(t, lib, m.ID)
			if m.Status != hlsd.StatusReady {
				t.Fatalf("status %s (%s), want ready", m.Status, m.Error)
			}
			if m.Kind != tt.kind || m.Progress != 1 || math.Abs(m.Duration-tt.duration) > 0.3 || len(m.Renditions) == 0 {
				t.Errorf("ready media: kind %q progress %v duration %v renditions %d; want %q, 1, %v, >0",
					m.Kind, m.Progress, m.Duration, len(m.Renditions), tt.kind, tt.duration)
			}
			mediaDir := lib.Layout().MediaDir(m.ID)
			checkPresentation(t, mediaDir, tt.duration)
			if got := dirEntries(t, lib.Layout().SourceDir(m.ID)); !slices.Equal(got, []string{"source" + tt.ext}) {
				t.Errorf("source dir holds %v, want [source%s]", got, tt.ext)
			}
			if tt.kind == hlsd.KindVideo && !exists(filepath.Join(mediaDir, "poster.jpg")) {
				t.Errorf("no poster.jpg for a video")
			}
			ev := hooks.waitEvent(t, webhook.MediaReady, m.ID)
			if ev["status"] != "ready" || ev["playback_url"] != "/hls/"+m.ID+"/master.m3u8" {
				t.Errorf("media.ready data = %v", ev)
			}
		})
	}
	if got := dirEntries(t, filepath.Join(data, "tmp")); len(got) != 0 {
		t.Errorf("tmp holds %v after uploads, want nothing", got)
	}
	page, err := lib.List(context.Background(), hlsd.MediaFilter{})
	if err != nil || len(page.Media) != 2 || page.Media[0].Title != "tone" {
		t.Errorf("List = %v, %v; want 2 media, newest (tone) first", page, err)
	}
	if hooks.requests < 3 {
		t.Errorf("webhook endpoint got %d requests; the first failed so at least 3 were due", hooks.requests)
	}

	t.Run("reprocess", func(t *testing.T) {
		id := page.Media[1].ID
		m, err := lib.Reprocess(context.Background(), id)
		if err != nil || m.Status != hlsd.StatusQueued || m.Progress != 0 {
			t.Fatalf("Reprocess = %+v, %v; want queued", m, err)
		}
		if _, err := lib.Reprocess(context.Background(), id); hlsd.ErrorCode(err) != hlsd.ECONFLICT {
			t.Errorf("second Reprocess while queued = %v, want conflict", err)
		}
		m = waitDone(t, lib, id)
		if m.Status != hlsd.StatusReady {
			t.Fatalf("after reprocess: %s (%s)", m.Status, m.Error)
		}
		checkPresentation(t, lib.Layout().MediaDir(id), 2)
		if jobs := waitJobs(t, data, id); len(jobs) != 2 || jobs[1].State != "completed" {
			t.Errorf("jobs of reprocessed media = %+v, want two, the last completed", jobs)
		}
	})

	t.Run("delete", func(t *testing.T) {
		id := page.Media[0].ID
		if err := lib.Delete(context.Background(), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := lib.Get(context.Background(), id); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
			t.Errorf("Get after Delete = %v, want not found", err)
		}
		if exists(lib.Layout().MediaDir(id)) || exists(lib.Layout().SourceDir(id)) {
			t.Errorf("files left after Delete: media %v source %v", exists(lib.Layout().MediaDir(id)), exists(lib.Layout().SourceDir(id)))
		}
		hooks.waitEvent(t, webhook.MediaDeleted, id)
		if err := lib.Delete(context.Background(), id); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
			t.Errorf("second Delete = %v, want not found", err)
		}
	})
}

func TestBadMediaFailsOnce(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	// The webhook endpoint always fails: the transcode outcome must not care.
	hooks := newHookRecorder(t, "x", 1_000_000)
	lib := start(t, library.Config{DataDir: data, WebhookURL: hooks.srv.URL, WebhookSecret: "x"})
	m := createFile(t, lib, testmedia.Path(t, "not-media.txt"), library.Upload{Title: "Notes"})
	m = waitDone(t, lib, m.ID)
	if m.Status != hlsd.StatusFailed {
		t.Fatalf("status %s, want failed", m.Status)
	}
	if m.Error == "" || strings.Contains(m.Error, "Internal error") || strings.Contains(m.Error, data) {
		t.Errorf("error %q: want one clear sentence without internals", m.Error)
	}
	if !strings.Contains(m.Error, "not-media.txt") {
		t.Errorf("error %q does not name the uploaded file", m.Error)
	}
	t.Logf("failure message: %s", m.Error)
	if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0].Attempt != 1 || jobs[0].State != "cancelled" {
		t.Errorf("jobs = %+v, want one attempt, cancelled (no retry)", jobs)
	}
	if got := dirEntries(t, lib.Layout().SourceDir(m.ID)); !slices.Equal(got, []string{"source.txt"}) {
		t.Errorf("source dir = %v, want the source kept", got)
	}
	if exists(lib.Layout().MediaDir(m.ID)) {
		t.Errorf("a failed media left a presentation folder")
	}
}

// errReader fails after some bytes, like a dropped connection.
type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func TestCreateRefused(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data})
	big := bytes.Repeat([]byte("a"), 5000)
	tests := []struct {
		name     string
		body     io.Reader
		meta     library.Upload
		wantCode string
		wantMsg  string
	}{
		{"too large", bytes.NewReader(big), library.Upload{Filename: "a.mp4", MaxSize: 4096}, hlsd.ETOOLARGE, "larger than the limit of 4 KiB"},
		{"too large by one byte", bytes.NewReader(big[:4097]), library.Upload{Filename: "a.mp4", MaxSize: 4096}, hlsd.ETOOLARGE, "4 KiB"},
		{"max bytes reader", http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(big)), 1000), library.Upload{}, hlsd.ETOOLARGE, "1 kB"},
		{"empty", bytes.NewReader(nil), library.Upload{Filename: "a.mp4"}, hlsd.EINVALID, "upload is empty"},
		{"interrupted", &errReader{n: 3000}, library.Upload{Filename: "a.mp4"}, hlsd.EINVALID, "interrupted"},
		{"title too long", bytes.NewReader(big), library.Upload{Title: strings.Repeat("t", 301)}, hlsd.EINVALID, "title"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := lib.Create(context.Background(), tt.body, tt.meta)
			if hlsd.ErrorCode(err) != tt.wantCode || !strings.Contains(hlsd.ErrorMessage(err), tt.wantMsg) {
				t.Fatalf("Create = %v, %v; want %s error containing %q", m, err, tt.wantCode, tt.wantMsg)
			}
			for _, dir := range []string{"tmp", "sources", "media"} {
				if got := dirEntries(t, filepath.Join(data, dir)); len(got) != 0 {
					t.Errorf("%s holds %v after a refused upload", dir, got)
				}
			}
			if page, _ := lib.List(context.Background(), hlsd.MediaFilter{}); len(page.Media) != 0 {
				t.Errorf("catalog holds %d media after a refused upload", len(page.Media))
			}
		})
	}
}

func TestImport(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}})
	dir := t.TempDir()
	tests := []struct {
		name, file string
		size       int
		meta       library.Upload
		wantCode   string
		wantTitle  string
	}{
		{"imported", "Holiday 2024.MOV", 100, library.Upload{}, "", "Holiday 2024"},
		{"explicit title", "x.mkv", 100, library.Upload{Title: " My clip "}, "", "My clip"},
		{"empty", "empty.mp4", 0, library.Upload{}, hlsd.EINVALID, ""},
		{"too large", "big.mp4", 100, library.Upload{MaxSize: 99}, hlsd.ETOOLARGE, ""},
		{"missing", "", 0, library.Upload{}, hlsd.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if tt.file == "" {
				path = filepath.Join(dir, "does-not-exist.mp4")
			} else if err := os.WriteFile(path, bytes.Repeat([]byte("v"), tt.size), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := lib.Import(context.Background(), path, tt.meta)
			if hlsd.ErrorCode(err) != tt.wantCode {
				t.Fatalf("Import = %v, %v; want code %q", m, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				if tt.file != "" && !exists(path) {
					t.Errorf("refused import lost the file")
				}
				return
			}
			if exists(path) {
				t.Errorf("imported file still at %s", path)
			}
			src := filepath.Join(lib.Layout().SourceDir(m.ID), "source"+strings.ToLower(filepath.Ext(tt.file)))
			if info, err := os.Stat(src); err != nil || info.Size() != int64(tt.size) {
				t.Errorf("source %s: %v", src, err)
			}
			if m.Title != tt.wantTitle || m.SourceName != tt.file {
				t.Errorf("title %q source name %q, want %q, %q", m.Title, m.SourceName, tt.wantTitle, tt.file)
			}
		})
	}
}

// blockingTranscoder never finishes on its own: it waits for cancellation.
type blockingTranscoder struct{}

func (blockingTranscoder) Transcode(ctx context.Context, _ library.TranscodeJob) (*library.TranscodeResult, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestParseFormatSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		text string
	}{
		{"1048576", 1 << 20, "1 MiB"},
		{"100MB", 100_000_000, "100 MB"},
		{"100 MB", 100_000_000, "100 MB"},
		{"20GiB", 20 << 30, "20 GiB"},
		{"1.5GB", 1_500_000_000, "1500 MB"},
		{"512k", 512 << 10, "512 KiB"},
		{"7", 7, "7 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := library.ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			if s := library.FormatSize(got); s != tt.text {
				t.Errorf("FormatSize(%d) = %q, want %q", got, s, tt.text)
			}
		})
	}
	for _, bad := range []string{"", "MB", "ten", "5 parsecs", "-1", "1e400"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := library.ParseSize(bad); hlsd.ErrorCode(err) != hlsd.EINVALID {
				t.Errorf("ParseSize(%q) = %v, want invalid", bad, err)
			}
		})
	}
}

func TestStopWithoutStart(t *testing.T) {
	dir := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// A second library on the same data directory is refused while the first holds it.
	if _, err := newLibrary(t, library.Config{DataDir: dir}); hlsd.ErrorCode(err) != hlsd.ECONFLICT {
		t.Errorf("second New on the same data = %v, want conflict", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lib.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	lib2, err := newLibrary(t, library.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("New after Stop: %v", err)
	}
	lib2.Stop(ctx)
}

// TestParallelCreates uploads ten files at once: the single SQLite
// connection serialises them without a "database is locked" failure.
func TestParallelCreates(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			body := strings.NewReader(strings.Repeat("z", 100_000+i))
			if _, err := lib.Create(context.Background(), body, library.Upload{Filename: fmt.Sprintf("clip%d.mp4", i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Create: %v", err)
	}
	page, err := lib.List(context.Background(), hlsd.MediaFilter{})
	if err != nil || len(page.Media) != 10 {
		t.Fatalf("List = %d media, %v; want 10", len(page.Media), err)
	}
	if got := dirEntries(t, filepath.Join(data, "sources")); len(got) != 10 {
		t.Errorf("%d source folders, want 10", len(got))
	}
}

// TestDeleteQueued deletes a media whose job waits behind a running one,
// then the running one: both jobs end cancelled and nothing is left.
func TestDeleteQueued(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}})
	first := createFile(t, lib, writeTemp(t, "a.mp4"), library.Upload{})
	waitFor(t, lib, first.ID, "processing", func(m *hlsd.Media) bool { return m.Status == hlsd.StatusProcessing })
	second := createFile(t, lib, writeTemp(t, "b.mp4"), library.Upload{})
	for _, id := range []string{second.ID, first.ID} {
		if err := lib.Delete(context.Background(), id); err != nil {
			t.Fatalf("Delete %s: %v", id, err)
		}
	}
	for _, id := range []string{first.ID, second.ID} {
		if jobs := waitJobs(t, data, id); len(jobs) != 1 || jobs[0].State != "cancelled" {
			t.Errorf("jobs of %s = %+v, want cancelled", id, jobs)
		}
	}
	for _, dir := range []string{"sources", "media", "tmp"} {
		if got := dirEntries(t, filepath.Join(data, dir)); len(got) != 0 {
			t.Errorf("%s holds %v after deleting everything", dir, got)
		}
	}
}

func writeTemp(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("some bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
