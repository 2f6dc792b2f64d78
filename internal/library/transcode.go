package library

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/ingest"
	"github.com/hlsd/hlsd/internal/webhook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// Transcoder makes the presentation of one source. The library's worker
// owns retries, progress storage and status; a Transcoder only transcodes.
type Transcoder interface {
	// Transcode writes the presentation of job.Input into job.Output (a
	// fresh folder), progressively: players may read it while it grows.
	// Bad media is an *hlsd.Error with code EUNSUPPORTED, EINVALID or
	// ETOOLARGE (over the probe limits) and is not retried; any other error is taken as transient.
	Transcode(ctx context.Context, job TranscodeJob) (*TranscodeResult, error)
}

// TranscodeJob is one call of Transcoder.Transcode.
type TranscodeJob struct {
	Input, Output string
	// KeyFile, when set, asks for AES-128 encryption with a fresh key
	// written there (see ingest.Options.KeyFile).
	KeyFile string
	// Source, when set, is the source rendition to keep listed first in
	// the multivariant playlist (see ingest.Options.Source).
	Source *ingest.SourceVariant
	// Progress may be called often, from any goroutine.
	Progress func(Progress)
	Logger   *slog.Logger
}

// Progress is how far a transcode has come, in media time.
type Progress struct {
	Done, Total time.Duration
}

// Fraction returns Done/Total between 0 and 1 (0 when Total is unknown).
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return min(max(float64(p.Done)/float64(p.Total), 0), 1)
}

// TranscodeResult is what a finished transcode produced.
type TranscodeResult struct {
	Kind       hlsd.Kind
	Duration   float64
	Renditions []hlsd.Rendition
	// SkippedRungs are the ladder rungs taller than the source.
	SkippedRungs []int
	Bytes        int64
}

// IngestTranscoder is the real Transcoder: ingest.Run in progressive mode.
type IngestTranscoder struct {
	FFmpeg, FFprobe string
	Settings        TranscodeSettings
	// ToolError replaces the error of a failed transcode (see
	// Config.ToolError).
	ToolError error
}

// TranscodeSettings is what `hlsd serve` lets operators choose of every
// library transcode; zero values mean ingest's defaults. A ladder rung
// taller than a source is skipped for that source (ingest's
// SkipTallerRungs).
type TranscodeSettings struct {
	Ladder          []int
	Format          string
	SegmentDuration time.Duration
	Preset          string
}

// Transcode implements Transcoder.
func (t IngestTranscoder) Transcode(ctx context.Context, job TranscodeJob) (*TranscodeResult, error) {
	res, err := ingest.Run(ctx, ingest.Options{
		Input:       job.Input,
		Output:      job.Output,
		Progressive: true,
		Encrypt:     job.KeyFile != "",
		KeyFile:     job.KeyFile,
		Source:      job.Source,
		FFmpeg:      t.FFmpeg,
		FFprobe:     t.FFprobe,

		Ladder:          t.Settings.Ladder,
		Format:          formatFor(t.Settings.Format, job.KeyFile != ""),
		SegmentDuration: t.Settings.SegmentDuration,
		Preset:          t.Settings.Preset,

		Progress: func(p ingest.Progress) {
			if job.Progress != nil {
				job.Progress(Progress{Done: p.Done, Total: p.Total})
			}
		},
		Logger: job.Logger,
	})
	if err != nil {
		// An old ffmpeg fails on options it lacks, which reads like bad
		// media: the start-up check's finding is the reason to give.
		if t.ToolError != nil && ctx.Err() == nil {
			return nil, t.ToolError
		}
		return nil, err
	}
	return &TranscodeResult{Kind: res.Kind, Duration: res.Duration, Renditions: res.Renditions, Bytes: res.Bytes,
		SkippedRungs: res.SkippedRungs}, nil
}

// formatFor is the segment format of one transcode: encrypted media are
// always MPEG-TS (ffmpeg cannot encrypt fMP4 segments), whatever the
// server's --format.
func formatFor(format string, encrypt bool) string {
	if encrypt {
		return ""
	}
	return format
}

// transcodeWorker runs TranscodeArgs jobs. It implements river.Worker.
type transcodeWorker struct {
	river.WorkerDefaults[TranscodeArgs]
	l *Library
}

