// Package library is hlsd's media service: what the REST API, the tus
// upload handler and the watch folder call. It owns the data directory (see
// internal/disk for its layout), the durable job queue (River, in the
// catalog's database) and the workers that turn sources into HLS
// presentations. The catalog is given to it (Config.DB: internal/sqlite or
// internal/postgres, opened by main), never opened here.
//
// A media's life: Create/Import moves the original into DATA/sources/{id}/
// and, in one transaction, records the media as queued and inserts its
// transcode job; a worker runs ingest in progressive mode into
// DATA/media/{id}/ (playable before it ends), storing progress every second;
// the media ends ready (or failed with a clear sentence) and a webhook event
// is inserted in the same transaction. Delete cancels a running job and
// removes the record, the source and the presentation; Reprocess starts
// again from the kept source.
//
// # Restarts and crashes
//
// A graceful Stop cancels running transcodes; River puts their jobs back as
// available without counting the attempt, and the next Start runs them again
// from scratch (progressive output is redone, which is simpler and safer
// than resuming ffmpeg).
//
// After a crash (kill -9, power loss) jobs stay in River's "running" state.
// River's own rescuer only takes such jobs back after RescueStuckJobsAfter
// (an hour by default), because on a shared Postgres it cannot tell a dead
// worker from a slow one; that is what happens on Postgres (Config.RescueAfter;
// DB.Shared). hlsd is single-node on SQLite and holds an
// exclusive flock on the data directory (disk.Layout.Lock), so at startup
// no other process can be working on anything: New makes every job left
// running available again at once (recoverJobs), and sets River's rescuer
// to a week so it never re-runs a long transcode that is in fact still
// running. A job whose attempts are all used up by crashes is failed
// instead, so a file that crashes the server cannot crash it forever.
package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/queue"
	"github.com/hlsd/hlsd/internal/watch"
	"github.com/hlsd/hlsd/internal/webhook"
	"github.com/riverqueue/river"
)

// Defaults for zero Config fields.
const (
	DefaultMaxAttempts  = 5
	DefaultPollInterval = 200 * time.Millisecond
	DefaultSpaceRetry   = 30 * time.Second
	// MinJobTimeout and JobTimeoutFactor bound one transcode attempt:
	// max(MinJobTimeout, JobTimeoutFactor × source duration). The factor is
	// generous (a 1080p ladder runs at about realtime here) so that only a
	// wedged ffmpeg hits it.
	MinJobTimeout    = 10 * time.Minute
	JobTimeoutFactor = 20
	// ProgressInterval is how often a running job writes its progress.
	ProgressInterval = time.Second
	// MaxTitleLength bounds titles, in characters.
	MaxTitleLength = 300
	// rescueAfter is River's stuck-job rescue delay on a queue only this
	// process uses (see the package comment).
	rescueAfter = 7 * 24 * time.Hour
	// DefaultRescueAfter is Config.RescueAfter's default, River's own.
	DefaultRescueAfter = time.Hour
)

// QueueTranscode is the River queue of transcode jobs.
const QueueTranscode = "transcode"

// DB is the database the library keeps its catalog and job queue in:
// internal/sqlite or internal/postgres. The caller opens it (cmd/hlsd, from
// --db) and closes it after Stop.
type DB interface {
	hlsd.Database
	// Queue opens River on the same database; jobs are inserted in the
	// transactions of Tx.
	Queue() queue.Opener
	// Shared reports whether other processes may use the database and
	// work its queue (Postgres), rather than this one alone (SQLite).
	Shared() bool
	// JobCounts, StoredBytes and Ping serve metrics and readiness
	// (observe.go): job counts by [queue, state], bytes the catalog
	// records, and whether the database answers.
	JobCounts(ctx context.Context) (map[[2]string]int, error)
	StoredBytes(ctx context.Context) (sources, presentations int64, err error)
	Ping(ctx context.Context) error
}

