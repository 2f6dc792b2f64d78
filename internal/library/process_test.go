package library_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/sqlite"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// childEnv makes the test binary run as a library process (see TestMain)
// that the restart test kills with SIGKILL.
const childEnv = "HLSD_LIBRARY_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv(childEnv+"_SOURCE")))
	}
	os.Exit(m.Run())
}

// runChild starts a library on dir, uploads source, prints "processing ID"
// once the transcode has stored progress, and then waits to be killed.
func runChild(dir, source string) int {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, disk.Layout{Root: dir}.DB())
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	lib, err := library.New(ctx, library.Config{DataDir: dir, DB: db})
	if err == nil {
		err = lib.Start(ctx)
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	f, err := os.Open(source)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	m, err := lib.Create(ctx, f, library.Upload{Filename: filepath.Base(source)})
	f.Close()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	for {
		got, err := lib.Get(ctx, m.ID)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		if got.Status == hlsd.StatusProcessing && got.Progress > 0 {
			fmt.Println("processing", m.ID)
		}
		if got.Status == hlsd.StatusReady || got.Status == hlsd.StatusFailed {
			fmt.Println("finished before the kill:", got.Status)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartAfterKill kills a library process with SIGKILL in the middle of
// a transcode; a new library on the same data directory must finish it.
func TestRestartAfterKill(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	source := testmedia.Path(t, "video-720p-long.mp4")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+data, childEnv+"_SOURCE="+source)
	cmd.Stderr = os.Stderr
	// The child's ffmpeg must die with it, as it would under systemd or a
	// container runtime, so put them in one process group and kill that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var id string
	timeout := time.After(waitLimit)
	for id == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("child exited before processing: %v", cmd.Wait())
			}
			if rest, ok := strings.CutPrefix(line, "processing "); ok {
				id = rest
			} else {
				t.Fatalf("child: %s", line)
			}
		case <-timeout:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("child never reported processing")
		}
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	go func() {
		for range lines {
		}
	}()
	cmd.Wait()
	if jobs := transcodeJobs(t, data, id); len(jobs) != 1 || jobs[0].State != "running" {
		t.Fatalf("after the kill the job is %+v, want one left running", jobs)
	}
	if !exists(filepath.Join(data, "media", id, "master.m3u8")) {
		t.Logf("note: no partial presentation was written before the kill")
	}

	lib := start(t, library.Config{DataDir: data})
	m := waitDone(t, lib, id)
	if m.Status != hlsd.StatusReady {
		t.Fatalf("after restart: %s (%s), want ready", m.Status, m.Error)
	}
	checkPresentation(t, lib.Layout().MediaDir(id), 30)
	jobs := waitJobs(t, data, id)
	if len(jobs) != 1 || jobs[0].State != "completed" || jobs[0].Attempt != 2 {
		t.Errorf("jobs = %+v, want the same job completed on its second attempt", jobs)
	}
}

