// Package benchplay is what the benchmarks share: a running `hlsd serve`,
// and headless Chromium with a page on its own 127.0.0.1 origin that plays a
// URL through hls.js and reports when the video is playing, to time
// "playable" as a viewer sees it.
package benchplay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Paths of Debian's Chromium and of hls.js from web/ (npm ci), relative to
// the repository root the benchmarks run from.
const (
	Chromium = "/usr/bin/chromium"
	HLSJS    = "web/node_modules/hls.js/dist/hls.min.js"
)

// Player is headless Chromium with a page that plays a URL through hls.js.
type Player struct {
	pages  *http.Server
	origin string
	ctx    context.Context
	cancel func()
}

const page = `<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video>
<script src="/hls.min.js"></script>
<script>
// play(url) resolves once the video plays; it retries while the playlist
// is not there yet (404) or not playable yet, as an impatient page would.
function play(url) {
  return new Promise((resolve, reject) => {
    const v = document.getElementById('v');
    let hls;
    const attempt = () => {
      if (hls) hls.destroy();
      hls = new Hls({manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 0});
      hls.on(Hls.Events.ERROR, (e, d) => { if (d.fatal) setTimeout(attempt, 100); });
      hls.on(Hls.Events.MANIFEST_PARSED, () => v.play().catch(() => {}));
      hls.loadSource(url);
      hls.attachMedia(v);
    };
    const check = setInterval(() => {
      if (v.currentTime > 0 && !v.paused) { clearInterval(check); hls.destroy(); v.removeAttribute('src'); v.load(); resolve(true); }
    }, 20);
    attempt();
  });
}
</script>`

// New starts Chromium and opens the player page.
func New() (*Player, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	mux.HandleFunc("GET /hls.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, HLSJS)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Player{pages: &http.Server{Handler: mux}, origin: "http://" + ln.Addr().String()}
	go p.pages.Serve(ln)

	profile, err := os.MkdirTemp("", "bench-chromium-")
	if err != nil {
		return nil, err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Chromium), chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("mute-audio", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(profile))
	ctx, cancelCtx := chromedp.NewContext(alloc)
	p.ctx = ctx
	p.cancel = func() {
		cancelCtx()
		cancelAlloc()
		os.RemoveAll(profile)
		p.pages.Close()
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(p.origin+"/")); err != nil {
		p.cancel()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return p, nil
}

// Close stops Chromium and the page server.
func (p *Player) Close() { p.cancel() }

// PlayUntilPlaying returns once url plays (currentTime > 0), retrying while
// the playlist is missing or not playable yet, or when ctx ends.
func (p *Player) PlayUntilPlaying(ctx context.Context, url string) error {
	tctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		cancel()
	}()
	var ok bool
	b, _ := json.Marshal(url)
	return chromedp.Run(tctx, chromedp.Evaluate("play("+string(b)+")", &ok, func(ep *runtime.EvaluateParams) *runtime.EvaluateParams {
		return ep.WithAwaitPromise(true)
	}))
}
