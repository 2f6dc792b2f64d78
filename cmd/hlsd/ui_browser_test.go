package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// uiStepTimeout bounds one step of the web UI test (a hang guard for a
// shared, noisy machine, not a performance threshold).
const uiStepTimeout = 4 * time.Minute

// artifactsDir is where browser tests leave screenshots: $HLSD_ARTIFACTS,
// else testdata/.cache/screenshots at the repository root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HLSD_ARTIFACTS")
	if dir == "" {
		root, err := testmedia.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "testdata", ".cache", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// uiPage is a tab of the test browser on the running server.
type uiPage struct {
	t       *testing.T
	ctx     context.Context
	base    string
	console *browsertest.Console
	server  *running
}

// run runs chromedp actions with a step timeout, failing the test with the
// server log on error.
// waitPlaying waits until the page's player passes 2 s with no fatal error.
func (p *uiPage) waitPlaying(what string) {
	p.t.Helper()
	p.waitFor(what, func() (bool, error) {
		var st playerState
		if err := p.eval(playerStateJS, &st); err != nil {
			return false, err
		}
		if st.Fatal != "" {
			return false, fmt.Errorf("player error: %s", st.Fatal)
		}
		return st.CurrentTime > 2, nil
	})
}

func (p *uiPage) run(what string, actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, uiStepTimeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\nconsole: %q\nserver log (tail):\n%s", what, err, p.console.Errors(), tail(p.server.stderr.String(), 40))
	}
}

