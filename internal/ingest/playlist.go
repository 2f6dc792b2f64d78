package ingest

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/hls"
)

// maxDurationGap is how far a rendition's total duration may be from the
// source's before the presentation is refused.
const maxDurationGap = 0.5

// measured is one rendition as produced: its rewritten playlist and what
// was measured from its files.
type measured struct {
	hlsd.Rendition
	media *hls.Media
}

// finish measures and checks every rendition ffmpeg wrote into work and
// rewrites its playlist as VOD with ENDLIST. Any missing or empty segment,
// unreadable playlist or duration off from the source's is an error.
// key, when set, is the AES-128 key of an encrypted presentation: every
// segment must then be encrypted, and the first is decrypted to read its
// codecs.
func finish(work string, j *ffmpeg.Job, sourceDuration float64, key []byte) ([]measured, error) {
	var out []measured
	for _, v := range j.Video {
		m, err := measure(filepath.Join(work, v.Name), j, key)
		if err != nil {
			return nil, err
		}
		m.Name, m.Kind, m.Width, m.Height, m.FrameRate = v.Name, hlsd.KindVideo, v.Width, v.Height, roundFPS(j.FPS)
		out = append(out, *m)
	}
	for _, a := range j.Audio {
		m, err := measure(filepath.Join(work, a.Name), j, key)
		if err != nil {
			return nil, err
		}
		m.Name, m.Kind = a.Name, hlsd.KindAudio
		out = append(out, *m)
	}
	for _, m := range out {
		if sourceDuration > 0 && math.Abs(m.Duration-sourceDuration) > maxDurationGap {
			return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "rendition %s lasts %.2fs but the source %.2fs: the source is probably damaged", m.Name, m.Duration, sourceDuration)
		}
	}
	for _, m := range out {
		data, err := m.media.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("write %s playlist: %w", m.Name, err)
		}
		if err := writeFileAtomic(filepath.Join(work, m.Name, ffmpeg.PlaylistName), data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func roundFPS(f float64) float64 { return math.Round(f*1000) / 1000 }

// measure reads one rendition folder: ffmpeg's playlist, every segment's
// size, and the codec string from the init segment (fMP4) or the first
// segment (TS).
func measure(dir string, j *ffmpeg.Job, key []byte) (*measured, error) {
	name := filepath.Base(dir)
	data, err := os.ReadFile(filepath.Join(dir, ffmpeg.PlaylistName))
	if err != nil {
		return nil, fmt.Errorf("rendition %s: %w", name, err)
	}
	media, err := hls.ParseMedia(data)
	if err != nil {
		return nil, fmt.Errorf("rendition %s: parse ffmpeg's playlist: %w", name, err)
	}
	if len(media.Segments) == 0 {
		return nil, hlsd.Errorf(hlsd.EUNSUPPORTED, "rendition %s has no segments", name)
	}
	m := &measured{media: media}
	var sizes []int64
	var durs []float64
	for _, s := range media.Segments {
		if strings.ContainsAny(s.URI, "/\\") || s.URI == ".." {
			return nil, fmt.Errorf("rendition %s: unexpected segment URI %q", name, s.URI)
		}
		fi, err := os.Stat(filepath.Join(dir, s.URI))
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", name, err)
		}
		if fi.Size() == 0 {
			return nil, fmt.Errorf("rendition %s: segment %s is empty", name, s.URI)
		}
		sizes = append(sizes, fi.Size())
		durs = append(durs, s.Duration)
		m.Bytes += fi.Size()
		m.Duration += s.Duration
	}
	m.Segments = len(media.Segments)
	var codecs []string
	if j.Format == ffmpeg.FormatTS {
		first, err := os.ReadFile(filepath.Join(dir, media.Segments[0].URI))
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", name, err)
		}
		if key != nil {
			if first, err = decryptFirst(media, first, key); err != nil {
				return nil, fmt.Errorf("rendition %s: %w", name, err)
			}
		}
		codecs, err = TSCodecs(first)
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %s: %w", name, media.Segments[0].URI, err)
		}
		if j.MuxedAudio != nil && j.Kind == hlsd.KindVideo && !hasCodecs(codecs, "avc1.", "mp4a.") {
			// A player told only one codec would drop the other track.
			return nil, fmt.Errorf("rendition %s: %s: found codecs %q, want H.264 video and AAC audio", name, media.Segments[0].URI, codecs)
		}
	} else {
		if media.Map == nil || media.Map.URI != ffmpeg.InitName {
			return nil, fmt.Errorf("rendition %s: playlist has no EXT-X-MAP for %s", name, ffmpeg.InitName)
		}
		init, err := os.ReadFile(filepath.Join(dir, ffmpeg.InitName))
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", name, err)
		}
		m.Bytes += int64(len(init))
		codecs, err = MP4Codecs(init)
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %s: %w", name, ffmpeg.InitName, err)
		}
	}
	m.Codecs = strings.Join(codecs, ",")
	m.Bandwidth = peakBandwidth(sizes, durs, j.Segment.Seconds())
	if m.Duration > 0 {
		// Over media segments only, like the peak, so it never exceeds it;
		// the init segment is loaded once and counts in Bytes.
		var segBytes int64
		for _, n := range sizes {
			segBytes += n
		}
		m.AverageBandwidth = int(math.Ceil(float64(segBytes) * 8 / m.Duration))
	}
	media.PlaylistType = hls.TypeVOD
	media.EndList = true
	media.IndependentSegments = true
	media.Version = 0
	media.TargetDuration = 0
	return m, nil
}