// Timeout disables River's timeout: the worker sets its own once it knows
// the source's duration (see MinJobTimeout). On a shared queue (Postgres)
// it is Config.RescueAfter instead: River's rescuer never takes back a job
// whose worker has no timeout, so without one a dead node's job would stay
// running for ever.
func (w *transcodeWorker) Timeout(*river.Job[TranscodeArgs]) time.Duration {
	if w.l.cfg.DB.Shared() {
		return w.l.cfg.RescueAfter
	}
	return -1
}

var errTimeout = errors.New("transcode timed out")

// Work makes one media's presentation. Outcomes:
//   - success: media ready with kind, duration and renditions; media.ready;
//   - bad media: media failed with ingest's sentence, job cancelled (no retry);
//   - transient failure: output removed, media queued again, River retries
//     with backoff; on the last attempt the media fails instead;
//   - the media was deleted: job cancelled, nothing written;
//   - the library is stopping: media queued, the job goes back to River
//     without using up an attempt.
//
// Whatever ends the last attempt with a plain error (a database error
// before the transcode, a panic) fails the media too, so a media never
// stays queued or processing with no job left to finish it.
func (w *transcodeWorker) Work(ctx context.Context, job *river.Job[TranscodeArgs]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transcode worker panic: %v", r)
		}
		if err == nil || job.Attempt < job.MaxAttempts || ctx.Err() != nil || riverOutcome(err) {
			return
		}
		w.l.logger.Error("transcode failed; no attempts left", "media", job.Args.MediaID, "job", job.ID, "attempt", job.Attempt, "err", err)
		if ferr := w.l.fail(context.WithoutCancel(ctx), job.Args.MediaID, job, exhausted(job, err), false); ferr != nil && !riverOutcome(ferr) {
			w.l.logger.Warn("record failure", "media", job.Args.MediaID, "err", ferr)
		}
	}()
	return w.work(ctx, job)
}

// riverOutcome reports whether err is one that tells River what to do
// (cancel, snooze) rather than a failure.
func riverOutcome(err error) bool {
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	return errors.As(err, &cancel) || errors.As(err, &snooze)
}

// exhausted is the failure of a media whose job used up its attempts.
func exhausted(job *river.Job[TranscodeArgs], err error) error {
	code, msg := hlsd.ErrorCode(err), hlsd.ErrorMessage(err)
	if code == hlsd.EINTERNAL {
		code, msg = hlsd.EUNAVAILABLE, "the server could not finish it (its log has the details)."
	}
	return hlsd.Errorf(code, "Processing failed after %d attempts: %s", job.Attempt, msg)
}