// eval evaluates a JavaScript expression returning JSON and decodes it.
func (p *uiPage) eval(expr string, v any) error {
	ctx, cancel := context.WithTimeout(p.ctx, uiStepTimeout)
	defer cancel()
	var raw string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify(`+expr+`)`, &raw)); err != nil {
		return err
	}
	return json.Unmarshal([]byte(raw), v)
}

// waitFor polls check every 200 ms until it returns true, an error, or the
// step times out.
func (p *uiPage) waitFor(what string, check func() (bool, error)) {
	p.t.Helper()
	deadline := time.Now().Add(uiStepTimeout)
	for {
		ok, err := check()
		if err != nil {
			p.t.Fatalf("%s: %v\nconsole: %q\nserver log (tail):\n%s", what, err, p.console.Errors(), tail(p.server.stderr.String(), 40))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: still not done after %v\nconsole: %q\nserver log (tail):\n%s", what, uiStepTimeout, p.console.Errors(), tail(p.server.stderr.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// noConsoleErrors fails the test if the page reported any error.
func (p *uiPage) noConsoleErrors(when string) {
	p.t.Helper()
	if errs := p.console.Errors(); len(errs) > 0 {
		p.t.Errorf("%s: the page reported errors:\n%s", when, strings.Join(errs, "\n"))
	}
}

// apiStatus returns the status of media id from the API.
func apiStatus(t *testing.T, base, token, id string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/media/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m uiMedia
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET media %s: %v", id, err)
	}
	return m.Status
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// uiMedia is what the test reads of a media from the library page.
type uiMedia struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Kind     string  `json:"kind"`
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Error    string  `json:"error"`
	Duration float64 `json:"duration"`
}

// playerState mirrors what the test reads of window.hlsdPlayer.
type playerState struct {
	Tag          string  `json:"tag"`
	CurrentTime  float64 `json:"currentTime"`
	Duration     float64 `json:"duration"`
	Paused       bool    `json:"paused"`
	Ended        bool    `json:"ended"`
	Muted        bool    `json:"muted"`
	VideoHeight  int     `json:"videoHeight"`
	Native       bool    `json:"native"`
	Levels       int     `json:"levels"`
	CurrentLevel int     `json:"currentLevel"`
	Retries      int     `json:"retries"`
	Fatal        string  `json:"fatal"`
	Errors       []struct {
		Type, Details, Info string
		Fatal               bool
	} `json:"errors"`
}

const playerStateJS = `(() => {
  const p = window.hlsdPlayer;
  if (!p || !p.media) return null;
  const m = p.media;
  return {tag: m.tagName.toLowerCase(), currentTime: m.currentTime, duration: isFinite(m.duration) ? m.duration : 0,
    paused: m.paused, ended: m.ended, muted: m.muted, videoHeight: m.videoHeight || 0, native: p.native,
    levels: p.levels.length, currentLevel: p.currentLevel, retries: p.retries, fatal: p.fatal, errors: p.errors};
})()`

// TestWebUI drives the web interface like a new user, in Debian's headless
// Chromium against the real server: sign in, upload a video and a song
// through the file input, watch them process, play both, switch quality,
// use the keyboard, delete, sign out. Screenshots of the library and
// watch pages are saved as artifacts.
func TestWebUI(t *testing.T) {
	b := browsertest.New(t) // skips under -short; fails without chromium
	video := testmedia.Path(t, "video-1080p.mp4")
	audio := testmedia.Path(t, "tone.flac")
	shots := artifactsDir(t)
	const token = "ui-test-token-0123456789"
	srv := startServe(t, nil, "--data", t.TempDir(), "--api-token", token)

	tab, closeTab := b.NewTab()
	defer closeTab()
	p := &uiPage{t: t, ctx: tab, base: srv.base, console: browsertest.WatchConsole(tab), server: srv}
	// The first Run opens the tab, bound to the context it is given: it
	// must be the tab's own, not a step's timeout context.
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	// Phone-and-desktop friendly width, like a laptop window.
	p.run("set viewport", chromedp.EmulateViewport(1280, 860))

	var location string
	t.Run("sign in", func(t *testing.T) {
		p.t = t
		p.run("open the library", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#token", chromedp.ByID), chromedp.Location(&location))
		if !strings.HasPrefix(location, srv.base+"/login?next=") {
			t.Fatalf("signed out, / went to %s, want the sign-in page", location)
		}
		var msg string
		p.run("sign in with a wrong token",
			chromedp.SendKeys("#token", "not-the-token", chromedp.ByID),
			chromedp.Submit("#token", chromedp.ByID),
			chromedp.WaitVisible("#login-error", chromedp.ByID),
			chromedp.Text("#login-error", &msg, chromedp.ByID))
		if !strings.Contains(msg, "not right") {
			t.Errorf("wrong token: message %q, want it to say the token is not right", msg)
		}
		p.console.Reset() // the browser logs the 401 of the wrong token
		p.run("sign in",
			chromedp.SendKeys("#token", token, chromedp.ByID),
			chromedp.Submit("#token", chromedp.ByID),
			chromedp.WaitVisible("#empty", chromedp.ByID),
			chromedp.Location(&location))
		if location != srv.base+"/" {
			t.Errorf("after sign-in the browser is at %s, want the library", location)
		}
		var empty string
		p.run("read the empty state", chromedp.Text("#empty", &empty, chromedp.ByID))
		if !strings.Contains(empty, "Upload files") || !strings.Contains(empty, "Drop") {
			t.Errorf("empty state %q does not say how to add media", empty)
		}
		p.noConsoleErrors("library")
	})
	if t.Failed() {
		return
	}

	media := map[string]uiMedia{} // by kind
	t.Run("upload and process", func(t *testing.T) {
		p.t = t
		p.run("pick two files", chromedp.SetUploadFiles("#file", []string{video, audio}, chromedp.ByID))
		sawProgress := false
		p.waitFor("both media ready in the grid", func() (bool, error) {
			var st struct {
				Items   []uiMedia `json:"items"`
				Cards   int       `json:"cards"`
				Ready   int       `json:"ready"`
				Bars    int       `json:"bars"`
				Uploads []string  `json:"uploads"`
			}
			if err := p.eval(`({items: window.hlsdLibrary.items, cards: document.querySelectorAll('#grid .media-card').length,
				ready: document.querySelectorAll('#grid .media-card[data-status=ready]').length,
				bars: document.querySelectorAll('#grid .media-card progress').length,
				uploads: [...document.querySelectorAll('.upload.failed .info')].map(e => e.textContent)})`, &st); err != nil {
				return false, err
			}
			if len(st.Uploads) > 0 {
				return false, fmt.Errorf("upload failed: %q", st.Uploads)
			}
			if st.Bars > 0 {
				sawProgress = true
			}
			for _, m := range st.Items {
				if m.Status == "failed" {
					return false, fmt.Errorf("%s failed: %s", m.Title, m.Error)
				}
			}
			if st.Ready == 2 && len(st.Items) == 2 {
				for _, m := range st.Items {
					media[m.Kind] = m
				}
				return true, nil
			}
			return false, nil
		})
		if !sawProgress {
			t.Error("no progress bar was shown while the media was processing")
		}
		if media["video"].ID == "" || media["audio"].ID == "" {
			t.Fatalf("library has %+v, want one video and one audio", media)
		}
		if d := media["video"].Duration; d < 7.5 || d > 8.5 {
			t.Errorf("video duration %.2f s, want 8", d)
		}
		var titles []string
		p.run("read the grid", chromedp.Evaluate(`[...document.querySelectorAll('#grid .media-card h3')].map(e => e.textContent)`, &titles))
		// Newest first: tus uploads both files at once, so either order is
		// possible for the two; both titles must be there, from the file names.
		if len(titles) != 2 || !strings.Contains(strings.Join(titles, "|"), "video-1080p") || !strings.Contains(strings.Join(titles, "|"), "tone") {
			t.Errorf("grid titles %q, want the two file names", titles)
		}
		var durs []string
		p.run("read the durations", chromedp.Evaluate(`[...document.querySelectorAll('#grid .badge:not(.private)')].map(e => e.textContent)`, &durs))
		if strings.Join(durs, ",") != "0:08,0:06" && strings.Join(durs, ",") != "0:06,0:08" {
			t.Errorf("duration badges %q, want 0:08 and 0:06", durs)
		}
		p.waitFor("posters loaded", func() (bool, error) {
			var done bool
			err := p.eval(`[...document.images].every(i => i.complete)`, &done)
			return done, err
		})
		var shot []byte
		p.run("screenshot the library", chromedp.CaptureScreenshot(&shot))
		if err := os.WriteFile(filepath.Join(shots, "library.png"), shot, 0o644); err != nil {
			t.Error(err)
		}

		// Search by title.
		p.run("search", chromedp.SendKeys("#q", "tone", chromedp.ByID))
		p.waitFor("search results", func() (bool, error) {
			var n int
			err := p.eval(`document.querySelectorAll('#grid .media-card').length`, &n)
			return n == 1, err
		})
		p.run("clear the search", chromedp.Evaluate(`(() => { const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); })()`, nil))
		p.waitFor("all media again", func() (bool, error) {
			var n int
			err := p.eval(`document.querySelectorAll('#grid .media-card').length`, &n)
			return n == 2, err
		})
		p.noConsoleErrors("library with media")
	})
	if t.Failed() {
		return
	}

	// play opens the watch page of m and waits until it played past 2 s.
	play := func(t *testing.T, m uiMedia) playerState {
		t.Helper()
		p.console.Reset()
		p.run("open the watch page of "+m.Title, chromedp.Navigate(srv.base+"/watch/"+m.ID), chromedp.WaitVisible("#player-area", chromedp.ByID))
		var st playerState
		p.waitFor("playback past 2 s", func() (bool, error) {
			st = playerState{}
			if err := p.eval(playerStateJS, &st); err != nil {
				return false, err
			}
			if st.Fatal != "" {
				return false, fmt.Errorf("player error: %s", st.Fatal)
			}
			if st.Ended && st.CurrentTime <= 2 {
				return false, fmt.Errorf("ended at %.2f s", st.CurrentTime)
			}
			return st.CurrentTime > 2, nil
		})
		for _, e := range st.Errors {
			if e.Fatal || !browsertest.Benign(e.Details) {
				t.Errorf("player reported %s/%s %s", e.Type, e.Details, e.Info)
			} else {
				t.Logf("player warning (recovered by hls.js): %s/%s %s", e.Type, e.Details, e.Info)
			}
		}
		p.noConsoleErrors("watch " + m.Title)
		return st
	}

	t.Run("watch the video and switch quality", func(t *testing.T) {
		p.t = t
		st := play(t, media["video"])
		if st.Tag != "video" || st.Native {
			t.Errorf("player is a %s element (native HLS %v), want <video> through hls.js", st.Tag, st.Native)
		}
		var options []string
		p.run("read the quality menu", chromedp.Evaluate(`[...document.querySelectorAll('#quality option')].map(o => o.value + '=' + o.textContent)`, &options))
		if len(options) != st.Levels+1 || st.Levels < 2 || !strings.HasPrefix(options[0], "-1=Auto") {
			t.Fatalf("quality menu %q with %d levels, want Auto and one entry per level (2 or more)", options, st.Levels)
		}
		var shot []byte
		p.run("screenshot the watch page", chromedp.CaptureScreenshot(&shot))
		if err := os.WriteFile(filepath.Join(shots, "watch-video.png"), shot, 0o644); err != nil {
			t.Error(err)
		}

		// Pick the smallest rendition (the menu lists highest first).
		last := options[len(options)-1]
		value, label, _ := strings.Cut(last, "=")
		var wantHeight int
		fmt.Sscanf(label, "%dp", &wantHeight)
		p.run("choose "+label, chromedp.SetValue("#quality", value, chromedp.ByID),
			chromedp.Evaluate(`document.getElementById('quality').dispatchEvent(new Event('change', {bubbles: true}))`, nil))
		p.waitFor("switch to "+label, func() (bool, error) {
			var s playerState
			if err := p.eval(playerStateJS, &s); err != nil {
				return false, err
			}
			if s.Fatal != "" {
				return false, fmt.Errorf("player error after switching: %s", s.Fatal)
			}
			if s.Ended || s.Paused {
				// Played to the end before the switch showed: play again
				// from the start, at the chosen level (seeking back to
				// frames buffered before the switch may otherwise keep
				// hls.js on the level it had buffered them at).
				replay := fmt.Sprintf(`(() => { const p = window.hlsdPlayer; if (p.hls) p.hls.currentLevel = %s; const m = p.media; m.currentTime = 0; m.play(); })()`, value)
				if err := chromedp.Run(p.ctx, chromedp.Evaluate(replay, nil)); err != nil {
					return false, err
				}
			}
			return fmt.Sprint(s.CurrentLevel) == value && s.VideoHeight == wantHeight, nil
		})
		var now string
		p.run("read the current quality", chromedp.Text(".player-bar .now", &now, chromedp.ByQuery))
		if !strings.Contains(now, label) {
			t.Errorf("player bar says %q, want the chosen %s", now, label)
		}
		p.noConsoleErrors("after the quality switch")
	})

	t.Run("listen to the song with the keyboard", func(t *testing.T) {
		p.t = t
		st := play(t, media["audio"])
		if st.Tag != "audio" {
			t.Errorf("music plays in a <%s> element, want the audio layout", st.Tag)
		}
		var cover bool
		p.run("find the cover", chromedp.Evaluate(`!!document.querySelector('.audio-layout .cover svg, .audio-layout .cover img')`, &cover))
		if !cover {
			t.Error("audio layout has no cover or music icon")
		}
		var shot []byte
		p.run("screenshot the audio page", chromedp.CaptureScreenshot(&shot))
		if err := os.WriteFile(filepath.Join(shots, "watch-audio.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
		keys := []struct {
			key   string
			check func(s playerState) bool
			want  string
		}{
			{"m", func(s playerState) bool { return s.Muted }, "muted"},
			{"m", func(s playerState) bool { return !s.Muted }, "unmuted"},
			{" ", func(s playerState) bool { return s.Paused }, "paused"},
			{" ", func(s playerState) bool { return !s.Paused }, "playing"},
		}
		for _, k := range keys {
			p.run("press "+k.want, chromedp.Evaluate(`document.activeElement && document.activeElement.blur()`, nil), chromedp.KeyEvent(k.key))
			p.waitFor(k.want+" after pressing "+fmt.Sprintf("%q", k.key), func() (bool, error) {
				var s playerState
				err := p.eval(playerStateJS, &s)
				return k.check(s), err
			})
		}
		p.noConsoleErrors("keyboard")
	})

	t.Run("embed player", func(t *testing.T) {
		p.t = t
		m := media["video"]
		p.console.Reset()
		p.run("open the embed page", chromedp.Navigate(srv.base+"/embed/"+m.ID), chromedp.WaitReady("video", chromedp.ByQuery))
		p.waitPlaying("embedded playback past 2 s")
		p.noConsoleErrors("embed")
	})

	t.Run("signed playback", func(t *testing.T) {
		p.t = t
		m := media["audio"]
		p.console.Reset()
		p.run("open the watch page", chromedp.Navigate(srv.base+"/watch/"+m.ID), chromedp.WaitVisible("#visibility", chromedp.ByID))
		// Select and dispatch in one step: the page may re-render the
		// control (it refreshes the media) between two separate actions.
		p.waitFor("make it signed", func() (bool, error) {
			var ok bool
			err := p.eval(`(() => { const e = document.getElementById('visibility'); if (!e) return false;
				e.value = 'signed'; e.dispatchEvent(new Event('change')); return true; })()`, &ok)
			return ok, err
		})
		p.waitFor("the API to say signed", func() (bool, error) {
			var v struct {
				Visibility string `json:"visibility"`
			}
			req, _ := http.NewRequest("GET", srv.base+"/api/v1/media/"+m.ID, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&v) == nil && v.Visibility == "signed", nil
		})
		// The public URL now refuses to play it.
		if resp, err := http.Get(srv.base + "/hls/" + m.ID + "/master.m3u8"); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusForbidden {
			t.Errorf("public URL of signed media: %d, want 403", resp.StatusCode)
		}
		var src, shared, embedCode string
		p.waitFor("playback through a signed URL past 2 s", func() (bool, error) {
			var st playerState
			if err := p.eval(playerStateJS, &st); err != nil {
				return false, err
			}
			if st.Fatal != "" {
				return false, fmt.Errorf("player error: %s", st.Fatal)
			}
			if err := p.eval(`(window.hlsdPlayer && window.hlsdPlayer.hls && window.hlsdPlayer.hls.url) || ''`, &src); err != nil {
				return false, err
			}
			return st.CurrentTime > 2 && strings.Contains(src, "/hls/t/"), nil
		})
		p.run("read the share fields", chromedp.Value("#playback-url", &shared, chromedp.ByID), chromedp.Value("#embed-code", &embedCode, chromedp.ByID))
		if !strings.Contains(shared, "/hls/t/") || !strings.Contains(embedCode, "?token=") {
			t.Errorf("signed media shares %q and %q, want links with a token", shared, embedCode)
		}
		p.noConsoleErrors("signed watch page")
		embedURL := regexp.MustCompile(`src="([^"]+)"`).FindStringSubmatch(embedCode)
		if embedURL == nil {
			t.Fatalf("no src in the embed code %q", embedCode)
		}
		p.run("open the signed embed", chromedp.Navigate(embedURL[1]), chromedp.WaitReady("audio", chromedp.ByQuery))
		p.waitPlaying("signed embed playback past 2 s")
		p.noConsoleErrors("signed embed")
	})

	t.Run("watch while processing", func(t *testing.T) {
		p.t = t
		long := testmedia.Path(t, "video-720p-long.mp4") // 30 s: still processing when opened
		p.console.Reset()
		p.run("open the library", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#grid .media-card", chromedp.ByQuery))
		p.run("upload a long video", chromedp.SetUploadFiles("#file", []string{long}, chromedp.ByID))
		var m uiMedia
		p.waitFor("the long video processing", func() (bool, error) {
			var items []uiMedia
			if err := p.eval(`window.hlsdLibrary.items`, &items); err != nil {
				return false, err
			}
			for _, it := range items {
				if strings.Contains(it.Title, "720p-long") && it.Status != "queued" {
					m = it
					return true, nil
				}
			}
			return false, nil
		})
		p.run("open its watch page from the grid", chromedp.Click(`#grid [data-id="`+m.ID+`"] h3 a`, chromedp.ByQuery), chromedp.WaitVisible("#player-area", chromedp.ByID))
		var st playerState
		p.waitFor("playback past 2 s", func() (bool, error) {
			st = playerState{}
			if err := p.eval(playerStateJS, &st); err != nil {
				return false, err
			}
			if st.Fatal != "" {
				return false, fmt.Errorf("player error: %s", st.Fatal)
			}
			return st.CurrentTime > 2, nil
		})
		status := apiStatus(t, srv.base, token, m.ID)
		t.Logf("opened while %s (%.0f%%), played past 2 s while %s, %d retries before the playlist appeared",
			m.Status, m.Progress*100, status, st.Retries)
		// The master playlist is published before the variants' playlists:
		// until they appear, hls.js gets 404s for them and retries. Those
		// are tolerated (and logged) here; anything else fails.
		early := func(details, info string) bool {
			return (details == "levelLoadError" || details == "audioTrackLoadError") && strings.HasPrefix(info, "HTTP 404")
		}
		for _, e := range st.Errors {
			switch {
			case !e.Fatal && early(e.Details, e.Info):
				t.Logf("player warning while processing: %s/%s %s", e.Type, e.Details, e.Info)
			case e.Fatal || !browsertest.Benign(e.Details):
				t.Errorf("player reported %s/%s %s", e.Type, e.Details, e.Info)
			}
		}
		for _, e := range p.console.Errors() {
			if !strings.Contains(e, "status of 404") || !strings.Contains(e, "/hls/"+m.ID+"/") || !strings.Contains(e, ".m3u8") {
				t.Errorf("the page reported: %s", e)
			}
		}
		// Delete it (cancelling its transcode) to leave the machine alone.
		req, _ := http.NewRequest("DELETE", srv.base+"/api/v1/media/"+m.ID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Error(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusNoContent {
			t.Errorf("DELETE the long video: %d", resp.StatusCode)
		}
	})

	t.Run("keyboard and phone width", func(t *testing.T) {
		p.t = t
		p.console.Reset()
		p.run("open the library", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#grid .media-card", chromedp.ByQuery))
		// Tab through the page: search, upload and every media link must be
		// reachable without a mouse.
		reached := map[string]bool{}
		for range 16 {
			var desc string
			p.run("press Tab", chromedp.KeyEvent("\t"), chromedp.Evaluate(`(() => { const a = document.activeElement;
				return a.id ? '#' + a.id : (a.getAttribute('href') || a.textContent.trim()); })()`, &desc))
			reached[desc] = true
		}
		for _, want := range []string{"#q", "#file", "/watch/" + media["video"].ID, "/watch/" + media["audio"].ID, "Sign out"} {
			if !reached[want] {
				t.Errorf("Tab never reached %s (reached %v)", want, reached)
			}
		}
		p.run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, pg := range []struct{ name, path, ready string }{
			{"library", "/", "#grid .media-card"},
			{"watch", "/watch/" + media["video"].ID, "#quality option + option"},
		} {
			var overflow int
			var shot []byte
			p.run("open the "+pg.name+" page at phone width", chromedp.Navigate(srv.base+pg.path), chromedp.WaitReady(pg.ready, chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth - document.documentElement.clientWidth`, &overflow),
				chromedp.CaptureScreenshot(&shot))
			if overflow > 0 {
				t.Errorf("%s page at 390 px is %d px too wide (horizontal scrolling)", pg.name, overflow)
			}
			if err := os.WriteFile(filepath.Join(shots, pg.name+"-phone.png"), shot, 0o644); err != nil {
				t.Error(err)
			}
		}
		p.run("desktop viewport", chromedp.EmulateViewport(1280, 860))
		p.noConsoleErrors("keyboard and phone width")
	})

	t.Run("delete", func(t *testing.T) {
		p.t = t
		m := media["video"]
		p.console.Reset()
		// #delete is enabled once the page's script has wired it.
		p.run("open the watch page", chromedp.Navigate(srv.base+"/watch/"+m.ID), chromedp.WaitVisible("#delete", chromedp.ByID), chromedp.WaitEnabled("#delete", chromedp.ByID))
		p.run("delete with confirmation",
			chromedp.Click("#delete", chromedp.ByID),
			chromedp.WaitVisible("#confirm-delete", chromedp.ByID),
			chromedp.Click("#confirm-delete-button", chromedp.ByID),
			chromedp.WaitVisible("#grid .media-card", chromedp.ByQuery))
		p.waitFor("one media left", func() (bool, error) {
			var n int
			err := p.eval(`document.querySelectorAll('#grid .media-card').length`, &n)
			return n == 1, err
		})
		req, _ := http.NewRequest("GET", srv.base+"/api/v1/media/"+m.ID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET the deleted media: %d, want 404", resp.StatusCode)
		}
		p.noConsoleErrors("after delete")
	})

	t.Run("a file that is not media", func(t *testing.T) {
		p.t = t
		p.console.Reset()
		p.run("open the library", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#grid .media-card", chromedp.ByQuery))
		p.run("upload a text file", chromedp.SetUploadFiles("#file", []string{testmedia.Path(t, "not-media.txt")}, chromedp.ByID))
		var m uiMedia
		p.waitFor("the text file to fail", func() (bool, error) {
			var items []uiMedia
			if err := p.eval(`window.hlsdLibrary.items`, &items); err != nil {
				return false, err
			}
			for _, it := range items {
				if strings.Contains(it.Title, "not-media") && it.Status == "failed" {
					m = it
					return true, nil
				}
			}
			return false, nil
		})
		if m.Error == "" {
			t.Fatal("failed media has no error message")
		}
		var shown string
		p.run("read the card", chromedp.WaitVisible(`#grid [data-id="`+m.ID+`"] .card-error`, chromedp.ByQuery),
			chromedp.Text(`#grid [data-id="`+m.ID+`"] .card-error`, &shown, chromedp.ByQuery))
		if shown != m.Error {
			t.Errorf("card shows %q, want the API's error %q", shown, m.Error)
		}
		t.Logf("failed media shows: %s", shown)
		p.noConsoleErrors("failed media")
	})

	t.Run("upload progress and cancel", func(t *testing.T) {
		p.t = t
		p.console.Reset()
		p.run("open the library", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#grid .media-card", chromedp.ByQuery))
		// A slow uplink (256 kB/s) so the upload is seen in progress.
		p.run("throttle uploads", network.Enable(), network.EmulateNetworkConditions(false, 0, -1, 256<<10))
		p.run("upload a video", chromedp.SetUploadFiles("#file", []string{video}, chromedp.ByID))
		progressRE := regexp.MustCompile(`^\d+% · .+ of .+ · .+/s · .+ left$`)
		var info string
		p.waitFor("percent, speed and time left", func() (bool, error) {
			err := p.eval(`(document.querySelector('.upload .info') || {}).textContent || ''`, &info)
			return progressRE.MatchString(info), err
		})
		t.Logf("upload row: %s", info)
		var shot []byte
		p.run("screenshot the upload", chromedp.CaptureScreenshot(&shot))
		if err := os.WriteFile(filepath.Join(shots, "upload.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
		p.run("cancel", chromedp.Click(".upload button", chromedp.ByQuery), chromedp.WaitNotPresent(".upload", chromedp.ByQuery))
		p.run("unthrottle", network.EmulateNetworkConditions(false, 0, -1, -1))
		// Cancel tells the server to drop what it received (tus termination).
		p.waitFor("the server to drop the upload", func() (bool, error) {
			return regexp.MustCompile(`method=DELETE path=/api/v1/uploads/\S+ status=204`).MatchString(srv.stderr.String()), nil
		})
		p.noConsoleErrors("upload and cancel")
	})

	t.Run("sign out", func(t *testing.T) {
		p.t = t
		p.run("sign out", chromedp.Click(`form[action="/logout"] button`, chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByID))
		p.run("open the library again", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible("#token", chromedp.ByID), chromedp.Location(&location))
		if !strings.Contains(location, "/login") {
			t.Errorf("after sign-out / went to %s, want the sign-in page", location)
		}
	})
}
