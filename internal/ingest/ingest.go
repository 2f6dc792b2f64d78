// Package ingest turns one audio or video file into a complete adaptive HLS
// presentation: it probes the source, plans the ladder, runs one ffmpeg
// process for all renditions, writes the playlists itself from what was
// really produced (measured bandwidths, real codec strings), checks the
// result and publishes it atomically. Both `hlsd ingest` and the library's
// worker call Run.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/ffmpeg"
)

// Options say what to ingest and where; zero values take the defaults.
type Options struct {
	Input  string // source file
	Output string // presentation dir to create (or replace atomically)
	Format string // "fmp4" (default) or "ts"
	// SegmentDuration is the target segment length; default 6s.
	SegmentDuration time.Duration
	// Ladder lists the video rung heights (short side); nil means 1080, 720, 480, 360.
	Ladder []int
	// StrictLadder refuses a Ladder rung taller than the source instead
	// of skipping it (see ffmpeg.PlanOptions.StrictLadder).
	StrictLadder bool
	Preset       string // x264 preset, default "veryfast"
	// Progressive writes into Output in place (a fresh directory owned by
	// the caller) so players can start early: master.m3u8 first, from the
	// plan, then growing EVENT playlists; at the end every playlist is
	// rewritten as VOD with measured values, each through a rename.
	Progressive     bool
	FFmpeg, FFprobe string // binaries; "" means from PATH
	// Progress is called at least every second while encoding.
	Progress func(Progress)
	// Log receives ffmpeg's stderr when non-nil; its last lines are always
	// kept for error messages.
	Log    io.Writer
	Logger *slog.Logger // may be nil

	// Encrypt encrypts every segment with AES-128 under a fresh random key
	// (see encrypt.go). It implies the ts format.
	Encrypt bool
	// KeyFile is where the key is written (mode 0600) when Encrypt is set;
	// required then, and refused inside Output.
	KeyFile string
	// KeyURI is the key's URI in the playlists; default DefaultKeyURI.
	KeyURI string

	// Source, in progressive mode, is a rendition served from the source
	// itself that the multivariant playlists list first while the ladder
	// encodes (see SourceVariant for when the final one keeps it). Run
	// publishes the source-only master at once when there is none yet. It
	// is ignored for an audio presentation and with Encrypt (the source
	// rendition is not encrypted).
	Source *SourceVariant
}

// Progress is how far encoding has come, in media time.
type Progress struct {
	Done, Total time.Duration
	// Speed is ffmpeg's speed as a multiple of realtime; 0 when unknown.
	Speed float64
}

// Fraction returns Done/Total between 0 and 1, or 0 when Total is unknown.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return min(max(float64(p.Done)/float64(p.Total), 0), 1)
}

// Result describes a published presentation.
type Result struct {
	Kind hlsd.Kind `json:"kind"`
	// Duration of the source in seconds.
	Duration   float64          `json:"duration"`
	Renditions []hlsd.Rendition `json:"renditions"`
	// Bytes is the size of every file of the presentation.
	Bytes int64 `json:"bytes"`
	// Wall is the time Run took, probe to publish.
	Wall time.Duration `json:"-"`
	// Speed is source duration over wall time (x realtime).
	Speed  float64 `json:"speed"`
	Format string  `json:"format"`
	Output string  `json:"output"`
	// SkippedRungs are the ladder heights taller than the source, not made.
	SkippedRungs []int `json:"skipped_rungs,omitempty"`
}

