// Package browsertest drives Debian's real Chromium, headless, from tests:
// it plays HLS through hls.js (the version pinned in web/package-lock.json)
// from a page served on its own origin, so CORS is exercised exactly as for
// a site embedding hlsd's streams, and it takes screenshots. Tests that use
// it need the Debian package chromium and web/node_modules (npm ci in web/);
// a missing one fails the test with a message naming it, and only
// `go test -short` skips.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// DefaultTimeout bounds one playback when PlayOptions.Timeout is zero. It is
// a hang guard, not a performance threshold: generous for a shared machine.
const DefaultTimeout = 90 * time.Second

// Browser is one headless Chromium process with a fresh profile, plus a
// page server on its own 127.0.0.1 origin that hosts the player page and
// hls.js. Every method opens its own tab.
type Browser struct {
	ctx   context.Context // the browser's first tab; new tabs derive from it
	pages *httptest.Server
}

// New starts headless Chromium and the page server; both stop when the test
// ends. Without Chromium it fails the test naming the Debian package
// (it skips only under -short).
func New(tb testing.TB) *Browser {
	tb.Helper()
	if testing.Short() {
		tb.Skip("browser test: skipped with -short")
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		tb.Fatalf("browsertest: %s not found: install the Debian package chromium (apt-get install chromium, or make deps-test)", ChromiumPath)
	}
	hlsJS, err := hlsJSPath()
	if err != nil {
		tb.Fatalf("browsertest: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /play", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, playerPage)
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeFile(w, r, hlsJS)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	pages := httptest.NewServer(mux) // listens on 127.0.0.1:0
	tb.Cleanup(pages.Close)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(filepath.Join(tb.TempDir(), "chromium-profile")),
		chromedp.WindowSize(1280, 720),
		chromedp.WSURLReadTimeout(DefaultTimeout),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		// Close the browser gracefully and wait for it to exit, so no
		// Chromium process still writes to the profile when the test's
		// TempDir is removed (RemoveAll: "directory not empty").
		if err := chromedp.Cancel(ctx); err != nil {
			cancel()
		}
		cancelAlloc()
	})
	// The first Run starts the browser, bound to ctx (a deadline here would
	// kill it): WSURLReadTimeout bounds the start instead.
	if err := chromedp.Run(ctx); err != nil {
		tb.Fatalf("browsertest: start %s: %v", ChromiumPath, err)
	}
	return &Browser{ctx: ctx, pages: pages}
}

// PageOrigin is the origin ("http://127.0.0.1:PORT") of the player page,
// for servers that list allowed CORS origins.
func (b *Browser) PageOrigin() string { return b.pages.URL }

// NewTab opens a tab for custom chromedp actions; cancel closes it.
func (b *Browser) NewTab() (context.Context, context.CancelFunc) {
	return chromedp.NewContext(b.ctx)
}

// PlayOptions tunes Play.
type PlayOptions struct {
	// MinTime is the playback position, in seconds, that must be passed.
	MinTime float64
	// Audio plays in an <audio> element instead of <video>.
	Audio bool
	// Timeout bounds the whole playback; zero means DefaultTimeout.
	Timeout time.Duration
	// Screenshot, when set, is where a PNG of the page is saved once
	// playback passed MinTime.
	Screenshot string
}

// Playback is what the page saw.
type Playback struct {
	PageURL     string
	CurrentTime float64
	Duration    float64
	// Levels is the number of variants hls.js parsed from the playlist.
	Levels                  int
	VideoWidth, VideoHeight int
	// Errors are hls.js ERROR events ("type/details" plus "(fatal)").
	Errors []string
	// Warnings are hls.js stall events tolerated by Play (see Play).
	Warnings []string
	// Console holds page exceptions, console.error calls and browser log
	// errors (blocked CORS requests appear there).
	Console []string
}

// PlayHLS plays playlistURL muted in a <video> element and returns nil once
// playback passed minTime seconds with no hls.js error and no console error.
func (b *Browser) PlayHLS(tb testing.TB, playlistURL string, minTime float64) (Playback, error) {
	tb.Helper()
	return b.Play(tb, playlistURL, PlayOptions{MinTime: minTime})
}

// Benign reports whether a non-fatal hls.js error detail says nothing about
// what was served: stalls from a starved CPU on a shared machine (decoder
// late, buffer briefly empty), and "aborted" (INTERNAL_ABORTED), hls.js
// cancelling its own fragment request when it switches rendition, as it
// does when the source rendition and the ladder appear side by side.
func Benign(details string) bool {
	switch details {
	case "bufferStalledError", "bufferNudgeOnStall", "aborted":
		return true
	}
	return false
}

