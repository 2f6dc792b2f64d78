package tags

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// File is what Probe learns about one audio file: its normalised tags and
// where its cover picture is, if it has one.
type File struct {
	// Tags are the normalised tags (see FromProbe).
	Tags map[string]string
	// Cover is the embedded picture, or nil when the file has none.
	Cover *Picture
}

// Picture is an attached picture stream (ID3v2 APIC, FLAC PICTURE, MP4
// covr): ffprobe reports it as a video stream with disposition attached_pic.
type Picture struct {
	// Index is the stream's index in the file, as ffmpeg's -map takes it.
	Index int
	// Codec is ffprobe's codec name (mjpeg, png...).
	Codec string
	// Width and Height are the picture's size in pixels.
	Width, Height int
}

// probeOutput is the part of ffprobe's JSON that Probe reads.
type probeOutput struct {
	Format struct {
		Tags map[string]string `json:"tags"`
	} `json:"format"`
	Streams []probeStream `json:"streams"`
}

type probeStream struct {
	Index       int               `json:"index"`
	CodecType   string            `json:"codec_type"`
	CodecName   string            `json:"codec_name"`
	Width       int               `json:"width"`
	Height      int               `json:"height"`
	Disposition map[string]int    `json:"disposition"`
	Tags        map[string]string `json:"tags"`
}

// ProbeArgs returns the ffprobe arguments Probe runs on path: format and
// stream entries as JSON. ffprobe's JSON writer replaces invalid UTF-8 with
// U+FFFD itself (its default string_validation).
func ProbeArgs(path string) []string {
	return []string{"-v", "error", "-hide_banner", "-show_format", "-show_streams",
		"-of", "json", "-i", "file:" + path}
}

// Probe runs ffprobe on path and returns its normalised tags and cover
// picture. ffprobe is the binary's path ("ffprobe" to look it up in PATH).
func Probe(ctx context.Context, ffprobe, path string) (File, error) {
	out, err := runProbe(ctx, ffprobe, path)
	if err != nil {
		return File{}, err
	}
	return Parse(out)
}

// runProbe runs ffprobe with ProbeArgs and returns its JSON output.
func runProbe(ctx context.Context, ffprobe, path string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ffprobe, ProbeArgs(path)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w: %s", filepath.Base(path), err, firstLine(stderr.String()))
	}
	return out, nil
}

// decode reads ffprobe's JSON output.
func decode(js []byte) (probeOutput, error) {
	var p probeOutput
	if err := json.Unmarshal(js, &p); err != nil {
		return p, fmt.Errorf("parse ffprobe output: %w", err)
	}
	return p, nil
}

// Parse reads ffprobe's JSON output (-show_format -show_streams -of json)
// and returns the normalised tags and cover picture it describes, so a
// caller that runs ffprobe already can reuse that output.
func Parse(js []byte) (File, error) {
	p, err := decode(js)
	if err != nil {
		return File{}, err
	}
	var streamTags map[string]string
	var f File
	for i := range p.Streams {
		s := &p.Streams[i]
		switch {
		case s.CodecType == "audio" && streamTags == nil:
			streamTags = s.Tags
		case s.CodecType == "video" && s.Disposition["attached_pic"] == 1 && f.Cover == nil:
			f.Cover = &Picture{Index: s.Index, Codec: s.CodecName, Width: s.Width, Height: s.Height}
		}
	}
	f.Tags = FromProbe(p.Format.Tags, streamTags)
	return f, nil
}

// MaxCoverPixels bounds the pictures Cover decodes: 36 megapixels, the
// limit hlsd applies to video frames, is far above any real cover (3000 x
// 3000 is 9) and keeps a decompression bomb from taking the memory.
const MaxCoverPixels = 36_000_000

// CoverSizes returns the sizes (longest side, pixels) hlsd writes a cover
// at: 600 for an album page, 300 for lists and lock screens.
func CoverSizes() []int { return []int{600, 300} }

// CoverName returns the file name Cover writes for size: "cover-600.jpg".
func CoverName(size int) string { return "cover-" + strconv.Itoa(size) + ".jpg" }

// CoverArgs returns the ffmpeg arguments that decode the picture stream
// index of src once and write it as a JPEG to outs[i] fitted within
// sizes[i] x sizes[i], keeping its aspect ratio and never upscaling.
func CoverArgs(src string, index int, sizes []int, outs []string) []string {
	args := []string{"-v", "error", "-hide_banner", "-nostdin", "-y", "-i", "file:" + src}
	var graph strings.Builder
	fmt.Fprintf(&graph, "[0:%d]split=%d", index, len(sizes))
	for i := range sizes {
		fmt.Fprintf(&graph, "[s%d]", i)
	}
	for i, size := range sizes {
		fmt.Fprintf(&graph, ";[s%d]scale=w='min(iw,%d)':h='min(ih,%d)':force_original_aspect_ratio=decrease,format=yuvj420p[o%d]", i, size, size, i)
	}
	args = append(args, "-filter_complex", graph.String())
	for i := range sizes {
		args = append(args, "-map", fmt.Sprintf("[o%d]", i), "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", "file:"+outs[i])
	}
	return args
}

// Cover extracts pic from src with ffmpeg into dir, one JPEG per size named
// by CoverName, and returns their paths. Each file is written under a
// temporary name and renamed into place, so a reader never sees half a
// picture and a failure leaves none. ffmpeg is the binary's path.
func Cover(ctx context.Context, ffmpeg, src string, pic Picture, dir string, sizes []int) ([]string, error) {
	if len(sizes) == 0 {
		return nil, errors.New("cover: no sizes")
	}
	if pic.Width <= 0 || pic.Height <= 0 || int64(pic.Width)*int64(pic.Height) > MaxCoverPixels {
		return nil, fmt.Errorf("cover: picture is %dx%d, over the %d pixel limit or empty", pic.Width, pic.Height, MaxCoverPixels)
	}
	tmps := make([]string, len(sizes))
	finals := make([]string, len(sizes))
	for i, size := range sizes {
		if size <= 0 || slices.Contains(sizes[:i], size) {
			return nil, fmt.Errorf("cover: size %d is not positive or repeated", size)
		}
		finals[i] = filepath.Join(dir, CoverName(size))
		tmps[i] = filepath.Join(dir, ".tmp-"+CoverName(size))
	}
	cleanup := func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	cmd := exec.CommandContext(ctx, ffmpeg, CoverArgs(src, pic.Index, sizes, tmps)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return nil, fmt.Errorf("cover %s: %w: %s", filepath.Base(src), err, firstLine(stderr.String()))
	}
	for i := range tmps {
		if st, err := os.Stat(tmps[i]); err != nil || st.Size() == 0 {
			cleanup()
			return nil, fmt.Errorf("cover %s: ffmpeg wrote no picture", filepath.Base(src))
		}
	}
	for i := range tmps {
		if err := os.Rename(tmps[i], finals[i]); err != nil {
			cleanup()
			return nil, fmt.Errorf("cover: %w", err)
		}
	}
	return finals, nil
}

// firstLine returns the first line of s, for one-line errors.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}