// Config is what New needs. DataDir and DB are required.
type Config struct {
	// DataDir is the data directory (created when missing).
	DataDir string
	// DB is the catalog and job queue's database.
	DB DB
	// RescueAfter is how long a job may run before River takes it back
	// as stuck, on a shared queue (Postgres: a dead node's jobs go back to
	// the others); 0 means DefaultRescueAfter. On SQLite the library takes
	// back a dead process's jobs at start instead (see the package comment).
	RescueAfter time.Duration
	// Workers is how many transcodes run at once (default 1).
	Workers int
	Logger  *slog.Logger
	// WebhookURL receives media.ready, media.failed and media.deleted
	// events; WebhookSecret signs them (see internal/webhook).
	WebhookURL, WebhookSecret string
	// FFmpeg and FFprobe are the binaries ("" means from PATH).
	FFmpeg, FFprobe string
	// Transcode is the ladder, format, segment duration and preset of
	// every transcode (zero values: ingest's defaults).
	Transcode TranscodeSettings
	// ToolError, when set, is what the start-up check found wrong with
	// ffmpeg or ffprobe (too old, missing); a transcode that then fails
	// reports it instead of ffmpeg's last line (an old ffmpeg fails on
	// options it lacks, which reads like bad media).
	ToolError error
	// WatchDir, when set, is polled for files to import (internal/watch).
	WatchDir string
	// WatchInterval is the watch folder's polling interval (default 1 s).
	WatchInterval time.Duration
	// WatchQuiet is how long a watched file must stay unchanged before it
	// is imported (watch.DefaultQuiet when zero).
	WatchQuiet time.Duration
	// WatchMaxSize limits files imported from the watch folder (0: none).
	WatchMaxSize int64
	// WatchVisibility and WatchEncrypt are the visibility and encryption
	// of media imported from the watch folder (the server's defaults).
	WatchVisibility string
	WatchEncrypt    bool
	// MaxAttempts is how many times a transcode is tried when it fails for
	// a reason other than bad media (default DefaultMaxAttempts).
	MaxAttempts int
	// PollInterval is how often idle workers look for jobs (default
	// DefaultPollInterval): it bounds the delay from upload to start.
	PollInterval time.Duration
	// SpaceRetry is how long a transcode waits when the disk is full
	// before it looks again (default DefaultSpaceRetry). Waiting uses no
	// attempt: the media stays queued, with an ENOSPACE error saying why.
	SpaceRetry time.Duration
	// Transcoder makes presentations; nil means ingest.Run with FFmpeg and
	// FFprobe. Tests of retry logic put their own here.
	Transcoder Transcoder
	// DropSourceRendition drops the source rendition (the source file
	// packaged on the fly, listed first while the ladder encodes) from the
	// final multivariant playlist even when it is the top quality.
	DropSourceRendition bool
	// Present turns a media into the webhook event's data; nil means
	// NewView (the media with its playback and poster URLs).
	Present func(*hlsd.Media) any
	// Metrics receives transcode times and webhook outcomes (observe.go);
	// nil records nothing.
	Metrics Metrics
}

// Upload describes a file given to Create or Import.
type Upload struct {
	// Title of the media; empty means the file name without its extension.
	Title string
	// Filename is the name the uploader gave (for the title and extension).
	Filename string
	// MaxSize, when positive, is the largest accepted size in bytes.
	MaxSize int64
	// Visibility of the new media: hlsd.VisibilityPublic (also when
	// empty) or hlsd.VisibilitySigned.
	Visibility string
	// Encrypt makes the presentation AES-128 encrypted (see ingest).
	Encrypt bool
}

// Library is the media service. Create it with New, call Start to run the
// workers, and Stop to shut down.
type Library struct {
	cfg        Config
	logger     *slog.Logger
	layout     disk.Layout
	db         DB
	river      queue.Queue
	transcoder Transcoder
	present    func(*hlsd.Media) any
	unlock     func() error

	mu       sync.Mutex
	running  map[string]*run // transcodes in this process, by media id
	deleting map[string]int  // deletes in progress, by media id

	stopping  atomic.Bool
	started   bool
	stopOnce  sync.Once
	stopErr   error
	watchStop context.CancelFunc
	watchDone chan struct{}
}