// Play loads the player page in a new tab, has hls.js play playlistURL,
// and waits until the media element's currentTime exceeds opts.MinTime. It
// fails at once on a fatal hls.js error or a media element error, and at
// the end on any other hls.js error (except stalls, reported as Warnings)
// or console error. The error names everything collected.
func (b *Browser) Play(tb testing.TB, playlistURL string, opts PlayOptions) (Playback, error) {
	tb.Helper()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	q := url.Values{"src": {playlistURL}}
	if opts.Audio {
		q.Set("audio", "1")
	}
	pb := Playback{PageURL: b.pages.URL + "/play?" + q.Encode()}

	tab, closeTab := b.NewTab()
	defer closeTab()
	console := WatchConsole(tab)

	ctx, cancel := context.WithTimeout(tab, timeout)
	defer cancel()
	fail := func(format string, args ...any) (Playback, error) {
		pb.Console = console.Errors()
		msg := fmt.Sprintf(format, args...)
		if len(pb.Errors) > 0 {
			msg += "; hls.js errors: " + strings.Join(pb.Errors, "; ")
		}
		if len(pb.Console) > 0 {
			msg += "; console: " + strings.Join(pb.Console, "; ")
		}
		return pb, fmt.Errorf("play %s: %s", playlistURL, msg)
	}

	if err := chromedp.Run(ctx, chromedp.Navigate(pb.PageURL)); err != nil {
		return fail("load page: %v", err)
	}
	var st pageState
	for {
		var raw string
		if err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify(window.hlsdState || null)`, &raw)); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fail("timed out after %v at currentTime %.2f (readyState %d)", timeout, st.CurrentTime, st.ReadyState)
			}
			return fail("read page state: %v", err)
		}
		if raw != "null" {
			if err := json.Unmarshal([]byte(raw), &st); err != nil {
				return fail("decode page state %q: %v", raw, err)
			}
		}
		pb.CurrentTime, pb.Duration, pb.Levels = st.CurrentTime, st.Duration, st.Levels
		pb.VideoWidth, pb.VideoHeight = st.VideoWidth, st.VideoHeight
		pb.Errors, pb.Warnings = pb.Errors[:0], pb.Warnings[:0]
		for _, e := range st.Errors {
			if !e.Fatal && (Benign(e.Details) || e.startHole()) {
				pb.Warnings = append(pb.Warnings, e.String())
			} else {
				pb.Errors = append(pb.Errors, e.String())
			}
		}
		switch {
		case st.Fatal != "":
			return fail("fatal: %s", st.Fatal)
		case st.MediaError != "":
			return fail("media element error: %s", st.MediaError)
		case st.CurrentTime > opts.MinTime:
			if opts.Screenshot != "" {
				var png []byte
				if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
					return fail("screenshot: %v", err)
				}
				if err := os.WriteFile(opts.Screenshot, png, 0o644); err != nil {
					return fail("save screenshot: %v", err)
				}
			}
			pb.Console = console.Errors()
			if len(pb.Errors) > 0 || len(pb.Console) > 0 {
				return fail("played to %.2fs but reported errors", st.CurrentTime)
			}
			return pb, nil
		case st.Ended:
			return fail("ended at %.2fs before passing %.2fs", st.CurrentTime, opts.MinTime)
		}
		select {
		case <-ctx.Done():
			return fail("timed out after %v at currentTime %.2f (readyState %d)", timeout, st.CurrentTime, st.ReadyState)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Screenshot opens pageURL in a new tab, waits for the page to load, and
// saves a PNG of the whole page to path.
func (b *Browser) Screenshot(tb testing.TB, pageURL, path string) error {
	tb.Helper()
	tab, closeTab := b.NewTab()
	defer closeTab()
	ctx, cancel := context.WithTimeout(tab, DefaultTimeout)
	defer cancel()
	var png []byte
	if err := chromedp.Run(ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitReady("body", chromedp.ByQuery),
		chromedp.FullScreenshot(&png, 100),
	); err != nil {
		return fmt.Errorf("screenshot %s: %w", pageURL, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot %s: %w", pageURL, err)
	}
	return nil
}

// pageState mirrors window.hlsdState in playerPage.
type pageState struct {
	CurrentTime float64    `json:"currentTime"`
	Duration    float64    `json:"duration"`
	ReadyState  int        `json:"readyState"`
	Ended       bool       `json:"ended"`
	Levels      int        `json:"levels"`
	VideoWidth  int        `json:"videoWidth"`
	VideoHeight int        `json:"videoHeight"`
	Errors      []hlsError `json:"errors"`
	Fatal       string     `json:"fatal"`
	MediaError  string     `json:"mediaError"`
}

type hlsError struct {
	Type    string `json:"type"`
	Details string `json:"details"`
	Fatal   bool   `json:"fatal"`
	Info    string `json:"info"`
}

// MaxStartHole is the largest hole at time 0 that hls.js may seek over
// without failing a test: MPEG-TS has no edit list, so a muxed stream
// starts with the AAC encoder's priming (1024 samples, 21 ms at 48 kHz)
// and the B-frame delay (2 frames) as a gap that hls.js reports as a
// non-fatal bufferSeekOverHole when it jumps it (it adds its 0.1 s
// skipBufferHolePadding to the target). A hole later in the media, or a
// larger one, still fails.
const MaxStartHole = 0.25

// startHole reports whether e is hls.js jumping a hole of at most
// MaxStartHole at the very start of playback.
func (e hlsError) startHole() bool {
	if e.Details != "bufferSeekOverHole" {
		return false
	}
	_, after, ok := strings.Cut(e.Info, "seeking from 0 to ")
	if !ok {
		return false
	}
	to, err := strconv.ParseFloat(strings.TrimSpace(after), 64)
	return err == nil && to <= MaxStartHole
}

func (e hlsError) String() string {
	s := e.Type + "/" + e.Details
	if e.Info != "" {
		s += " " + e.Info
	}
	if e.Fatal {
		s += " (fatal)"
	}
	return s
}

// hlsJSPath finds hls.min.js in web/node_modules of the repository holding
// the working directory.
func hlsJSPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "web", "node_modules", "hls.js", "dist", "hls.min.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s missing: run npm ci in web/ (make deps-test installs it)", p)
	}
	return p, nil
}

// playerPage plays ?src= with hls.js and publishes its state in
// window.hlsdState for Play to poll.
const playerPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>hlsd player test</title>
<style>body{margin:0;background:#111;color:#eee;font:14px sans-serif} video,audio{width:100%;max-height:90vh}</style>
</head><body>
<div id="box"></div>
<script src="/hls.min.js"></script>
<script>
(function () {
  var q = new URLSearchParams(location.search);
  var el = document.createElement(q.get('audio') ? 'audio' : 'video');
  el.muted = true; el.autoplay = true; el.controls = true; el.playsInline = true;
  document.getElementById('box').appendChild(el);
  var st = window.hlsdState = {currentTime: 0, duration: 0, readyState: 0, ended: false, levels: 0,
    videoWidth: 0, videoHeight: 0, errors: [], fatal: '', mediaError: ''};
  function update() {
    st.currentTime = el.currentTime; st.duration = isFinite(el.duration) ? el.duration : 0;
    st.readyState = el.readyState; st.ended = el.ended;
    st.videoWidth = el.videoWidth || 0; st.videoHeight = el.videoHeight || 0;
  }
  ['timeupdate', 'playing', 'loadedmetadata', 'ended', 'durationchange'].forEach(function (n) { el.addEventListener(n, update); });
  el.addEventListener('error', function () {
    var e = el.error; st.mediaError = e ? ('code ' + e.code + ' ' + (e.message || '')) : 'unknown';
  });
  if (typeof Hls === 'undefined') { st.fatal = 'hls.js did not load'; return; }
  if (!Hls.isSupported()) { st.fatal = 'Hls.isSupported() is false (no Media Source Extensions)'; return; }
  var hls = new Hls({enableWorker: true});
  window.hls = hls;
  hls.on(Hls.Events.ERROR, function (ev, d) {
    var info = '';
    if (d.response && d.response.code !== undefined) info += 'HTTP ' + d.response.code;
    if (d.url) info += ' ' + d.url;
    if (d.error && d.error.message) info += ' ' + d.error.message;
    st.errors.push({type: String(d.type), details: String(d.details), fatal: !!d.fatal, info: info.trim()});
    if (d.fatal) st.fatal = d.type + '/' + d.details + (info ? ' ' + info.trim() : '');
  });
  hls.on(Hls.Events.MANIFEST_PARSED, function (ev, d) {
    st.levels = d.levels.length;
    var p = el.play();
    if (p && p.catch) p.catch(function (e) { st.errors.push({type: 'play', details: String(e), fatal: false, info: ''}); });
  });
  hls.loadSource(q.get('src'));
  hls.attachMedia(el);
  setInterval(update, 100);
})();
</script>
</body></html>
`