func (w *transcodeWorker) work(ctx context.Context, job *river.Job[TranscodeArgs]) error {
	l := w.l
	id := job.Args.MediaID
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)

	// Register before reading the catalog, so a Delete either sees this
	// run (and cancels it) or has already removed the record.
	l.mu.Lock()
	if l.deleting[id] > 0 {
		l.mu.Unlock()
		return river.JobCancel(errDeleted)
	}
	l.running[id] = &run{cancel: cancel, done: done}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.running, id)
		l.mu.Unlock()
	}()

	logger := l.logger.With("media", id, "job", job.ID, "attempt", job.Attempt)
	src, err := l.layout.Source(id)
	if err != nil {
		if _, gerr := l.db.GetMedia(ctx, id); hlsd.ErrorCode(gerr) == hlsd.ENOTFOUND {
			return river.JobCancel(errDeleted)
		}
		if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
			return l.fail(ctx, id, job, hlsd.Errorf(hlsd.EINTERNAL, "The source file is missing."), true)
		}
		return err
	}
	out := l.layout.MediaDir(id)
	cur, err := l.db.GetMedia(ctx, id)
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return river.JobCancel(errDeleted)
	} else if err != nil {
		return err
	}
	// On a full disk the transcode would only fail again: wait for space
	// without running it (and without using an attempt).
	if disk.Full(l.layout.MediaRoot()) {
		return l.waitForSpace(ctx, id, logger, nil)
	}
	// A previous attempt (crash, stop, retry) may have left a partial
	// presentation: start over. A compatible source keeps (or gets) its
	// source-only master, rewritten in place, so that a player looking at
	// it now never meets a 404.
	sv, serr := sourceVariant(src, !l.cfg.DropSourceRendition)
	if serr != nil {
		logger.Warn("no source rendition", "err", serr)
	}
	if cur.Encrypted {
		sv = nil // see publishSource
	}
	if err := clearOutput(out, sv != nil); err != nil {
		return fmt.Errorf("remove old output of %s: %w", id, err)
	}
	if sv != nil {
		if err := ingest.WriteSourceMaster(out, sv); err != nil {
			logger.Warn("no source rendition", "err", err)
			sv = nil
		}
	}
	m, err := l.db.UpdateMedia(ctx, id, hlsd.MediaUpdate{
		Status: hlsd.Ptr(hlsd.StatusProcessing), Progress: hlsd.Ptr(0.0), Error: hlsd.Ptr(""), ErrorCode: hlsd.Ptr(""),
	})
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return river.JobCancel(errDeleted)
	} else if err != nil {
		return err
	}
	start := time.Now()
	logger.Info("transcode started", "source", src)

	// The deadline: MinJobTimeout until the duration is known, then
	// JobTimeoutFactor × duration.
	timer := time.AfterFunc(MinJobTimeout, func() { cancel(errTimeout) })
	defer timer.Stop()
	var limit time.Duration = MinJobTimeout
	var setDeadline sync.Once
	pw := newProgressWriter(l, id, out, cancel, logger)
	var keyFile string
	if m.Encrypted {
		keyFile = l.layout.KeyFile(id)
	}
	res, err := transcodeSafely(jctx, l.transcoder, TranscodeJob{
		Input:   src,
		Output:  out,
		KeyFile: keyFile,
		Source:  sv,
		Logger:  logger,
		Progress: func(p Progress) {
			if p.Total > 0 {
				setDeadline.Do(func() {
					limit = max(MinJobTimeout, JobTimeoutFactor*p.Total)
					timer.Reset(limit - time.Since(start))
				})
			}
			pw.set(p)
		},
	})
	pw.stop()
	timer.Stop()
	cause := context.Cause(jctx)

	switch {
	case err == nil && jctx.Err() == nil:
		return w.succeed(ctx, id, res, logger, time.Since(start))
	case errors.Is(cause, errDeleted):
		logger.Info("transcode cancelled: media deleted")
		return river.JobCancel(errDeleted)
	case errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely):
		os.RemoveAll(out)
		return l.fail(context.WithoutCancel(ctx), id, job, hlsd.Errorf(hlsd.EINTERNAL, "Processing was cancelled."), true)
	case ctx.Err() != nil:
		// The library is stopping: the job returns to the queue.
		logger.Info("transcode interrupted by shutdown; it will run again at the next start")
		if _, uerr := l.db.UpdateMedia(context.WithoutCancel(ctx), id, hlsd.MediaUpdate{
			Status: hlsd.Ptr(hlsd.StatusQueued), Progress: hlsd.Ptr(0.0),
		}); uerr != nil && hlsd.ErrorCode(uerr) != hlsd.ENOTFOUND {
			logger.Warn("requeue media", "err", uerr)
		}
		return ctx.Err()
	case errors.Is(cause, errTimeout):
		os.RemoveAll(out)
		return l.fail(ctx, id, job, hlsd.Errorf(hlsd.EUNAVAILABLE,
			"Processing took longer than %s and was stopped.", limit.Round(time.Second)), true)
	}
	root, _ := filepath.Abs(l.layout.Root)
	err = nameSource(err, filepath.Base(src), m.SourceName, root)
	os.RemoveAll(out)
	switch classify(err) {
	case failPermanent:
		logger.Info("transcode refused the source", "err", err)
		return l.fail(ctx, id, job, err, true)
	case failBug:
		logger.Error("transcode failed on an internal error; not retried", "err", err)
		return l.fail(ctx, id, job, hlsd.Errorf(hlsd.EINTERNAL,
			"Processing failed because of an internal error; the server log has the details."), true)
	case failNoSpace:
		return l.waitForSpace(ctx, id, logger, err)
	}
	// Transient: River retries with backoff; Work fails the media when
	// this was the last attempt.
	if job.Attempt < job.MaxAttempts {
		logger.Warn("transcode failed; will retry", "err", err)
		if _, uerr := l.db.UpdateMedia(ctx, id, hlsd.MediaUpdate{
			Status: hlsd.Ptr(hlsd.StatusQueued), Progress: hlsd.Ptr(0.0),
		}); hlsd.ErrorCode(uerr) == hlsd.ENOTFOUND {
			return river.JobCancel(errDeleted)
		}
	}
	return err
}