// Run ingests opts.Input into opts.Output. Every failure a user can cause is
// a one-line *hlsd.Error; a cancelled ctx returns ctx's error. Unless
// Progressive is set, nothing appears at Output until the presentation is
// complete and checked, an earlier Output is replaced in one rename, and on
// failure or cancel nothing is left behind.
func Run(ctx context.Context, opts Options) (_ *Result, err error) {
	start := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Input == "" || opts.Output == "" {
		return nil, hlsd.Errorf(hlsd.EINVALID, "ingest needs an input file and an output directory")
	}
	in, err := filepath.Abs(opts.Input)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	name := filepath.Base(in)
	if _, err := ffmpeg.LookFFmpeg(opts.FFmpeg); err != nil {
		return nil, err
	}
	if !opts.Progressive {
		if err := checkReplaceable(out); err != nil {
			return nil, err
		}
	}
	if opts.Encrypt {
		if err := checkEncryption(&opts, out); err != nil {
			return nil, err
		}
		opts.Source = nil // never list clear media in an encrypted presentation
	}
	if !opts.Progressive {
		opts.Source = nil
	}
	limits := ffmpeg.DefaultLimits()
	info, err := (&ffmpeg.Prober{FFprobe: opts.FFprobe, Limits: limits}).Probe(ctx, in)
	if err != nil {
		return nil, err
	}
	job, err := ffmpeg.Plan(info, ffmpeg.PlanOptions{
		Format:          opts.Format,
		SegmentDuration: opts.SegmentDuration,
		Ladder:          opts.Ladder,
		Preset:          opts.Preset,
		Progressive:     opts.Progressive,
		StrictLadder:    opts.StrictLadder,
	})
	if err != nil {
		return nil, err
	}
	if job.Kind != hlsd.KindVideo {
		opts.Source = nil
	}

	// The work directory: beside Output (same file system, so the publish
	// is a rename), or Output itself in progressive mode.
	var work string
	var created []string // progressive mode: what to remove on failure
	if opts.Progressive {
		work = out
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, writeError(out, err)
		}
	} else {
		parent := filepath.Dir(out)
		work, err = os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-*")
		if err != nil {
			return nil, writeError(parent, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	published := false
	defer func() {
		cancel() // kills ffmpeg on error, cancel or panic
		wg.Wait()
		if published {
			return
		}
		if opts.Progressive {
			for _, c := range created {
				os.RemoveAll(c)
			}
		} else {
			os.RemoveAll(work)
		}
	}()

	// ffmpeg's HLS muxer says nothing when a write fails for want of space
	// (it exits 0, leaving empty playlists): a failure on a full disk is
	// put down to the disk, whatever error it showed as. Deferred after the
	// cleanup above, it runs before it frees the space.
	defer func() {
		if code := hlsd.ErrorCode(err); err != nil && ctx.Err() == nil && (code == hlsd.EUNSUPPORTED || code == hlsd.EINTERNAL) && disk.Full(work) {
			logger.Warn("ingest failed on a full disk", "output", out, "err", err)
			err = noSpace(out)
		}
	}()

	var enc *encryption
	if opts.Encrypt {
		if enc, err = startEncryption(opts); err != nil {
			return nil, err
		}
		defer func() { enc.cleanup(published) }()
		job.KeyInfo = enc.info
	}

	for _, n := range job.RenditionNames() {
		d := filepath.Join(work, n)
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, writeError(out, err)
		}
		created = append(created, d)
	}
	// In progressive mode the planned multivariant playlist is published
	// once every rendition has its first segment, not before: its
	// existence means "playable now", so a player never meets a variant
	// playlist that is not there yet.
	var planned []byte
	if opts.Progressive {
		created = append(created, filepath.Join(work, masterName), filepath.Join(work, ffmpeg.PosterName), filepath.Join(work, posterTemp))
		if planned, err = plannedMaster(job, opts.Source); err != nil {
			return nil, fmt.Errorf("ingest %s: %w", name, err)
		}
		if opts.Source != nil {
			if _, err := os.Stat(filepath.Join(work, masterName)); errors.Is(err, fs.ErrNotExist) {
				if err := WriteSourceMaster(work, opts.Source); err != nil {
					return nil, writeError(out, err)
				}
			}
		}
	}
	var masterErr error
	publishPlanned := func() {
		if planned == nil || masterErr != nil || !renditionsStarted(work, job) {
			return
		}
		masterErr = writeFileAtomic(filepath.Join(work, masterName), planned)
		planned = nil
	}

	var log io.Writer // ffmpeg and the poster run write to it at the same time
	if opts.Log != nil {
		log = &lockedWriter{w: opts.Log}
	}
	// The probe saw the first frames only: the decoders hold every frame
	// to the same pixel limit.
	input := ffmpeg.Input{Path: in, Formats: ffmpeg.DemuxerAllowlist(), MaxPixels: limits.MaxPixels, VideoStream: -1, AudioStream: -1}
	if v := info.Video(); v != nil && job.Kind == hlsd.KindVideo {
		input.VideoStream = v.Index
	}
	if a := info.Audio(); a != nil && (len(job.Audio) > 0 || job.MuxedAudio != nil) {
		input.AudioStream = a.Index
	}

	var posterErr error
	if job.Poster {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
			defer pcancel()
			r := &ffmpeg.Runner{Path: opts.FFmpeg, Log: log, Logger: logger}
			out := filepath.Join(work, posterTemp)
			at := ffmpeg.PosterTime(job)
			posterErr = r.Run(pctx, ffmpeg.PosterArgs(at, input, out), nil)
			if fi, err := os.Stat(out); posterErr == nil && at > 0 && (err != nil || fi.Size() == 0) {
				// The seek passed the last frame (a source of a frame or
				// two): the first frame then.
				posterErr = r.Run(pctx, ffmpeg.PosterArgs(0, input, out), nil)
			}
		}()
	}

	limit := max(10*time.Minute, 20*info.Length())
	tctx, tcancel := context.WithTimeout(ctx, limit)
	defer tcancel()
	total := info.Length()
	runner := &ffmpeg.Runner{Path: opts.FFmpeg, Log: log, Logger: logger}
	args := ffmpeg.TranscodeArgs(job, input, work)
	logger.Debug("transcode", "input", in, "args", args)
	var lastSpeed float64
	err = runner.Run(tctx, args, func(p ffmpeg.Progress) {
		lastSpeed = p.Speed
		publishPlanned()
		if opts.Progress != nil {
			opts.Progress(Progress{Done: min(p.OutTime, total), Total: total, Speed: p.Speed})
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "transcoding %s took longer than %v", name, limit)
		}
		return nil, ffmpegError(in, out, err)
	}
	if masterErr != nil {
		return nil, writeError(out, masterErr)
	}
	if opts.Progress != nil {
		// ffmpeg's last report can stop a frame or an audio packet short of the end.
		opts.Progress(Progress{Done: total, Total: total, Speed: lastSpeed})
	}
	wg.Wait()
	if job.Poster {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if posterErr != nil {
			return nil, ffmpegError(in, out, posterErr)
		}
		if fi, err := os.Stat(filepath.Join(work, posterTemp)); err != nil || fi.Size() == 0 {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "could not decode %s: no picture for the poster", name)
		}
		if err := os.Rename(filepath.Join(work, posterTemp), filepath.Join(work, ffmpeg.PosterName)); err != nil {
			return nil, writeError(out, err)
		}
	}

	var key []byte
	if enc != nil {
		key = enc.key
	}
	rends, err := finish(work, job, info.Duration, key)
	if err != nil {
		return nil, classifyWrite(name, out, err)
	}
	master, err := measuredMaster(job, rends, opts.Source)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(work, masterName), master); err != nil {
		return nil, writeError(out, err)
	}
	bytes, err := dirSize(work)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", name, err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if enc != nil {
		if err := enc.publish(); err != nil {
			return nil, writeError(filepath.Dir(opts.KeyFile), err)
		}
	}
	if !opts.Progressive {
		if err := publish(work, out); err != nil {
			return nil, writeError(out, err)
		}
	}
	published = true
	wall := time.Since(start)
	res := &Result{
		Kind:     job.Kind,
		Duration: info.Duration,
		Bytes:    bytes,
		Wall:     wall,
		Speed:    info.Duration / wall.Seconds(),
		Format:   job.Format,
		Output:   out,

		SkippedRungs: job.SkippedRungs,
	}
	for _, r := range rends {
		res.Renditions = append(res.Renditions, r.Rendition)
	}
	logger.Info("ingest done", "input", name, "output", out, "renditions", len(rends), "took", wall)
	return res, nil
}

