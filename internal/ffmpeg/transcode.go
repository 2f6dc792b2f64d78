package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd"
)

// Runner runs ffmpeg as a child process: argv only (never a shell), killed
// with SIGKILL when its context ends, and with the last lines of its stderr
// kept for error messages.
type Runner struct {
	// Path is the ffmpeg binary; "" means "ffmpeg" from PATH.
	Path string
	// Log receives ffmpeg's stderr as it comes when non-nil (--verbose).
	Log io.Writer
	// Logger may be nil.
	Logger *slog.Logger
}

// LookFFmpeg resolves the ffmpeg binary, or returns a user error naming the
// Debian package to install.
func LookFFmpeg(path string) (string, error) {
	name := path
	if name == "" {
		name = "ffmpeg"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if path != "" {
			return "", hlsd.Errorf(hlsd.EUNAVAILABLE, "ffmpeg not found at %s: install the Debian package ffmpeg", path)
		}
		return "", hlsd.Errorf(hlsd.EUNAVAILABLE, "ffmpeg not found: install the Debian package ffmpeg")
	}
	return p, nil
}

// ExitError is a failed ffmpeg run with the tail of what it wrote on stderr.
type ExitError struct {
	Err  error
	Tail []string
}

func (e *ExitError) Error() string {
	if l := e.LastLine(); l != "" {
		return "ffmpeg: " + l
	}
	return "ffmpeg: " + e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// NoSpace reports whether ffmpeg failed because the disk is full.
func (e *ExitError) NoSpace() bool {
	for _, l := range e.Tail {
		if strings.Contains(l, "No space left on device") {
			return true
		}
	}
	return false
}

// ErrPixelLimit is the Err of an ExitError when a decoder met a frame over
// Input.MaxPixels: ffmpeg itself would only skip such frames and go on, so
// Run stops it at the first one.
var ErrPixelLimit = errors.New("a frame is over the pixel limit")

// pixelLimitLine is the start of what libavutil logs when a frame is over
// -max_pixels: "Picture size 9024x4500 exceeds specified max pixel count
// 36000000, see the documentation if you wish to increase it".
var pixelLimitLine = regexp.MustCompile(`Picture size (\d+)x(\d+) exceeds specified max pixel count (\d+)`)

// PixelLimit returns the frame size and the limit when ffmpeg was stopped
// for a frame over Input.MaxPixels.
func (e *ExitError) PixelLimit() (width, height, limit int, ok bool) {
	if !errors.Is(e.Err, ErrPixelLimit) {
		return 0, 0, 0, false
	}
	for _, l := range slices.Backward(e.Tail) {
		if m := pixelLimitLine.FindStringSubmatch(l); m != nil {
			width, _ = strconv.Atoi(m[1])
			height, _ = strconv.Atoi(m[2])
			limit, _ = strconv.Atoi(m[3])
			return width, height, limit, true
		}
	}
	return 0, 0, 0, true
}

var (
	logPrefix   = regexp.MustCompile(`^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+`)
	boringLines = []string{"Conversion failed!", "Exiting normally", "Error while filtering", "Nothing was written"}
)

// LastLine returns ffmpeg's last meaningful stderr line, without the
// "[demuxer @ 0x...]" prefix and cut to 200 characters.
func (e *ExitError) LastLine() string {
	for i := len(e.Tail) - 1; i >= 0; i-- {
		l := strings.TrimSpace(logPrefix.ReplaceAllString(e.Tail[i], ""))
		if l == "" || slicesContainsPrefix(boringLines, l) {
			continue
		}
		if len(l) > 200 {
			l = l[:200] + "..."
		}
		return l
	}
	return ""
}

func slicesContainsPrefix(list []string, s string) bool {
	for _, p := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Run runs ffmpeg with args until it exits or ctx ends. When progress is
// non-nil, ffmpeg must have been given -progress pipe:1; progress is then
// called from the caller's goroutine for every report and at least once a
// second. A context error is returned as is; a failed run as *ExitError.
func (r *Runner) Run(ctx context.Context, args []string, progress func(Progress)) error {
	bin, err := LookFFmpeg(r.Path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := command(ctx, bin, args...)
	tail := &tailWriter{max: 20, stopOn: pixelLimitLine, stop: cancel}
	if r.Log != nil {
		cmd.Stderr = io.MultiWriter(tail, r.Log)
	} else {
		cmd.Stderr = tail
	}
	pw := &progressWriter{notify: make(chan struct{}, 1)}
	cmd.Stdout = pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited { // progress panicked: kill ffmpeg and wait, so it writes nothing more
			cancel()
			<-done
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			exited = true
			if progress != nil {
				if p, ok := pw.latest(); ok {
					progress(p)
				}
			}
			if r.Logger != nil {
				r.Logger.Debug("ffmpeg exited", "took", time.Since(start), "err", err)
			}
			if line := tail.stopLine(); line != "" {
				// The line that stopped it comes last, whatever followed.
				return &ExitError{Err: ErrPixelLimit, Tail: append(tail.lines(), line)}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return &ExitError{Err: err, Tail: tail.lines()}
			}
			if r.Logger != nil {
				if l := (&ExitError{Tail: tail.lines()}).LastLine(); l != "" {
					r.Logger.Warn("ffmpeg succeeded with errors", "last", l)
				}
			}
			return nil
		case <-pw.notify:
		case <-tick.C:
		}
		if progress != nil {
			if p, ok := pw.latest(); ok {
				progress(p)
			} else {
				progress(Progress{})
			}
		}
	}
}

// progressWriter parses -progress output as ffmpeg writes it.
type progressWriter struct {
	mu     sync.Mutex
	buf    []byte
	parser ProgressParser
	last   Progress
	seen   bool
	notify chan struct{}
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if pr, ok := w.parser.Line(string(w.buf[:i])); ok {
			w.last, w.seen = pr, true
			select {
			case w.notify <- struct{}{}:
			default:
			}
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *progressWriter) latest() (Progress, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.seen
}

// tailWriter keeps the last max lines written to it. A line matching
// stopOn calls stop (once), which kills ffmpeg.
type tailWriter struct {
	mu      sync.Mutex
	max     int
	stopOn  *regexp.Regexp
	stop    func()
	hit     string // the line that matched stopOn
	partial []byte
	tail    []string
}

func (w *tailWriter) stopLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hit
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexAny(w.partial, "\r\n")
		if i < 0 {
			break
		}
		if l := strings.TrimSpace(string(w.partial[:i])); l != "" {
			if w.stopOn != nil && w.hit == "" && w.stopOn.MatchString(l) {
				w.hit = l
				w.stop()
			}
			w.tail = append(w.tail, l)
			if len(w.tail) > w.max {
				w.tail = w.tail[len(w.tail)-w.max:]
			}
		}
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 4096 {
		w.partial = w.partial[len(w.partial)-4096:]
	}
	return len(p), nil
}

func (w *tailWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]string{}, w.tail...)
	if l := strings.TrimSpace(string(w.partial)); l != "" {
		out = append(out, l)
	}
	return out
}

// IsExit reports whether err is a failed ffmpeg run and returns it.
func IsExit(err error) (*ExitError, bool) {
	var e *ExitError
	ok := errors.As(err, &e)
	return e, ok
}