// failure is what the worker does about a failed transcode.
type failure int

const (
	// failPermanent: the source is at fault (not media, unsupported, over
	// the limits); retrying cannot help, so the media fails at once.
	failPermanent failure = iota
	// failTransient: the machine was at fault (ffmpeg killed, an I/O
	// error, a timeout); retried with backoff up to MaxAttempts.
	failTransient
	// failNoSpace: the disk is full; the job waits for space, without
	// using up attempts.
	failNoSpace
	// failBug: anything else is a bug in hlsd, which retrying will not
	// fix: the media fails at once with a generic sentence, and the log
	// has the detail.
	failBug
)

// classify sorts a transcode error by what retrying can do about it.
func classify(err error) failure {
	switch code := hlsd.ErrorCode(err); {
	case code == hlsd.ENOSPACE || disk.NoSpace(err):
		return failNoSpace
	case code == hlsd.EUNSUPPORTED || code == hlsd.EINVALID || code == hlsd.ETOOLARGE || code == hlsd.ENOTFOUND:
		return failPermanent
	case code == hlsd.EUNAVAILABLE || transientOS(err):
		return failTransient
	}
	return failBug
}

// transientOS reports whether err is a system error that may not happen
// again: I/O errors, memory or file descriptors running out, a killed child.
func transientOS(err error) bool {
	for _, e := range []error{syscall.EIO, syscall.ENOMEM, syscall.EAGAIN, syscall.EMFILE, syscall.ENFILE, syscall.EINTR, syscall.EBUSY,
		context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

// noSpaceMessage is the media's error while its transcode waits for space.
const noSpaceMessage = "The server is out of storage space; processing will resume once space is freed."

// waitForSpace puts a media back in the queue with an error saying the disk
// is full, and snoozes its job: River runs it again after SpaceRetry
// without counting an attempt. cause is the failure that showed the disk
// full (nil when the check before starting did).
func (l *Library) waitForSpace(ctx context.Context, id string, logger *slog.Logger, cause error) error {
	free, _ := disk.Free(l.layout.MediaRoot())
	logger.Warn("disk full: transcode waits for space", "free_bytes", free, "retry_in", l.cfg.SpaceRetry, "err", cause)
	_, err := l.db.UpdateMedia(context.WithoutCancel(ctx), id, hlsd.MediaUpdate{
		Status: hlsd.Ptr(hlsd.StatusQueued), Progress: hlsd.Ptr(0.0),
		Error: hlsd.Ptr(noSpaceMessage), ErrorCode: hlsd.Ptr(hlsd.ENOSPACE),
	})
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return river.JobCancel(errDeleted)
	} else if err != nil && hlsd.ErrorCode(err) != hlsd.ENOSPACE {
		// The catalog itself may be unable to write on a full disk: the
		// job waits all the same.
		logger.Warn("record wait for space", "err", err)
	}
	return river.JobSnooze(l.cfg.SpaceRetry)
}

// clearOutput removes the presentation folder out, or everything in it
// but master.m3u8 when keepMaster is set (the caller rewrites it at once).
func clearOutput(out string, keepMaster bool) error {
	if !keepMaster {
		return os.RemoveAll(out)
	}
	entries, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "master.m3u8" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// nameSource puts the name the user gave the file in place of its stored
// name ("source.mp4") in a user-facing message, and writes paths inside
// the data directory root relative to it: API clients never see where the
// server keeps its files.
func nameSource(err error, stored, shown, root string) error {
	var he *hlsd.Error
	if !errors.As(err, &he) {
		return err
	}
	msg := strings.ReplaceAll(he.Message, root+string(filepath.Separator), "")
	if shown != "" {
		msg = strings.ReplaceAll(msg, stored, shown)
	}
	return &hlsd.Error{Code: he.Code, Message: msg}
}

// transcodeSafely turns a panic in the transcoder into an error, so that the
// media still ends failed or retried instead of stuck in processing.
func transcodeSafely(ctx context.Context, t Transcoder, job TranscodeJob) (res *TranscodeResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("transcoder panic: %v", r)
		}
	}()
	return t.Transcode(ctx, job)
}

