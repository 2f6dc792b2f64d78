// Package ingesttest checks HLS presentations the way a careful user would:
// every playlist parses with our own parser, every segment exists, every
// rendition lasts as long as the source, keyframes start every segment at
// the same times in every video rendition (read with ffprobe), and ffmpeg
// decodes the whole presentation from master.m3u8 without an error. The
// ingest, server and library tests share it.
package ingesttest

import (
	"github.com/Eyevinn/mp4ff/mp4"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/internal/hls"
)

// MaxDurationGap is how far a rendition's duration may be from the source's.
const MaxDurationGap = 0.5

// Presentation is a parsed presentation.
type Presentation struct {
	Dir    string
	Master *hls.Multivariant
	// Media holds each media playlist by its URI relative to Dir (e.g. "720p/index.m3u8").
	Media map[string]*hls.Media
}

// Video returns the variants that carry video (those with a RESOLUTION).
func (p *Presentation) Video() []hls.Variant {
	var out []hls.Variant
	for _, v := range p.Master.Variants {
		if v.Width > 0 {
			out = append(out, v)
		}
	}
	return out
}

// Check parses and checks the presentation in dir against the source's
// duration in seconds, failing tb on the first problem, and returns it.
func Check(tb testing.TB, dir string, sourceDuration float64) *Presentation {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		tb.Fatalf("read master playlist: %v", err)
	}
	master, err := hls.ParseMultivariant(data)
	if err != nil {
		tb.Fatalf("parse master.m3u8: %v\n%s", err, data)
	}
	p := &Presentation{Dir: dir, Master: master, Media: map[string]*hls.Media{}}
	if !master.IndependentSegments {
		tb.Errorf("master.m3u8 lacks EXT-X-INDEPENDENT-SEGMENTS")
	}
	if len(master.Variants) == 0 {
		tb.Fatalf("master.m3u8 has no variants")
	}
	uris := []string{}
	for i, v := range master.Variants {
		if v.Bandwidth <= 0 || v.AverageBandwidth <= 0 || v.AverageBandwidth > v.Bandwidth {
			tb.Errorf("variant %s: BANDWIDTH=%d AVERAGE-BANDWIDTH=%d, want 0 < average <= peak", v.URI, v.Bandwidth, v.AverageBandwidth)
		}
		if v.Codecs == "" {
			tb.Errorf("variant %s has no CODECS", v.URI)
		}
		if strings.Contains(v.Codecs, "avc1.") && (v.Width == 0 || v.FrameRate == 0) {
			tb.Errorf("video variant %s lacks RESOLUTION or FRAME-RATE", v.URI)
		}
		if i > 0 && v.Bandwidth > master.Variants[i-1].Bandwidth {
			tb.Errorf("variant %s (BANDWIDTH %d) after a lower one: want highest first", v.URI, v.Bandwidth)
		}
		uris = append(uris, v.URI)
	}
	for _, a := range master.Alternatives {
		if a.URI != "" {
			uris = append(uris, a.URI)
		}
	}
	for _, uri := range uris {
		if _, ok := p.Media[uri]; ok {
			continue
		}
		m := checkMedia(tb, dir, uri, sourceDuration)
		p.Media[uri] = m
	}
	// Every video rendition has the same segment timeline.
	var ref *hls.Media
	var refURI string
	for _, v := range p.Video() {
		m := p.Media[v.URI]
		if ref == nil {
			ref, refURI = m, v.URI
			continue
		}
		if len(m.Segments) != len(ref.Segments) {
			tb.Errorf("%s has %d segments, %s %d: want the same timeline", v.URI, len(m.Segments), refURI, len(ref.Segments))
			continue
		}
		var a, b float64
		for i := range m.Segments {
			a += m.Segments[i].Duration
			b += ref.Segments[i].Duration
			if math.Abs(a-b) > 0.02 {
				tb.Errorf("segment %d ends at %.3fs in %s but %.3fs in %s", i+1, a, v.URI, b, refURI)
				break
			}
		}
	}
	return p
}