// hasCodecs reports whether codecs holds a string with each of the prefixes.
func hasCodecs(codecs []string, prefixes ...string) bool {
	for _, p := range prefixes {
		if !slices.ContainsFunc(codecs, func(c string) bool { return strings.HasPrefix(c, p) }) {
			return false
		}
	}
	return true
}

// peakBandwidth is the highest bit rate of any segment (HLS BANDWIDTH). A
// segment shorter than half the target (the last one, usually) is counted
// together with the one before it: a lone keyframe in a 0.03 s tail would
// otherwise claim a peak no player ever needs.
func peakBandwidth(sizes []int64, durs []float64, target float64) int {
	var peak float64
	for i := range sizes {
		bits, d := float64(sizes[i])*8, durs[i]
		if d < target/2 && i > 0 {
			bits += float64(sizes[i-1]) * 8
			d += durs[i-1]
		}
		if d <= 0 {
			continue
		}
		peak = max(peak, bits/d)
	}
	return int(math.Ceil(peak))
}

// measuredMaster is the multivariant playlist of the produced renditions:
// video variants (bandwidths summed with the audio they play with) and the
// audio as an EXT-X-MEDIA group (fMP4), video variants that carry their
// audio with no group (TS: bandwidths and codecs are the muxed segments'),
// or one variant per audio rendition for an audio-only source; highest
// bandwidth first. The source variant src, when set, comes first when
// keepSource says it stays.
func measuredMaster(j *ffmpeg.Job, rends []measured, src *SourceVariant) ([]byte, error) {
	p := &hls.Multivariant{IndependentSegments: true}
	var audio *measured
	for i := range rends {
		if rends[i].Kind == hlsd.KindAudio && j.Kind == hlsd.KindVideo {
			audio = &rends[i]
		}
	}
	if audio != nil {
		p.Alternatives = append(p.Alternatives, audioAlternative(audio.Name))
	}
	for _, r := range rends {
		uri := r.Name + "/" + ffmpeg.PlaylistName
		switch {
		case r.Kind == hlsd.KindVideo:
			v := hls.Variant{
				URI: uri, Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth, Codecs: r.Codecs,
				Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
			}
			if audio != nil {
				v.Bandwidth += audio.Bandwidth
				v.AverageBandwidth += audio.AverageBandwidth
				v.Codecs += "," + audio.Codecs
				v.Audio = audioGroup
			}
			p.Variants = append(p.Variants, v)
		case j.Kind == hlsd.KindAudio:
			p.Variants = append(p.Variants, hls.Variant{URI: uri, Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth, Codecs: r.Codecs})
		}
	}
	if len(p.Variants) == 0 {
		return nil, errors.New("no variants")
	}
	sortVariants(p.Variants)
	var heights []int
	for _, r := range rends {
		if r.Kind == hlsd.KindVideo {
			heights = append(heights, r.Height)
		}
	}
	if j.Kind == hlsd.KindVideo && keepSource(src, heights) {
		src.prepend(p)
	}
	return p.MarshalText()
}

const audioGroup = "audio"

func audioAlternative(name string) hls.Alternative {
	return hls.Alternative{
		Type: "AUDIO", GroupID: audioGroup, Name: "default", Default: true, Autoselect: true,
		Channels: "2", URI: name + "/" + ffmpeg.PlaylistName,
	}
}

func sortVariants(v []hls.Variant) {
	slices.SortStableFunc(v, func(a, b hls.Variant) int { return cmp.Compare(b.Bandwidth, a.Bandwidth) })
}

// plannedMaster is the multivariant playlist written before encoding in
// progressive mode, in the shape of the measured one (audio group for
// fMP4, audio muxed into the variants for TS): bandwidths estimated from
// the planned bitrate ceilings and codec strings from the planned profile
// and level. The source variant src, when set, is listed first: the
// planned master replaces the source-only one and must keep playing it.
// It is replaced by the measured one at the end.
func plannedMaster(j *ffmpeg.Job, src *SourceVariant) ([]byte, error) {
	p := &hls.Multivariant{IndependentSegments: true}
	var audioRate int
	var group string
	switch {
	case j.Kind == hlsd.KindVideo && j.MuxedAudio != nil:
		audioRate = j.MuxedAudio.Bitrate * 11 / 10
	case j.Kind == hlsd.KindVideo && len(j.Audio) > 0:
		a := j.Audio[0]
		audioRate = a.Bitrate * 11 / 10
		group = audioGroup
		p.Alternatives = append(p.Alternatives, audioAlternative(a.Name))
	}
	for _, v := range j.Video {
		vr := hls.Variant{
			URI: v.Name + "/" + ffmpeg.PlaylistName, Bandwidth: v.MaxRate*11/10 + audioRate,
			Codecs: v.Codecs(), Width: v.Width, Height: v.Height, FrameRate: roundFPS(j.FPS), Audio: group,
		}
		if audioRate > 0 {
			vr.Codecs += "," + ffmpeg.AudioCodecs
		}
		p.Variants = append(p.Variants, vr)
	}
	if j.Kind == hlsd.KindAudio {
		for _, a := range j.Audio {
			p.Variants = append(p.Variants, hls.Variant{
				URI: a.Name + "/" + ffmpeg.PlaylistName, Bandwidth: a.Bitrate * 11 / 10, Codecs: ffmpeg.AudioCodecs,
			})
		}
	}
	sortVariants(p.Variants)
	if src != nil && j.Kind == hlsd.KindVideo {
		src.prepend(p)
	}
	return p.MarshalText()
}