func (w *transcodeWorker) succeed(ctx context.Context, id string, res *TranscodeResult, logger *slog.Logger, took time.Duration) error {
	l := w.l
	rends := res.Renditions
	_, err := l.settle(ctx, id, hlsd.MediaUpdate{
		Status: hlsd.Ptr(hlsd.StatusReady), Progress: hlsd.Ptr(1.0), Error: hlsd.Ptr(""), ErrorCode: hlsd.Ptr(""),
		Kind: hlsd.Ptr(res.Kind), Duration: hlsd.Ptr(res.Duration), Renditions: &rends,
		SkippedRungs: hlsd.Ptr(res.SkippedRungs),
	})
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return river.JobCancel(errDeleted)
	} else if err != nil {
		return err
	}
	l.observeTranscode(res, took)
	logger.Info("transcode done", "kind", res.Kind, "duration", res.Duration, "renditions", len(res.Renditions), "bytes", res.Bytes, "took", took)
	return nil
}

// fail records the media as failed with cause's sentence and code, and
// sends media.failed. With final, the returned error cancels the job for
// good.
func (l *Library) fail(ctx context.Context, id string, job *river.Job[TranscodeArgs], cause error, final bool) error {
	msg, code := hlsd.ErrorMessage(cause), hlsd.ErrorCode(cause)
	_, err := l.settle(ctx, id, hlsd.MediaUpdate{
		Status: hlsd.Ptr(hlsd.StatusFailed), Progress: hlsd.Ptr(0.0), Error: &msg, ErrorCode: &code,
	})
	if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
		return river.JobCancel(errDeleted)
	} else if err != nil {
		return fmt.Errorf("record failure of %s: %w", id, err)
	}
	l.logger.Info("media failed", "media", id, "job", job.ID, "error", msg, "code", code)
	if final {
		return river.JobCancel(cause)
	}
	return nil
}

// settle applies upd, which makes a media ready or failed, and inserts
// the matching webhook event in the same transaction when the status
// changes: every transition to ready or failed, whichever path makes it
// (the worker, a crash recovery, a last attempt), is reported exactly once
// as an event, and the event is delivered at least once.
func (l *Library) settle(ctx context.Context, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	var m *hlsd.Media
	err := l.db.Tx(ctx, func(tx hlsd.Catalog) error {
		prev, err := tx.GetMedia(ctx, id)
		if err != nil {
			return err
		}
		if m, err = tx.UpdateMedia(ctx, id, upd); err != nil {
			return err
		}
		if m.Status == prev.Status {
			return nil
		}
		switch m.Status {
		case hlsd.StatusReady:
			return l.enqueueEvent(ctx, tx, webhook.MediaReady, m)
		case hlsd.StatusFailed:
			return l.enqueueEvent(ctx, tx, webhook.MediaFailed, m)
		}
		return nil
	})
	return m, err
}

// progressWriter stores a running job's progress every ProgressInterval,
// off the transcoder's goroutine: a slow database must never stall ffmpeg's
// progress pipe.
type progressWriter struct {
	l      *Library
	id     string
	dir    string // the presentation, whose master playlist tells the kind early
	cancel context.CancelCauseFunc
	logger *slog.Logger

	mu      sync.Mutex
	latest  Progress
	changed bool
	quit    chan struct{}
	done    chan struct{}
}