// TestStopAndResume stops a library gracefully mid-transcode: the job goes
// back to the queue without using an attempt and the next library on the
// same data finishes it.
func TestStopAndResume(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := createFile(t, lib, testmedia.Path(t, "video-720p-long.mp4"), library.Upload{})
	waitFor(t, lib, m.ID, "processing with progress", func(m *hlsd.Media) bool {
		return m.Status == hlsd.StatusProcessing && m.Progress > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lib.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	jobs := transcodeJobs(t, data, m.ID)
	if len(jobs) != 1 || jobs[0].State != "available" || jobs[0].Attempt != 0 {
		t.Errorf("after Stop the job is %+v, want available with no attempt used", jobs)
	}

	lib2 := start(t, library.Config{DataDir: data})
	if got, err := lib2.Get(context.Background(), m.ID); err != nil || (got.Status != hlsd.StatusQueued && got.Status != hlsd.StatusProcessing) {
		t.Errorf("after Stop the media is %v, %v; want queued (or processing again)", got, err)
	}
	m = waitDone(t, lib2, m.ID)
	if m.Status != hlsd.StatusReady {
		t.Fatalf("after resume: %s (%s)", m.Status, m.Error)
	}
	checkPresentation(t, lib2.Layout().MediaDir(m.ID), 30)
	if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0].State != "completed" || jobs[0].Attempt != 1 {
		t.Errorf("jobs = %+v, want the same job completed at attempt 1", jobs)
	}
}

// TestWatchEarlyThenDelete checks that a processing media is playable before
// its job ends (master playlist, growing EVENT playlists with segments), and
// that deleting it mid-transcode stops the job and removes everything.
func TestWatchEarlyThenDelete(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data})
	src := testmedia.Path(t, "video-720p-long.mp4")
	created := time.Now()
	m := createFile(t, lib, src, library.Upload{})
	dir := lib.Layout().MediaDir(m.ID)

	deadline := time.Now().Add(waitLimit)
	var playable bool
	for !playable {
		if time.Now().After(deadline) {
			t.Fatalf("never playable while processing")
		}
		time.Sleep(50 * time.Millisecond)
		playable = earlyPlayable(t, dir)
		got, err := lib.Get(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != hlsd.StatusProcessing && got.Status != hlsd.StatusQueued {
			t.Fatalf("media became %s before its presentation was seen growing", got.Status)
		}
		if playable && got.Status != hlsd.StatusProcessing {
			t.Fatalf("playable but status %s", got.Status)
		}
	}
	t.Logf("time to first playable (upload stored to every rendition with a segment, 30 s 720p source): %v", time.Since(created).Round(10*time.Millisecond))
	// Kind and duration are known while processing, from the first progress.
	got := waitFor(t, lib, m.ID, "processing with kind and duration", func(m *hlsd.Media) bool {
		return m.Kind != "" && m.Duration > 0 || m.Status != hlsd.StatusProcessing
	})
	if got.Status != hlsd.StatusProcessing || got.Kind != hlsd.KindVideo || math.Abs(got.Duration-30) > 0.5 {
		t.Errorf("while processing: status %s kind %q duration %v; want processing, video, 30", got.Status, got.Kind, got.Duration)
	}

	if err := lib.Delete(context.Background(), m.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := lib.Get(context.Background(), m.ID); hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
	if exists(dir) || exists(lib.Layout().SourceDir(m.ID)) {
		t.Errorf("Delete left files: presentation %v, source %v", exists(dir), exists(lib.Layout().SourceDir(m.ID)))
	}
	if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0].State != "cancelled" {
		t.Errorf("jobs = %+v, want the running job cancelled", jobs)
	}
	// The worker is free again: a new media gets processed.
	m2 := createFile(t, lib, testmedia.Path(t, "short.mp4"), library.Upload{})
	if got := waitDone(t, lib, m2.ID); got.Status != hlsd.StatusReady {
		t.Errorf("next media after a delete: %s (%s)", got.Status, got.Error)
	}
}

// earlyPlayable reports whether dir holds a master playlist whose every
// rendition is a growing EVENT playlist with at least one segment on disk.
func earlyPlayable(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return false
	}
	mv, err := hls.ParseMultivariant(data)
	if err != nil {
		t.Fatalf("master playlist written while processing does not parse: %v\n%s", err, data)
	}
	// The source rendition (source/...) is packaged on the fly by the
	// server, never on disk: only the ladder's renditions are looked at.
	uris := []string{}
	for _, v := range mv.Variants {
		if !strings.HasPrefix(v.URI, library.SourcePrefix) {
			uris = append(uris, v.URI)
		}
	}
	for _, a := range mv.Alternatives {
		if a.URI != "" && !strings.HasPrefix(a.URI, library.SourcePrefix) {
			uris = append(uris, a.URI)
		}
	}
	if len(uris) == 0 {
		return false // the source-only master, before the ladder starts
	}
	for _, uri := range uris {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(uri)))
		if err != nil {
			return false
		}
		mp, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatalf("%s written while processing does not parse: %v\n%s", uri, err, b)
		}
		if len(mp.Segments) == 0 {
			return false
		}
		if mp.EndList || mp.PlaylistType != hls.TypeEvent {
			t.Fatalf("%s is finished (type %q, endlist %v) while the media is processing", uri, mp.PlaylistType, mp.EndList)
		}
		seg := filepath.Join(dir, filepath.Dir(filepath.FromSlash(uri)), filepath.FromSlash(mp.Segments[0].URI))
		if !exists(seg) {
			t.Fatalf("%s lists %s before it exists", uri, mp.Segments[0].URI)
		}
	}
	return true
}