// run is one transcode in progress in this process.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New opens (or creates) the data directory, locks it for this process,
// migrates the catalog and River's tables, and takes back the jobs a crashed
// process left running. Workers start with Start.
func New(ctx context.Context, cfg Config) (_ *Library, err error) {
	if cfg.DataDir == "" {
		return nil, hlsd.Errorf(hlsd.EINVALID, "a data directory is required")
	}
	if cfg.DB == nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "a database is required")
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = DefaultRescueAfter
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.SpaceRetry <= 0 {
		cfg.SpaceRetry = DefaultSpaceRetry
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Library{
		cfg:        cfg,
		logger:     logger,
		db:         cfg.DB,
		layout:     disk.Layout{Root: cfg.DataDir},
		transcoder: cfg.Transcoder,
		present:    cfg.Present,
		running:    map[string]*run{},
		deleting:   map[string]int{},
	}
	if l.transcoder == nil {
		l.transcoder = IngestTranscoder{FFmpeg: cfg.FFmpeg, FFprobe: cfg.FFprobe, Settings: cfg.Transcode, ToolError: cfg.ToolError}
	}
	if l.present == nil {
		l.present = func(m *hlsd.Media) any { return NewView(m) }
	}
	if err := os.MkdirAll(cfg.DataDir, disk.DirPerm); err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot create data directory %s: %v", cfg.DataDir, err)
	}
	if l.unlock, err = l.layout.Lock(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	if err := l.layout.Init(logger); err != nil {
		return nil, err
	}
	// River's own info lines (migrations run, periodic job counts) are
	// debug detail to hlsd's operators.
	riverLogger := slog.New(debugHandler{logger.Handler()}).With("component", "river")
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &transcodeWorker{l: l}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &webhook.Worker{
		URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, Logger: logger.With("component", "webhook"),
		Observe: l.webhookObserver(),
	}); err != nil {
		return nil, err
	}
	rescue := rescueAfter
	if cfg.DB.Shared() {
		rescue = cfg.RescueAfter
	}
	l.river, err = cfg.DB.Queue()(ctx, &river.Config{
		Logger: riverLogger,
		Queues: map[string]river.QueueConfig{
			QueueTranscode: {MaxWorkers: cfg.Workers},
			webhook.Queue:  {MaxWorkers: 2},
		},
		Workers:              workers,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        cfg.PollInterval / 4,
		RescueStuckJobsAfter: rescue,
		// Every worker sets its own timeout (Timeout methods); no client
		// default lets RescueAfter be shorter than River's minute.
		JobTimeout: -1,
	})
	if err != nil {
		return nil, err
	}
	if !cfg.DB.Shared() {
		if err := l.recoverJobs(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Start runs the workers (and the watch folder, when configured). They run
// until Stop, whatever happens to ctx afterwards: stopping is Stop's job, so
// that running transcodes are handed back cleanly.
func (l *Library) Start(ctx context.Context) error {
	if err := l.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	l.started = true
	if l.cfg.WatchDir != "" {
		w, err := watch.New(watch.Config{
			Dir:      l.cfg.WatchDir,
			Interval: l.cfg.WatchInterval,
			Quiet:    l.cfg.WatchQuiet,
			Logger:   l.logger.With("component", "watch"),
			Import: func(ctx context.Context, path string) error {
				_, err := l.Import(ctx, path, Upload{Filename: filepath.Base(path), MaxSize: l.cfg.WatchMaxSize,
					Visibility: l.cfg.WatchVisibility, Encrypt: l.cfg.WatchEncrypt})
				return err
			},
		})
		if err != nil {
			return err
		}
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		l.watchStop, l.watchDone = cancel, make(chan struct{})
		go func() {
			defer close(l.watchDone)
			w.Run(wctx)
		}()
	}
	l.logger.Info("library started", "data", l.cfg.DataDir, "workers", l.cfg.Workers, "watch", l.cfg.WatchDir)
	return nil
}

// Stop stops the watch folder and the workers, cancelling running
// transcodes (their jobs go back to the queue for the next start), then
// closes the catalog and releases the data directory. ctx bounds the wait
// for workers to return. The Library cannot be used afterwards.
func (l *Library) Stop(ctx context.Context) error {
	l.stopOnce.Do(func() {
		if l.watchStop != nil {
			l.watchStop()
			<-l.watchDone
		}
		l.stopping.Store(true)
		if l.started {
			l.stopErr = l.stopWorkers(ctx)
		}
		if err := l.close(); err != nil && l.stopErr == nil {
			l.stopErr = err
		}
		l.logger.Info("library stopped")
	})
	return l.stopErr
}

// stopWorkers cancels running jobs and waits for the River client to stop.
// Stopped is waited on too because StopAndCancel returns at once when a
// stop is already under way.
func (l *Library) stopWorkers(ctx context.Context) error {
	if err := l.river.StopAndCancel(ctx); err != nil {
		return fmt.Errorf("stop workers: %w", err)
	}
	select {
	case <-l.river.Stopped():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop workers: %w", ctx.Err())
	}
}

func (l *Library) close() error {
	var errs []error
	if l.unlock != nil {
		errs = append(errs, l.unlock())
	}
	return errors.Join(errs...)
}

// DataDir returns the data directory.
func (l *Library) DataDir() string { return l.cfg.DataDir }

// Layout returns the paths of the data directory; the delivery server serves
// Layout().MediaRoot() at /hls/.
func (l *Library) Layout() disk.Layout { return l.layout }

// Catalog returns the catalog, for read-only uses such as a cached lookup in
// the delivery server. Changes go through the Library's methods.
func (l *Library) Catalog() hlsd.Catalog { return l.db }

// Get returns one media. An id that NewMediaID could not have made is
// ENOTFOUND like any unknown id.
func (l *Library) Get(ctx context.Context, id string) (*hlsd.Media, error) {
	if !hlsd.ValidMediaID(id) {
		return nil, notFound(id)
	}
	return l.db.GetMedia(ctx, id)
}

// List returns one page of media, newest first.
func (l *Library) List(ctx context.Context, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	return l.db.ListMedia(ctx, f)
}

func notFound(id string) error { return hlsd.Errorf(hlsd.ENOTFOUND, "media %q not found", id) }

// bodyReader remembers whether an error came from the body (the client)
// rather than from writing the file (the server).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Create stores an uploaded file and queues it for processing. The body is
// streamed to DATA/tmp (never held in memory); beyond meta.MaxSize the upload
// is ETOOLARGE, an empty one EINVALID, an interrupted one EINVALID; in every
// failure nothing is left on disk.
func (l *Library) Create(ctx context.Context, body io.Reader, meta Upload) (_ *hlsd.Media, err error) {
	defer l.logNoSpace(&err, meta.Filename)
	if err := checkUpload(meta); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(l.layout.TmpDir(), "upload-*.part")
	if err != nil {
		return nil, storageError("create upload file", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	br := &bodyReader{r: body}
	var src io.Reader = br
	if meta.MaxSize > 0 {
		src = io.LimitReader(br, meta.MaxSize+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &maxErr):
			return nil, TooLarge(maxErr.Limit)
		case br.err != nil:
			return nil, hlsd.Errorf(hlsd.EINVALID, "the upload was interrupted after %d bytes", n)
		}
		return nil, storageError("write upload", err)
	}
	if meta.MaxSize > 0 && n > meta.MaxSize {
		return nil, TooLarge(meta.MaxSize)
	}
	if n == 0 {
		return nil, hlsd.Errorf(hlsd.EINVALID, "upload is empty")
	}
	// The source must survive a crash once the media exists.
	if err := f.Sync(); err != nil {
		return nil, storageError("sync upload", err)
	}
	if err := f.Close(); err != nil {
		return nil, storageError("close upload", err)
	}
	return l.adopt(ctx, tmp, meta, n, false)
}

// logNoSpace logs an upload refused for a full disk: the client gets 507,
// the operator must learn that the disk needs room.
func (l *Library) logNoSpace(err *error, name string) {
	if hlsd.ErrorCode(*err) == hlsd.ENOSPACE {
		free, _ := disk.Free(l.layout.TmpDir())
		l.logger.Error("upload refused: disk full", "file", name, "free_bytes", free, "err", *err)
	}
}

// errUploadNoSpace is an upload refused because the disk is full (HTTP 507).
var errUploadNoSpace = hlsd.Errorf(hlsd.ENOSPACE, "The server is out of storage space; the upload was not stored. Try again once space is freed.")

// storageError is err, a failed write of what, as an ENOSPACE error when
// the disk is full: the client then learns it may try again later, and
// the detail (with its paths) goes to the log only.
func storageError(what string, err error) error {
	if disk.NoSpace(err) {
		return fmt.Errorf("%w (%s: %v)", errUploadNoSpace, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// TooLarge is the error of an upload beyond limit bytes, the same whatever
// the upload kind (raw, multipart, tus, watch folder).
func TooLarge(limit int64) error {
	return hlsd.Errorf(hlsd.ETOOLARGE, "the upload is larger than the limit of %s", FormatSize(limit))
}

// Import queues a file already on disk (a finished tus upload, a file from
// the watch folder): it is moved into DATA/sources/{id}/ (a rename, or a
// copy and remove across file systems). When Import fails the file is left
// where it was. A symlink is refused, not followed: the folder path is in
// may be writable by others (see adopt).
func (l *Library) Import(ctx context.Context, path string, meta Upload) (_ *hlsd.Media, err error) {
	defer l.logNoSpace(&err, meta.Filename)
	if err := checkUpload(meta); err != nil {
		return nil, err
	}
	info, err := os.Lstat(path)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "cannot read %s: %v", filepath.Base(path), errors.Unwrap(err))
	}
	if !info.Mode().IsRegular() {
		return nil, hlsd.Errorf(hlsd.EINVALID, "%s is not a regular file", filepath.Base(path))
	}
	if info.Size() == 0 {
		return nil, hlsd.Errorf(hlsd.EINVALID, "upload is empty")
	}
	if meta.MaxSize > 0 && info.Size() > meta.MaxSize {
		return nil, TooLarge(meta.MaxSize)
	}
	if meta.Filename == "" {
		meta.Filename = filepath.Base(path)
	}
	return l.adopt(ctx, path, meta, info.Size(), true)
}

// adopt moves the file at path into the sources and creates the media and
// its job in one transaction. On failure the file is removed (restore false)
// or put back at path (restore true), and nothing else is left.
func (l *Library) adopt(ctx context.Context, path string, meta Upload, size int64, restore bool) (_ *hlsd.Media, err error) {
	if err := refuseScript(path, meta.Filename); err != nil {
		return nil, err
	}
	id := hlsd.NewMediaID()
	dir := l.layout.SourceDir(id)
	if err := os.MkdirAll(dir, disk.DirPerm); err != nil {
		return nil, storageError("create source dir", err)
	}
	dst := filepath.Join(dir, disk.SourceName(sourceExt(meta.Filename)))
	if err := disk.Move(path, dst); err != nil {
		os.RemoveAll(dir)
		return nil, storageError("move source", err)
	}
	defer func() {
		if err == nil {
			return
		}
		if restore {
			if merr := disk.Move(dst, path); merr != nil {
				l.logger.Error("cannot put file back after a failed import; it stays in the sources", "file", path, "kept", dst, "err", merr)
				return
			}
		}
		os.RemoveAll(dir)
	}()
	// What was moved must still be the regular file that was checked: a
	// file swapped for a symlink in between is put back, never read.
	if info, lerr := os.Lstat(dst); lerr != nil || !info.Mode().IsRegular() {
		return nil, hlsd.Errorf(hlsd.EINVALID, "%s is not a regular file", filepath.Base(path))
	}
	m := &hlsd.Media{
		ID:         id,
		Title:      titleFor(meta),
		Status:     hlsd.StatusQueued,
		SourceName: filepath.Base(meta.Filename),
		SourceSize: size,
		Visibility: meta.Visibility,
		Encrypted:  meta.Encrypt,
	}
	if meta.Filename == "" {
		m.SourceName = ""
	}
	// A compatible source plays at once: its multivariant playlist is
	// published before the media exists, so the first look at it already
	// finds a playable presentation. The transcode job keeps it listed.
	if _, err := l.publishSource(id, dst, m.Encrypted); err != nil {
		l.logger.Warn("no source rendition", "media", id, "err", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(l.layout.MediaDir(id))
		}
	}()
	err = l.db.Tx(ctx, func(tx hlsd.Catalog) error {
		if err := tx.CreateMedia(ctx, m); err != nil {
			return err
		}
		return l.enqueueTranscode(ctx, tx, id)
	})
	if err != nil {
		return nil, err
	}
	l.logger.Info("media queued", "media", id, "title", m.Title, "bytes", size)
	return m, nil
}

// TranscodeArgs is the River job that makes one media's presentation.
type TranscodeArgs struct {
	MediaID string `json:"media_id"`
}

// Kind implements river.JobArgs.
func (TranscodeArgs) Kind() string { return "transcode" }

func (l *Library) enqueueTranscode(ctx context.Context, tx hlsd.Catalog, id string) error {
	_, err := l.river.InsertTx(ctx, tx, TranscodeArgs{MediaID: id}, &river.InsertOpts{
		Queue: QueueTranscode, MaxAttempts: l.cfg.MaxAttempts,
	})
	if err != nil {
		return fmt.Errorf("enqueue transcode %s: %w", id, err)
	}
	return nil
}

// enqueueEvent inserts a webhook delivery in tx, when a webhook is set.
func (l *Library) enqueueEvent(ctx context.Context, tx hlsd.Catalog, typ string, m *hlsd.Media) error {
	if l.cfg.WebhookURL == "" {
		return nil
	}
	ev, err := webhook.NewEvent(typ, l.present(m))
	if err != nil {
		return err
	}
	if _, err := l.river.InsertTx(ctx, tx, webhook.Args{Event: ev}, nil); err != nil {
		return fmt.Errorf("enqueue webhook %s: %w", typ, err)
	}
	return nil
}

// Delete removes a media: it cancels its transcode if one is running (and
// waits for it to stop writing), removes the record, the source and the
// presentation, and sends media.deleted.
func (l *Library) Delete(ctx context.Context, id string) error {
	if !hlsd.ValidMediaID(id) {
		return notFound(id)
	}
	m, err := l.db.GetMedia(ctx, id)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.deleting[id]++
	r := l.running[id]
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.deleting[id]--; l.deleting[id] <= 0 {
			delete(l.deleting, id)
		}
		l.mu.Unlock()
	}()
	if r != nil {
		r.cancel(errDeleted)
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("delete %s: waiting for its transcode to stop: %w", id, ctx.Err())
		}
	}
	err = l.db.Tx(ctx, func(tx hlsd.Catalog) error {
		if err := tx.DeleteMedia(ctx, id); err != nil {
			return err
		}
		return l.enqueueEvent(ctx, tx, webhook.MediaDeleted, m)
	})
	if err != nil {
		return err
	}
	// The record is gone, so a queued job for it cancels itself when it runs.
	errs := []error{os.RemoveAll(l.layout.MediaDir(id)), os.RemoveAll(l.layout.SourceDir(id)), removeKey(l.layout.KeyFile(id))}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete %s files: %w", id, err)
	}
	l.logger.Info("media deleted", "media", id, "was", m.Status)
	return nil
}

// Reprocess queues a ready or failed media again, from its kept source. A
// media still queued or processing is ECONFLICT.
func (l *Library) Reprocess(ctx context.Context, id string) (*hlsd.Media, error) {
	if !hlsd.ValidMediaID(id) {
		return nil, notFound(id)
	}
	cur, err := l.db.GetMedia(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := l.layout.Source(id); err != nil {
		if hlsd.ErrorCode(err) == hlsd.ENOTFOUND {
			return nil, hlsd.Errorf(hlsd.ECONFLICT, "media %q cannot be reprocessed: its source file is missing", id)
		}
		return nil, err
	}
	var m *hlsd.Media
	err = l.db.Tx(ctx, func(tx hlsd.Catalog) error {
		var err error
		m, err = tx.UpdateMedia(ctx, id, hlsd.MediaUpdate{
			Status: hlsd.Ptr(hlsd.StatusQueued), Progress: hlsd.Ptr(0.0), Error: hlsd.Ptr(""), ErrorCode: hlsd.Ptr(""),
			IfStatus: []hlsd.Status{hlsd.StatusReady, hlsd.StatusFailed},
		})
		if hlsd.ErrorCode(err) == hlsd.ECONFLICT {
			return hlsd.Errorf(hlsd.ECONFLICT, "media %q is already %s; reprocess it once it is ready or failed", id, cur.Status)
		} else if err != nil {
			return err
		}
		return l.enqueueTranscode(ctx, tx, id)
	})
	if err != nil {
		return nil, err
	}
	l.logger.Info("media queued again", "media", id)
	return m, nil
}

// sourceExt returns the lowercased extension of a file name when it is a
// plain one (letters and digits, at most 8), else "": the extension ends up
// in a path, so nothing odd may pass.
func sourceExt(filename string) string {
	ext := strings.ToLower(filepath.Ext(filepath.Base(filename)))
	if len(ext) < 2 || len(ext) > 9 {
		return ""
	}
	for _, c := range ext[1:] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return ext
}

func checkTitle(title string) error {
	if !utf8.ValidString(title) {
		return hlsd.Errorf(hlsd.EINVALID, "the title is not valid UTF-8")
	}
	if utf8.RuneCountInString(title) > MaxTitleLength {
		return hlsd.Errorf(hlsd.EINVALID, "the title is longer than %d characters", MaxTitleLength)
	}
	return nil
}

// titleFor is meta.Title, or the file name without its extension, or
// "Untitled".
func titleFor(meta Upload) string {
	if t := strings.TrimSpace(meta.Title); t != "" {
		return t
	}
	base := filepath.Base(strings.ReplaceAll(meta.Filename, `\`, "/"))
	if meta.Filename == "" || base == "." || base == "/" {
		return "Untitled"
	}
	if t := strings.TrimSpace(strings.TrimSuffix(base, filepath.Ext(base))); t != "" && utf8.ValidString(t) {
		if utf8.RuneCountInString(t) > MaxTitleLength {
			t = string([]rune(t)[:MaxTitleLength])
		}
		return t
	}
	return "Untitled"
}

// FormatSize writes a byte count in the largest unit that divides it,
// binary or decimal, the way --max-upload accepts it ("100 MB", "20 GiB").
func FormatSize(n int64) string {
	units := []struct {
		size int64
		name string
	}{{1 << 40, "TiB"}, {1e12, "TB"}, {1 << 30, "GiB"}, {1e9, "GB"}, {1 << 20, "MiB"}, {1e6, "MB"}, {1 << 10, "KiB"}, {1e3, "kB"}}
	for _, u := range units {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// ParseSize reads a size with an optional unit: "1048576", "100MB", "100 MB",
// "20GiB", "1.5GB", "512k". Decimal units (kB, MB, GB, TB) are powers of
// 1000, binary ones (KiB, MiB, GiB, TiB) powers of 1024; a bare K, M, G or T
// is taken as binary, as most command-line tools do.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || v < 0 || math.IsInf(v, 0) || v*float64(mult) > math.MaxInt64/2 {
		return 0, hlsd.Errorf(hlsd.EINVALID, "%q is not a size (examples: 100MB, 20GiB, 1048576)", s)
	}
	return int64(v * float64(mult)), nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1e3, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1e9, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1e12, "tib": 1 << 40,
}

// View is the media as API clients and webhook receivers see it: the
// catalog record plus the URLs to play it.
type View struct {
	*hlsd.Media
	PlaybackURL string `json:"playback_url"`
	PosterURL   string `json:"poster_url,omitempty"`
}

// NewView returns m with its URLs (relative to the server's root).
func NewView(m *hlsd.Media) View {
	return View{Media: m, PlaybackURL: PlaybackURL(m.ID), PosterURL: PosterURL(m)}
}

// PlaybackURL is the path of a media's multivariant playlist.
func PlaybackURL(id string) string { return "/hls/" + id + "/master.m3u8" }

// PosterURL is the path of a video's poster image, or "" for audio and for
// media whose kind is not known yet.
func PosterURL(m *hlsd.Media) string {
	if m.Kind != hlsd.KindVideo {
		return ""
	}
	return "/hls/" + m.ID + "/poster.jpg"
}

// errDeleted cancels the transcode of a media being deleted.
var errDeleted = errors.New("media deleted")
