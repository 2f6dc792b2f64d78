package library_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/testmedia"
	"github.com/hlsd/hlsd/internal/webhook"
)

// TestTinyMediaReady processes media a fraction of a second long (a 0.2 s
// H.264/AAC clip, a video of one frame, an audio file of one sample): each
// becomes ready at once (one attempt) with playlists that parse and
// renditions as long as the source.
func TestTinyMediaReady(t *testing.T) {
	needFFmpeg(t)
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data})
	for _, tt := range []struct {
		fixture string
		kind    hlsd.Kind
	}{
		{"tiny.mp4", hlsd.KindVideo},
		{"one-frame.mp4", hlsd.KindVideo},
		{"one-sample.wav", hlsd.KindAudio},
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			m := createFile(t, lib, testmedia.Path(t, tt.fixture), library.Upload{})
			m = waitDone(t, lib, m.ID)
			if m.Status != hlsd.StatusReady || m.Kind != tt.kind {
				t.Fatalf("%s: %s %s (%s), want ready %s", tt.fixture, m.Status, m.Kind, m.Error, tt.kind)
			}
			if m.Duration <= 0 || m.Duration > 0.25 {
				t.Errorf("duration %v, want the source's (under 0.25 s)", m.Duration)
			}
			checkPresentation(t, lib.Layout().MediaDir(m.ID), m.Duration)
			if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0] != (jobRow{State: "completed", Attempt: 1}) {
				t.Errorf("jobs = %+v, want one completed at the first attempt", jobs)
			}
		})
	}
}

// bugTranscoder fails the way a bug in hlsd does: a plain error.
type bugTranscoder struct{}

func (bugTranscoder) Transcode(context.Context, library.TranscodeJob) (*library.TranscodeResult, error) {
	return nil, errors.New("parse ffmpeg's playlist: line 3: something hlsd did not expect in /srv/data/media/x")
}

// TestBugFailsOnce checks that an error that is neither the source's fault
// nor the machine's (a bug) fails the media at once, with a sentence a
// user understands and no internals, instead of minutes of retries.
func TestBugFailsOnce(t *testing.T) {
	data := t.TempDir()
	lib := start(t, library.Config{DataDir: data, Transcoder: bugTranscoder{}, MaxAttempts: 5})
	m := createFile(t, lib, writeTemp(t, "clip.mp4"), library.Upload{})
	m = waitDone(t, lib, m.ID)
	if m.Status != hlsd.StatusFailed || m.ErrorCode != hlsd.EINTERNAL {
		t.Fatalf("status %s code %q, want failed with code %q", m.Status, m.ErrorCode, hlsd.EINTERNAL)
	}
	if !strings.Contains(m.Error, "internal error") || strings.Contains(m.Error, "/srv") || strings.Contains(m.Error, "playlist") {
		t.Errorf("error %q: want a sentence saying it is an internal error, without the detail", m.Error)
	}
	if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0] != (jobRow{State: "cancelled", Attempt: 1}) {
		t.Errorf("jobs = %+v, want one attempt, cancelled (no retry)", jobs)
	}
}

// TestCrashRecoveryFailureWebhook leaves a job the way a crash on its last
// attempt does (still running in the queue, attempts used up) and starts a
// library on it: the media fails, and media.failed is delivered, once.
func TestCrashRecoveryFailureWebhook(t *testing.T) {
	data := t.TempDir()
	lib, err := newLibrary(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := lib.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := createFile(t, lib, writeTemp(t, "clip.mp4"), library.Upload{})
	waitFor(t, lib, m.ID, "processing", func(m *hlsd.Media) bool { return m.Status == hlsd.StatusProcessing })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lib.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// What kill -9 during the second attempt leaves behind.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "hlsd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE river_job SET state = 'running', attempt = max_attempts, attempted_at = created_at WHERE kind = 'transcode'`); err != nil {
		t.Fatalf("simulate the crash: %v", err)
	}
	if _, err := db.Exec(`UPDATE media SET status = 'processing' WHERE id = ?`, m.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()

	hooks := newHookRecorder(t, "s3cret", 1)
	lib2 := start(t, library.Config{DataDir: data, Transcoder: blockingTranscoder{}, WebhookURL: hooks.srv.URL, WebhookSecret: "s3cret"})
	got, err := lib2.Get(context.Background(), m.ID)
	if err != nil || got.Status != hlsd.StatusFailed || got.Error == "" || got.ErrorCode == "" {
		t.Fatalf("after recovery: %+v, %v; want failed with an error and its code", got, err)
	}
	data2 := hooks.waitEvent(t, webhook.MediaFailed, m.ID)
	if data2["status"] != string(hlsd.StatusFailed) || data2["error"] != got.Error {
		t.Errorf("event data %v, want the failed media", data2)
	}
	// A second start must not report the same transition again.
	if jobs := waitJobs(t, data, m.ID); len(jobs) != 1 || jobs[0].State != "discarded" {
		t.Errorf("jobs = %+v, want the job discarded", jobs)
	}
	if ids := hooks.eventIDs(webhook.MediaFailed, m.ID); len(ids) != 1 {
		t.Errorf("media.failed event ids %v, want exactly one", ids)
	}
}