// flakyTranscoder fails its first calls with a transient error, then runs
// the real transcoder.
type flakyTranscoder struct {
	failures atomic.Int32
	real     library.Transcoder
}

func (f *flakyTranscoder) Transcode(ctx context.Context, job library.TranscodeJob) (*library.TranscodeResult, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, fmt.Errorf("simulated transient failure (disk hiccup): %w", syscall.EIO)
	}
	return f.real.Transcode(ctx, job)
}

func TestTransientFailures(t *testing.T) {
	needFFmpeg(t)
	tests := []struct {
		name        string
		failures    int32
		maxAttempts int
		wantStatus  hlsd.Status
		wantJob     jobRow
	}{
		{"retried then ready", 1, 3, hlsd.StatusReady, jobRow{State: "completed", Attempt: 2}},
		{"attempts exhausted", 100, 2, hlsd.StatusFailed, jobRow{State: "discarded", Attempt: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			tr := &flakyTranscoder{real: library.IngestTranscoder{}}
			tr.failures.Store(tt.failures)
			lib := start(t, library.Config{DataDir: data, Transcoder: tr, MaxAttempts: tt.maxAttempts})
			m := createFile(t, lib, testmedia.Path(t, "short.mp4"), library.Upload{})
			// A retry is queued in between: wait for the final outcome.
			m = waitFor(t, lib, m.ID, string(tt.wantStatus), func(m *hlsd.Media) bool { return m.Status == tt.wantStatus })
			jobs := waitJobs(t, data, m.ID)
			if len(jobs) != 1 || jobs[0] != tt.wantJob {
				t.Errorf("jobs = %+v, want [%+v]", jobs, tt.wantJob)
			}
			if tt.wantStatus == hlsd.StatusFailed {
				if !strings.Contains(m.Error, "after 2 attempts") {
					t.Errorf("error %q, want it to say the attempts were used up", m.Error)
				}
				if !exists(filepath.Join(lib.Layout().SourceDir(m.ID), "source.mp4")) {
					t.Errorf("source removed by a failure")
				}
			}
		})
	}
}

// TestWatchFolder drops a file into the watch folder in two writes; the
// library imports it once and processes it.
func TestWatchFolder(t *testing.T) {
	needFFmpeg(t)
	data, watched := t.TempDir(), t.TempDir()
	lib := start(t, library.Config{DataDir: data, WatchDir: watched, WatchInterval: 100 * time.Millisecond, WatchQuiet: time.Millisecond})
	src, err := os.ReadFile(testmedia.Path(t, "tone.flac"))
	if err != nil {
		t.Fatal(err)
	}
	// A copy in progress under a partial name is left alone; the rename
	// makes it a candidate.
	part := filepath.Join(watched, "Song.flac.part")
	if err := os.WriteFile(part, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(part, filepath.Join(watched, "Song.flac")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(watched, "notes.txt"), []byte("not media"), 0o644); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(waitLimit)
	var song *hlsd.Media
	for song == nil {
		page, err := lib.List(context.Background(), hlsd.MediaFilter{Query: "Song"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Media) > 0 {
			song = page.Media[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch folder file never imported")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := waitDone(t, lib, song.ID); got.Status != hlsd.StatusReady || got.Kind != hlsd.KindAudio {
		t.Errorf("watched file: %s %s (%s)", got.Status, got.Kind, got.Error)
	}
	if exists(filepath.Join(watched, "Song.flac")) {
		t.Errorf("imported file still in the watch folder")
	}
	page, _ := lib.List(context.Background(), hlsd.MediaFilter{})
	if len(page.Media) != 2 {
		t.Errorf("%d media from the watch folder, want 2 (the song and the text file)", len(page.Media))
	}
}