const masterName = "master.m3u8"

// posterTemp is where ffmpeg writes the poster; it is renamed to
// poster.jpg once complete, so nobody reads a half-written image.
const posterTemp = ".poster.tmp.jpg"

// ffmpegError turns a failed ffmpeg run on the source at path into one
// clear line naming the file by its base name only.
func ffmpegError(path, out string, err error) error {
	name := filepath.Base(path)
	if e, ok := ffmpeg.IsExit(err); ok {
		if w, h, limit, ok := e.PixelLimit(); ok {
			return hlsd.Errorf(hlsd.ETOOLARGE, "%s has a %dx%d frame (%.1f megapixels) after its start; the limit is %.1f megapixels per frame",
				name, w, h, float64(w*h)/1e6, float64(limit)/1e6)
		}
		if e.NoSpace() {
			return noSpace(out)
		}
		if sig, ok := killedBy(e); ok {
			// The OOM killer or an operator: another try may well succeed.
			return hlsd.Errorf(hlsd.EUNAVAILABLE, "ffmpeg was stopped by signal %s while processing %s", sig, name)
		}
		if l := e.LastLine(); l != "" {
			l = strings.TrimPrefix(l, "file:"+path+": ")
			l = strings.ReplaceAll(l, path, name)
			return hlsd.Errorf(hlsd.EUNSUPPORTED, "could not decode %s: %s", name, l)
		}
		return hlsd.Errorf(hlsd.EUNSUPPORTED, "could not decode %s: ffmpeg failed (%v)", name, e.Err)
	}
	return err
}