func newProgressWriter(l *Library, id, dir string, cancel context.CancelCauseFunc, logger *slog.Logger) *progressWriter {
	p := &progressWriter{l: l, id: id, dir: dir, cancel: cancel, logger: logger, quit: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progressWriter) set(pr Progress) {
	p.mu.Lock()
	p.latest, p.changed = pr, true
	p.mu.Unlock()
}

func (p *progressWriter) stop() {
	close(p.quit)
	<-p.done
}

func (p *progressWriter) loop() {
	defer close(p.done)
	t := time.NewTicker(ProgressInterval)
	defer t.Stop()
	durationKnown, kindKnown := false, false
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		p.mu.Lock()
		pr, changed := p.latest, p.changed
		p.changed = false
		p.mu.Unlock()
		if !changed {
			continue
		}
		// 1 is for ready: a job at 100% of encoding still has to publish.
		upd := hlsd.MediaUpdate{Progress: hlsd.Ptr(min(pr.Fraction(), 0.99))}
		if !durationKnown && pr.Total > 0 {
			upd.Duration = hlsd.Ptr(pr.Total.Seconds())
		}
		if !kindKnown {
			if kind := masterKind(p.dir); kind != "" {
				upd.Kind = &kind
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := p.l.db.UpdateMedia(ctx, p.id, upd)
		cancel()
		switch {
		case hlsd.ErrorCode(err) == hlsd.ENOTFOUND:
			// Deleted elsewhere (another node, later): stop working on it.
			p.cancel(errDeleted)
			return
		case err != nil:
			p.logger.Warn("store progress", "err", err)
		default:
			durationKnown = durationKnown || upd.Duration != nil
			kindKnown = kindKnown || upd.Kind != nil
		}
	}
}

// masterKind tells video from audio by the master playlist that progressive
// ingest writes before encoding, so the catalog (and the poster URL) knows
// the kind while the media is still processing. It returns "" while the
// playlist is not there.
func masterKind(dir string) hlsd.Kind {
	data, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return ""
	}
	mv, err := hls.ParseMultivariant(data)
	if err != nil || len(mv.Variants) == 0 {
		return ""
	}
	for _, v := range mv.Variants {
		if v.Width > 0 || v.Height > 0 {
			return hlsd.KindVideo
		}
	}
	return hlsd.KindAudio
}

// recoverJobs makes the jobs a dead process left running available again
// (see the package comment for why this is safe and needed). It runs in New,
// before the workers start, with the data directory locked.
func (l *Library) recoverJobs(ctx context.Context) error {
	exec := l.river.Executor()
	now := time.Now().UTC()
	jobs, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 10000, StuckHorizon: now.Add(time.Minute)})
	if err != nil {
		return fmt.Errorf("find interrupted jobs: %w", err)
	}
	if len(jobs) == 0 {
		return nil
	}
	params := &riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Minute)}
	var exhausted []string
	for _, j := range jobs {
		errData, _ := json.Marshal(rivertype.AttemptError{
			At: now, Attempt: j.Attempt, Error: "hlsd stopped while the job was running (crash or kill)",
		})
		state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
		if j.Attempt >= j.MaxAttempts {
			state, finalized = rivertype.JobStateDiscarded, &now
		}
		params.ID = append(params.ID, j.ID)
		params.Error = append(params.Error, errData)
		params.FinalizedAt = append(params.FinalizedAt, finalized)
		params.ScheduledAt = append(params.ScheduledAt, now)
		params.State = append(params.State, string(state))

		var args TranscodeArgs
		if j.Kind == (TranscodeArgs{}).Kind() && json.Unmarshal(j.EncodedArgs, &args) == nil && args.MediaID != "" {
			var err error
			if state == rivertype.JobStateDiscarded {
				exhausted = append(exhausted, args.MediaID)
				_, err = l.settle(ctx, args.MediaID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusFailed), Progress: hlsd.Ptr(0.0),
					Error:     hlsd.Ptr("Processing was interrupted too many times (the server stopped while working on it)."),
					ErrorCode: hlsd.Ptr(hlsd.EUNAVAILABLE)})
			} else {
				_, err = l.db.UpdateMedia(ctx, args.MediaID, hlsd.MediaUpdate{Status: hlsd.Ptr(hlsd.StatusQueued), Progress: hlsd.Ptr(0.0)})
			}
			if err != nil && hlsd.ErrorCode(err) != hlsd.ENOTFOUND {
				return fmt.Errorf("requeue media %s: %w", args.MediaID, err)
			}
		}
	}
	if _, err := exec.JobRescueMany(ctx, params); err != nil {
		return fmt.Errorf("recover interrupted jobs: %w", err)
	}
	for _, id := range exhausted {
		os.RemoveAll(l.layout.MediaDir(id))
	}
	l.logger.Warn("recovered jobs left running by a previous process", "jobs", len(jobs), "failed", len(exhausted))
	return nil
}