func checkMedia(tb testing.TB, dir, uri string, sourceDuration float64) *hls.Media {
	tb.Helper()
	file := filepath.Join(dir, filepath.FromSlash(uri))
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatalf("read %s: %v", uri, err)
	}
	m, err := hls.ParseMedia(data)
	if err != nil {
		tb.Fatalf("parse %s: %v\n%s", uri, err, data)
	}
	if m.PlaylistType != hls.TypeVOD || !m.EndList {
		tb.Errorf("%s: PLAYLIST-TYPE %q, ENDLIST %v; want VOD with ENDLIST", uri, m.PlaylistType, m.EndList)
	}
	if len(m.Segments) == 0 {
		tb.Fatalf("%s has no segments", uri)
	}
	sdir := filepath.Dir(file)
	if m.Map != nil {
		mustNonEmpty(tb, filepath.Join(sdir, m.Map.URI))
	}
	for _, s := range m.Segments {
		if r := int(math.Round(s.Duration)); r > m.TargetDuration {
			tb.Errorf("%s: EXTINF %.3f rounds to %d > TARGETDURATION %d", uri, s.Duration, r, m.TargetDuration)
		}
		mustNonEmpty(tb, filepath.Join(sdir, s.URI))
	}
	if d := m.Duration(); math.Abs(d-sourceDuration) > MaxDurationGap {
		tb.Errorf("%s lasts %.3fs, source %.3fs: want within %.1fs", uri, d, sourceDuration, MaxDurationGap)
	}
	return m
}

func mustNonEmpty(tb testing.TB, file string) {
	tb.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		tb.Errorf("missing file: %v", err)
	} else if fi.Size() == 0 {
		tb.Errorf("empty file %s", file)
	}
}

// CheckKeyframes checks with ffprobe that the first video packet of every
// segment of every video rendition is a keyframe, at the same time in all
// renditions, so a player can switch at any segment.
func CheckKeyframes(tb testing.TB, p *Presentation) {
	tb.Helper()
	var firstURI string
	var first []float64
	tmp := tb.TempDir()
	for _, v := range p.Video() {
		m := p.Media[v.URI]
		dir := filepath.Join(p.Dir, filepath.FromSlash(path.Dir(v.URI)))
		var init []byte
		if m.Map != nil {
			var err error
			if init, err = os.ReadFile(filepath.Join(dir, m.Map.URI)); err != nil {
				tb.Fatal(err)
			}
		}
		var times []float64
		for _, s := range m.Segments {
			seg, err := os.ReadFile(filepath.Join(dir, s.URI))
			if err != nil {
				tb.Fatal(err)
			}
			f := filepath.Join(tmp, "probe"+filepath.Ext(s.URI))
			if m.Map != nil {
				f = filepath.Join(tmp, "probe.mp4")
			}
			if err := os.WriteFile(f, append(append([]byte{}, init...), seg...), 0o644); err != nil {
				tb.Fatal(err)
			}
			var pts float64
			var key bool
			if m.Map != nil {
				pts, key = firstSampleFMP4(tb, f)
			} else {
				pts, key = firstPacket(tb, f)
			}
			if !key {
				tb.Errorf("%s %s: first video packet (pts %.3f) is not a keyframe", v.URI, s.URI, pts)
			}
			times = append(times, pts)
		}
		if first == nil {
			first, firstURI = times, v.URI
			continue
		}
		for i := range min(len(times), len(first)) {
			if math.Abs(times[i]-first[i]) > 0.002 {
				tb.Errorf("segment %d starts at %.3fs in %s but %.3fs in %s", i+1, times[i], v.URI, first[i], firstURI)
			}
		}
	}
}