// killedBy reports the signal that stopped ffmpeg from outside (SIGKILL,
// SIGTERM, SIGINT), as opposed to a crash (SIGSEGV, SIGABRT) that the
// source itself caused and would cause again.
func killedBy(e *ffmpeg.ExitError) (syscall.Signal, bool) {
	var exit *exec.ExitError
	if !errors.As(e.Err, &exit) {
		return 0, false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	switch sig := ws.Signal(); sig {
	case syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT:
		return sig, true
	}
	return 0, false
}

// classifyWrite keeps *hlsd.Error as is and names disk-full failures.
func classifyWrite(name, out string, err error) error {
	var he *hlsd.Error
	if errors.As(err, &he) {
		return err
	}
	if disk.NoSpace(err) {
		return noSpace(out)
	}
	return fmt.Errorf("ingest %s: %w", name, err)
}

// noSpace is the error of a write refused for want of space under dir.
func noSpace(dir string) error {
	return hlsd.Errorf(hlsd.ENOSPACE, "disk full while writing %s", dir)
}

// writeError explains a failure to create or write under dir.
func writeError(dir string, err error) error {
	switch {
	case disk.NoSpace(err):
		return noSpace(dir)
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return hlsd.Errorf(hlsd.EINVALID, "cannot write to %s: permission denied", dir)
	case errors.Is(err, fs.ErrNotExist):
		return hlsd.Errorf(hlsd.EINVALID, "cannot write to %s: no such directory", dir)
	case errors.Is(err, syscall.ENOTDIR):
		return hlsd.Errorf(hlsd.EINVALID, "cannot write to %s: not a directory", dir)
	}
	return fmt.Errorf("write %s: %w", dir, err)
}

// sharedPerm is the permission of dir, which hlsd (or the user) created
// under the process umask: a folder published into it is readable by
// exactly those who can read dir (hlsd serve's umask makes that hlsd's
// user only, docs/security.md; an ingest into a public folder stays
// public). A chmod ignores the umask, so the private folder made by
// os.MkdirTemp takes its destination's permission instead of a fixed one.
func sharedPerm(dir string) os.FileMode {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0o700
	}
	return fi.Mode().Perm()
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a reader sees the old or the new content, never a part.
// The file is created 0666 less the process umask, like any file ffmpeg
// writes beside it.
func writeFileAtomic(path string, data []byte) error {
	var f *os.File
	var err error
	for range 10 {
		tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.tmp-%d", filepath.Base(path), rand.Uint64()))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += fi.Size()
		return nil
	})
	return n, err
}

// lockedWriter serialises writes from concurrent ffmpeg runs.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// renditionsStarted reports whether every rendition's growing playlist
// lists at least one segment (ffmpeg writes it by temp file and rename, so
// a playlist seen is whole).
func renditionsStarted(work string, job *ffmpeg.Job) bool {
	for _, n := range job.RenditionNames() {
		b, err := os.ReadFile(filepath.Join(work, n, ffmpeg.PlaylistName))
		if err != nil || !strings.Contains(string(b), "#EXTINF") {
			return false
		}
	}
	return true
}
