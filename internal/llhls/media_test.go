package llhls

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// The test clip: 30 fps H.264 with a keyframe every 15 frames (0.5 s), no
// B-frames (so decode order is presentation order), and 48 kHz stereo AAC.
const (
	clipFPS  = 30
	clipGOP  = 15
	clipRate = 48000
)

// accessUnit is one H.264 access unit as an ingest would hand it over.
type accessUnit struct {
	dts   time.Duration
	key   bool
	nalus [][]byte
}

// clip is a demuxed lavfi clip: the real access units the muxer is fed.
type clip struct {
	sps, pps []byte
	video    []accessUnit
	asc      []byte
	audio    [][]byte // raw AAC frames, 1024 samples each
}

// ffmpegOut runs ffmpeg with args, writing out.
func ffmpegOut(args ...string) func(tmp string) error {
	return func(tmp string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ffmpeg", append(append([]string{"-v", "error", "-y", "-nostdin"}, args...), tmp)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ffmpeg: %v: %s", err, out)
		}
		return nil
	}
}

// loadClip generates (once, cached) and demuxes a clip of secs seconds:
// raw Annex B H.264 with access unit delimiters, and ADTS AAC.
func loadClip(t testing.TB, secs int) *clip {
	t.Helper()
	key := fmt.Sprintf("llhls-v1-%ds", secs)
	h264 := testmedia.Cached(t, "llhls", key, "video.h264", ffmpegOut(
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=%d:duration=%d", clipFPS, secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", fmt.Sprint(clipGOP), "-keyint_min", fmt.Sprint(clipGOP),
		"-sc_threshold", "0", "-x264-params", "aud=1", "-pix_fmt", "yuv420p", "-f", "h264"))
	adts := testmedia.Cached(t, "llhls", key, "audio.aac", ffmpegOut(
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d:duration=%d", clipRate, secs),
		"-c:a", "aac", "-ac", "2", "-b:a", "96k", "-f", "adts"))
	c := &clip{}
	vb, err := os.ReadFile(h264)
	if err != nil {
		t.Fatal(err)
	}
	var cur *accessUnit
	for _, n := range avc.ExtractNalusFromByteStream(vb) {
		switch avc.GetNaluType(n[0]) {
		case avc.NALU_AUD:
			c.video = append(c.video, accessUnit{dts: time.Duration(len(c.video)) * time.Second / clipFPS})
			cur = &c.video[len(c.video)-1]
		case avc.NALU_SPS:
			c.sps = n
		case avc.NALU_PPS:
			c.pps = n
		case avc.NALU_IDR:
			cur.key = true
		}
		if cur != nil {
			cur.nalus = append(cur.nalus, n)
		}
	}
	ab, err := os.ReadFile(adts)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(ab); {
		h, skip, err := aac.DecodeADTSHeader(bytes.NewReader(ab[off:]))
		if err != nil {
			t.Fatalf("ADTS at %d: %v", off, err)
		}
		if c.asc == nil {
			if c.asc, err = AudioConfigFromADTS(ab[off:]); err != nil {
				t.Fatal(err)
			}
		}
		start := off + skip + int(h.HeaderLength)
		end := start + int(h.PayloadLength)
		c.audio = append(c.audio, ab[start:end])
		off = end
	}
	if c.sps == nil || c.pps == nil || len(c.video) != secs*clipFPS || !c.video[0].key || len(c.audio) == 0 {
		t.Fatalf("demuxed clip: sps %v pps %v, %d video, %d audio access units", c.sps != nil, c.pps != nil, len(c.video), len(c.audio))
	}
	return c
}

// tracks is the session description for the clip, video and/or audio.
func (c *clip) tracks(video, audio bool) Tracks {
	var t Tracks
	if video {
		t.Video = &Video{SPS: c.sps, PPS: c.pps}
	}
	if audio {
		t.Audio = &Audio{Config: c.asc}
	}
	return t
}

// event is one access unit of either track, in the order a publisher sends.
type event struct {
	ts    time.Duration
	video *accessUnit
	audio []byte
}

// events interleaves the clip's access units by timestamp, video before
// audio at equal times, as an RTMP or MPEG-TS demuxer hands them over.
func (c *clip) events(video, audio bool) []event {
	var ev []event
	if video {
		for i := range c.video {
			ev = append(ev, event{ts: c.video[i].dts, video: &c.video[i]})
		}
	}
	if audio {
		for i, f := range c.audio {
			ev = append(ev, event{ts: time.Duration(i) * aacFrameSamples * time.Second / clipRate, audio: f})
		}
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].ts < ev[j].ts })
	return ev
}

// feed writes events to m, failing the test on an error.
func feed(t *testing.T, m *Muxer, ev []event) {
	t.Helper()
	for _, e := range ev {
		var err error
		if e.video != nil {
			err = m.WriteVideo(e.video.dts, e.video.dts, e.video.key, e.video.nalus)
		} else {
			err = m.WriteAudio(e.ts, e.audio)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
