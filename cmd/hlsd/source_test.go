package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/browsertest"
	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/server"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// masterOf fetches and parses a multivariant playlist; ok is false on any
// status but 200.
func masterOf(t *testing.T, url string) (*hls.Multivariant, bool) {
	t.Helper()
	resp, body := get(t, url, nil)
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
	return mv, true
}

func hasSource(mv *hls.Multivariant) bool {
	for _, v := range mv.Variants {
		if strings.HasPrefix(v.URI, "source/") {
			return true
		}
	}
	return false
}

// TestAPISourceRendition is issue 7's library integration end to end: an
// H.264/AAC MP4 upload plays in hls.js from its source rendition while
// the ladder is still encoding, the multivariant playlist keeps the source
// first while renditions are added and drops it once the ladder's top rung
// is as tall; an MPEG-2 upload goes the transcode path only; a signed
// media's source rendition answers 403 on its plain URL and plays with a
// token.
func TestAPISourceRendition(t *testing.T) {
	b := browsertest.New(t) // skips under -short
	const token = "source-token-0123456789abcdef"
	r := startServe(t, map[string]string{"HLSD_API_TOKEN": token}, "--data", t.TempDir(),
		"--signing-key", "k1:source-secret-0123456789")
	c := apiClient{base: r.base, token: token}

	// Uploaded first: the only worker is busy with it during the checks
	// of the other two.
	m := c.uploadRaw(t, testmedia.Path(t, "video-720p-long.mp4"), "long")
	mpeg2 := c.uploadRaw(t, testmedia.Path(t, "mpeg2-720x405.mpg"), "mpeg2")
	signed := c.uploadRaw(t, testmedia.Path(t, "short.mp4"), "signed")
	status, _, body := c.call(t, "PATCH", "/api/v1/media/"+signed.ID, strings.NewReader(`{"visibility": "signed"}`),
		map[string]string{"Content-Type": "application/json"})
	if status != http.StatusOK {
		t.Fatalf("make signed: %d %s", status, body)
	}
	base := r.base + "/hls/" + m.ID + "/"

	t.Run("playable at once", func(t *testing.T) {
		// The upload's answer came after the master was written: no wait.
		mv, ok := masterOf(t, r.base+m.PlaybackURL)
		if !ok {
			t.Fatalf("no master playlist right after the upload")
		}
		if len(mv.Variants) == 0 || mv.Variants[0].URI != "source/video/index.m3u8" {
			t.Fatalf("first variant %+v, want the source's", mv.Variants)
		}
		v := mv.Variants[0]
		if v.Width != 1280 || v.Height != 720 || v.FrameRate != 30 || v.Bandwidth <= 0 || v.Audio != "source-audio" ||
			!strings.HasPrefix(v.Codecs, "avc1.") || !strings.Contains(v.Codecs, ",mp4a.40.2") {
			t.Errorf("source variant %+v", v)
		}
		if len(mv.Alternatives) != 1 || mv.Alternatives[0].GroupID != "source-audio" || mv.Alternatives[0].URI != "source/audio/index.m3u8" {
			t.Errorf("source audio %+v", mv.Alternatives)
		}
		for _, track := range []string{"video", "audio"} {
			resp, pl := get(t, base+"source/"+track+"/index.m3u8", nil)
			if resp.StatusCode != 200 || !strings.Contains(string(pl), "#EXT-X-ENDLIST") || !strings.Contains(string(pl), "seg_00001.m4s") {
				t.Fatalf("source %s playlist: %d\n%s", track, resp.StatusCode, pl)
			}
			for _, f := range []string{"init.mp4", "seg_00001.m4s"} {
				resp, seg := get(t, base+"source/"+track+"/"+f, nil)
				want := map[string]string{"video": "video/mp4", "audio": "audio/mp4"}[track]
				if resp.StatusCode != 200 || len(seg) == 0 || resp.Header.Get("Content-Type") != want ||
					!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
					t.Errorf("source %s/%s: %d, %d bytes, Content-Type %q, Cache-Control %q", track, f,
						resp.StatusCode, len(seg), resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
				}
			}
		}
		// The sources folder is never delivered as such.
		for _, p := range []string{"source/master.m3u8", "source/video/../../x", "source.mp4", "source/x/init.mp4"} {
			if resp, _ := get(t, base+p, nil); resp.StatusCode == 200 {
				t.Errorf("GET %s: 200", p)
			}
		}
		pb, err := b.Play(t, r.base+m.PlaybackURL, browsertest.PlayOptions{MinTime: 2})
		if err != nil {
			t.Fatalf("play the source rendition: %v", err)
		}
		if pb.VideoWidth != 1280 || pb.VideoHeight != 720 {
			t.Errorf("played %dx%d, want the 1280x720 source", pb.VideoWidth, pb.VideoHeight)
		}
		if _, cur := c.media(t, m.ID); cur.Status != hlsd.StatusProcessing && cur.Status != hlsd.StatusQueued {
			t.Fatalf("the transcode ended (%s) before the early playback was checked", cur.Status)
		}
	})

	t.Run("incompatible source", func(t *testing.T) {
		if mv, ok := masterOf(t, r.base+mpeg2.PlaybackURL); ok && hasSource(mv) {
			t.Errorf("MPEG-2 source listed as a source rendition")
		}
		if resp, _ := get(t, r.base+"/hls/"+mpeg2.ID+"/source/video/index.m3u8", nil); resp.StatusCode != 404 {
			t.Errorf("MPEG-2 source playlist: %d, want 404", resp.StatusCode)
		}
	})

	t.Run("signed", func(t *testing.T) {
		for _, p := range []string{"master.m3u8", "source/video/index.m3u8", "source/video/init.mp4", "source/audio/seg_00001.m4s"} {
			if resp, _ := get(t, r.base+"/hls/"+signed.ID+"/"+p, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("plain %s of a signed media: %d, want 403", p, resp.StatusCode)
			}
		}
		status, _, body := c.call(t, "POST", "/api/v1/media/"+signed.ID+"/playback-tokens", strings.NewReader(`{"ttl_seconds": 600}`),
			map[string]string{"Content-Type": "application/json"})
		var tok server.TokenObject
		if status != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
			t.Fatalf("playback token: %d %s", status, body)
		}
		mv, ok := masterOf(t, r.base+tok.PlaybackURL)
		if !ok || !hasSource(mv) {
			t.Fatalf("signed master: no source variant")
		}
		signedBase := r.base + strings.TrimSuffix(tok.PlaybackURL, "master.m3u8")
		resp, _ := get(t, signedBase+"source/video/init.mp4", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") {
			t.Errorf("signed source init: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		if _, err := b.Play(t, r.base+tok.PlaybackURL, browsertest.PlayOptions{MinTime: 1}); err != nil {
			t.Fatalf("play the signed source rendition: %v", err)
		}
	})

	t.Run("ladder", func(t *testing.T) {
		// While encoding, the planned master lists the source first.
		deadline := time.Now().Add(5 * time.Minute)
		for {
			_, cur := c.media(t, m.ID)
			if cur.Status == hlsd.StatusReady || cur.Status == hlsd.StatusFailed || time.Now().After(deadline) {
				t.Fatalf("media %s before its planned master was seen", cur.Status)
			}
			mv, ok := masterOf(t, r.base+m.PlaybackURL)
			if ok && len(mv.Variants) > 1 {
				if mv.Variants[0].URI != "source/video/index.m3u8" {
					t.Errorf("planned master: first variant %q, want the source", mv.Variants[0].URI)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		done := c.waitDone(t, m.ID)
		wantReady(t, done, hlsd.KindVideo, 30)
		mv, ok := masterOf(t, r.base+m.PlaybackURL)
		if !ok {
			t.Fatal("no master once ready")
		}
		// The top rung is 720p, as tall as the source: the source goes.
		if hasSource(mv) || mv.Variants[0].Height != 720 {
			t.Errorf("final master keeps the source or lacks the 720p rung: %+v", mv.Variants)
		}
		// A player that loaded the source-only master keeps playing it.
		if resp, _ := get(t, base+"source/video/seg_00002.m4s", nil); resp.StatusCode != 200 {
			t.Errorf("source segment once ready: %d", resp.StatusCode)
		}
		if done := c.waitDone(t, mpeg2.ID); done.Status != hlsd.StatusReady {
			t.Fatalf("MPEG-2 media %s: %s", done.Status, deref(done.Error))
		}
		if mv, ok := masterOf(t, r.base+mpeg2.PlaybackURL); !ok || hasSource(mv) {
			t.Errorf("MPEG-2 master once ready: %v, source listed %v", ok, ok && hasSource(mv))
		}
	})
}