// firstPacket returns the time and keyframe flag of a file's first video packet.
// firstSampleFMP4 returns the presentation time (tfdt plus the composition
// offset, as a browser's MSE computes it) and sync flag of the first sample
// of a file made of an init segment and one media segment. ffprobe is not
// used for fMP4: its mov demuxer shifts the times of trun-version-1
// negative composition offsets by the largest offset it has seen, which
// differs from segment to segment.
func firstSampleFMP4(tb testing.TB, file string) (float64, bool) {
	tb.Helper()
	fh, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	f, err := mp4.DecodeFile(fh)
	if err != nil {
		tb.Fatalf("decode %s: %v", file, err)
	}
	if f.Init == nil || len(f.Segments) == 0 || len(f.Segments[0].Fragments) == 0 {
		tb.Fatalf("%s: no init segment or no fragment", file)
	}
	trak := f.Init.Moov.Trak
	var trex *mp4.TrexBox
	if f.Init.Moov.Mvex != nil {
		trex = f.Init.Moov.Mvex.Trex
	}
	samples, err := f.Segments[0].Fragments[0].GetFullSamples(trex)
	if err != nil || len(samples) == 0 {
		tb.Fatalf("%s: no samples: %v", file, err)
	}
	scale := float64(trak.Mdia.Mdhd.Timescale)
	return float64(samples[0].PresentationTime()) / scale, samples[0].IsSync()
}

func firstPacket(tb testing.TB, file string) (float64, bool) {
	tb.Helper()
	out := run(tb, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
		"-of", "csv=p=0", "-read_intervals", "%+#1", file)
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	ts, flags, ok := strings.Cut(line, ",")
	if !ok {
		tb.Fatalf("ffprobe %s: no packet in %q", file, out)
	}
	pts, err := strconv.ParseFloat(ts, 64)
	if err != nil {
		tb.Fatalf("ffprobe %s: pts %q: %v", file, ts, err)
	}
	return pts, strings.Contains(flags, "K")
}

// Decode has ffmpeg read the presentation from master.m3u8 and decode it to
// nothing; it must exit 0 without a single error line.
func Decode(tb testing.TB, dir string) {
	tb.Helper()
	out := run(tb, "ffmpeg", "-nostdin", "-v", "error", "-i", filepath.Join(dir, "master.m3u8"), "-f", "null", "-")
	if strings.TrimSpace(out) != "" {
		tb.Errorf("ffmpeg decoding %s/master.m3u8 reported errors:\n%s", dir, out)
	}
}

// StreamInfo returns ffprobe's width, height and codec of the first video
// stream in a rendition, reading its playlist.
func StreamInfo(tb testing.TB, playlist string) (w, h int, codec string) {
	tb.Helper()
	out := run(tb, "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,codec_name",
		"-of", "csv=p=0", playlist)
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	f := strings.Split(strings.TrimSpace(line), ",")
	if len(f) < 3 {
		tb.Fatalf("ffprobe %s: %q", playlist, out)
	}
	w, _ = strconv.Atoi(f[1])
	h, _ = strconv.Atoi(f[2])
	return w, h, f[0]
}

// StreamTypes returns ffprobe's codec type of every stream in a file or a
// rendition's playlist, in order, e.g. ["video", "audio"] for a TS
// rendition that carries its sound.
func StreamTypes(tb testing.TB, file string) []string {
	tb.Helper()
	out := run(tb, "ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", file)
	// JSON: the csv writer would list a TS program's streams twice.
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(out), &probe); err != nil {
		tb.Fatalf("ffprobe %s: %v\n%s", file, err, out)
	}
	var types []string
	for _, s := range probe.Streams {
		types = append(types, s.CodecType)
	}
	return types
}

// run runs a tool with a time limit and returns its combined output,
// failing tb when it cannot run or exits non-zero.
func run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Fatalf("%s not found: install the Debian package ffmpeg (or run the README's test command)", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, buf.String())
	}
	return buf.String()
}

// Entries returns the names in dir, for checks that nothing was left behind.
func Entries(tb testing.TB, dir string) []string {
	tb.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// String describes a presentation briefly, for test logs.
func (p *Presentation) String() string {
	var b strings.Builder
	for _, v := range p.Master.Variants {
		fmt.Fprintf(&b, "%s %dx%d %d/%d %s; ", v.URI, v.Width, v.Height, v.Bandwidth, v.AverageBandwidth, v.Codecs)
	}
	return b.String()
}
