package library

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hlsd/hlsd/internal/webhook"
	"github.com/riverqueue/river/rivertype"
)

// Metrics receives what the library measures as it works, for the
// server's Prometheus collectors; Config.Metrics nil records nothing.
type Metrics interface {
	// TranscodeDone is called once per finished transcode with the
	// media's duration and the wall time the transcode took.
	TranscodeDone(media, took time.Duration)
	// WebhookAttempt is called after every webhook delivery attempt with
	// its outcome (nil when the receiver answered 2xx).
	WebhookAttempt(err error)
}

// observeTranscode reports a finished transcode to Config.Metrics.
func (l *Library) observeTranscode(res *TranscodeResult, took time.Duration) {
	if l.cfg.Metrics != nil && res != nil {
		l.cfg.Metrics.TranscodeDone(time.Duration(res.Duration*float64(time.Second)), took)
	}
}

// webhookObserver is the webhook worker's Observe hook, or nil.
func (l *Library) webhookObserver() func(error) {
	if l.cfg.Metrics == nil {
		return nil
	}
	return l.cfg.Metrics.WebhookAttempt
}

// JobStates are the states a queued job can be in, as River names them;
// JobCounts reports every one of them, zero or not.
var JobStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateCompleted,
	rivertype.JobStateCancelled, rivertype.JobStateDiscarded,
}

// JobQueues are the queues of the library's jobs: transcodes and webhook
// deliveries.
var JobQueues = []string{QueueTranscode, webhook.Queue}

// JobCount is how many jobs of one queue are in one state.
type JobCount struct {
	Queue string
	State rivertype.JobState
	N     int
}

// JobCounts counts the jobs of each queue by state, for metrics. Finished
// jobs (completed, cancelled, discarded) are counted until River's cleaner
// removes them (a day after they finish).
func (l *Library) JobCounts(ctx context.Context) ([]JobCount, error) {
	n, err := l.db.JobCounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []JobCount
	for _, q := range JobQueues {
		for _, s := range JobStates {
			out = append(out, JobCount{Queue: q, State: s, N: n[[2]string{q, string(s)}]})
		}
	}
	return out, nil
}

// StoredBytes returns the bytes the library keeps, from the catalog: the
// sources as uploaded, and the presentations' segments (init and media
// segments of every rendition; playlists and posters are a few kB more).
func (l *Library) StoredBytes(ctx context.Context) (sources, presentations int64, err error) {
	return l.db.StoredBytes(ctx)
}

// CheckDatabase reports whether the catalog answers a query.
func (l *Library) CheckDatabase(ctx context.Context) error { return l.db.Ping(ctx) }

// CheckTools reports whether the ffmpeg and ffprobe binaries the library
// runs are there and executable. It runs neither, so it stays cheap; the
// error names the binary as configured ("ffmpeg" when found on PATH).
func (l *Library) CheckTools() error {
	for _, t := range []struct{ flag, path string }{{"ffmpeg", l.cfg.FFmpeg}, {"ffprobe", l.cfg.FFprobe}} {
		p := t.path
		if p == "" {
			p = t.flag
		}
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not found or not executable (%s)", t.flag, p)
		}
	}
	return nil
}

// CheckStore reports whether the data directory takes new files: it
// creates and removes a small file in DATA/tmp, where uploads land first.
func (l *Library) CheckStore() error {
	f, err := os.CreateTemp(l.layout.TmpDir(), "ready-*")
	if err != nil {
		return fmt.Errorf("data directory is not writable: %w", unwrapPathErr(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("data directory: %w", unwrapPathErr(err))
	}
	return nil
}

// unwrapPathErr drops the path from an *os.PathError: readiness answers
// are public and say what failed, not where the data lives.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
