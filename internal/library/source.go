package library

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hlsd/hlsd/internal/hls"
	"github.com/hlsd/hlsd/internal/ingest"
	"github.com/hlsd/hlsd/internal/mp4"
)

// SourcePrefix is the folder of a presentation under which the server
// packages the source file on the fly (/hls/{id}/source/video/index.m3u8):
// it never exists on disk.
const SourcePrefix = "source/"

// sourceVariant parses the source at path with internal/mp4 and returns
// its rendition when every browser can play it as is: H.264 video with
// AAC audio or none. HEVC is left out (Debian's Chromium, among others,
// cannot decode it), and so is anything mp4 cannot parse (MPEG-2, MKV,
// ...). It returns nil, nil for an incompatible source; the ladder is then
// the only way to play it, as before.
func sourceVariant(path string, keep bool) (*ingest.SourceVariant, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".mp4", ".m4v", ".mov":
	default:
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat source: %w", err)
	}
	x, err := mp4.Parse(f, fi.Size(), filepath.Base(path), mp4.Options{})
	if err != nil {
		return nil, nil // not an MP4 the packager serves: transcode only
	}
	var video, audio *mp4.Track
	for _, t := range x.Tracks {
		switch {
		case t.Video && video == nil:
			video = t
		case !t.Video && audio == nil:
			audio = t
		}
	}
	if video == nil || !strings.HasPrefix(video.Codec, "avc1.") && !strings.HasPrefix(video.Codec, "avc3.") {
		return nil, nil
	}
	if audio != nil && !strings.HasPrefix(audio.Codec, "mp4a.40.") {
		return nil, nil // MP3, AC-3, ...: not in every browser's MSE
	}
	sv := &ingest.SourceVariant{
		Variant: hls.Variant{
			URI:       SourcePrefix + video.Name + "/" + mp4.PlaylistName,
			Bandwidth: video.Bandwidth, AverageBandwidth: video.AverageBandwidth,
			Codecs: video.Codec, Width: video.Width, Height: video.Height,
			FrameRate: float64(int(video.FrameRate*1000+0.5)) / 1000,
		},
		Keep: keep,
	}
	if audio != nil {
		ch := ""
		if audio.Channels > 0 {
			ch = fmt.Sprint(audio.Channels)
		}
		sv.Alternative = &hls.Alternative{
			Type: "AUDIO", GroupID: ingest.SourceGroup, Name: "source", Default: true, Autoselect: true,
			Channels: ch, URI: SourcePrefix + audio.Name + "/" + mp4.PlaylistName,
		}
		sv.Variant.Bandwidth += audio.Bandwidth
		sv.Variant.AverageBandwidth += audio.AverageBandwidth
		sv.Variant.Codecs += "," + audio.Codec
		sv.Variant.Audio = ingest.SourceGroup
	}
	return sv, nil
}

// publishSource writes the source-only multivariant playlist of media id,
// so that it plays at once while the ladder encodes. Encrypted media get
// no source rendition: its segments would be sent in the clear, next to a
// ladder that is AES-128 encrypted. It returns the variant (nil when the
// source cannot be served as is) for the transcode to keep listing.
func (l *Library) publishSource(id, src string, encrypted bool) (*ingest.SourceVariant, error) {
	if encrypted {
		return nil, nil
	}
	sv, err := sourceVariant(src, !l.cfg.DropSourceRendition)
	if err != nil || sv == nil {
		return nil, err
	}
	if err := ingest.WriteSourceMaster(l.layout.MediaDir(id), sv); err != nil {
		return nil, err
	}
	return sv, nil
}
