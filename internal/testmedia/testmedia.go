// Package testmedia makes the media files tests run against. Fixtures are
// generated on first use with real ffmpeg lavfi sources and cached under
// testdata/.cache at the repository root, so no media binary is committed and
// every test sees the same real files.
//
// Several test binaries (go test runs packages in parallel) may ask for the
// same fixture at once: each fixture has its own lock file held with flock,
// and the file is written to a temporary name and renamed into place, so a
// reader never sees a half-written fixture.
package testmedia

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// version is part of every fixture's cache key; bump it when the generation
// code (not a recipe's arguments, which are hashed anyway) changes.
const version = "testmedia-1"

// genTimeout bounds one fixture's generation, so a wedged ffmpeg fails the
// test instead of hanging it.
const genTimeout = 3 * time.Minute

type recipe struct {
	// args are ffmpeg arguments (inputs, codecs and -f); the output path is appended.
	args []string
	// text is the whole content of a non-media fixture (used when args is nil).
	text string
	// keep, when non-zero, truncates ffmpeg's output to this fraction of its bytes.
	keep float64
	// fix edits ffmpeg's output in place for what ffmpeg 5.1 cannot write directly.
	fix func(b []byte) error
	// join, when set, lists the ffmpeg arguments (inputs and codecs) of
	// parts encoded apart, to MPEG-TS, and joined without re-encoding
	// (concat demuxer) before args muxes them: one stream whose parameters,
	// such as the frame size, change between parts.
	join [][]string
}

// lavfi returns the arguments for a lavfi input.
func lavfi(graph string) []string { return []string{"-f", "lavfi", "-i", graph} }

func testsrc(w, h, fps int, secs float64) []string {
	return lavfi(fmt.Sprintf("testsrc2=size=%dx%d:rate=%d:duration=%g", w, h, fps, secs))
}

func sine(freq, rate int, secs float64) []string {
	return lavfi(fmt.Sprintf("sine=frequency=%d:sample_rate=%d:duration=%g", freq, rate, secs))
}

func cat(parts ...[]string) []string { return slices.Concat(parts...) }

// h264 is a cheap H.264 encode; 8x8dct makes x264 signal the High profile
// that real camera and web files use, at ultrafast speed.
var h264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "high", "-x264-params", "8x8dct=1", "-pix_fmt", "yuv420p"}

var aacStereo = []string{"-c:a", "aac", "-ac", "2", "-b:a", "128k"}

// avClip is an H.264 + AAC stereo mp4 of the given size, rate and length.
// faststart puts the moov box first; without it ffmpeg writes it at the end.
func avClip(w, h, fps int, secs float64, faststart bool) []string {
	args := cat(testsrc(w, h, fps, secs), sine(440, 48000, secs), h264, aacStereo)
	if faststart {
		args = append(args, "-movflags", "+faststart")
	}
	return append(args, "-f", "mp4")
}

func recipes() map[string]recipe {
	return map[string]recipe{
		"video-1080p.mp4":     {args: avClip(1920, 1080, 30, 8, true)},
		"video-720p-long.mp4": {args: avClip(1280, 720, 30, 30, true)},
		"short.mp4":           {args: avClip(320, 240, 30, 2, true)},
		"rotated.mp4":         {args: avClip(640, 360, 30, 4, true), fix: rotate90},
		"noaudio.mp4":         {args: cat(testsrc(640, 360, 30, 4), h264, []string{"-an", "-movflags", "+faststart", "-f", "mp4"})},
		"60fps-over.mp4":      {args: avClip(320, 180, 120, 2, true)},
		"mpeg2-720x405.mpg": {
			args: cat(testsrc(720, 405, 25, 5), []string{"-c:v", "mpeg2video", "-q:v", "4", "-an", "-f", "vob"}),
			fix:  mpeg2Height(404, 405),
		},
		"cover.mp3": {args: cat(sine(523, 44100, 6), lavfi("testsrc2=size=320x320:rate=1:duration=1"), []string{
			"-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-ac", "2", "-b:a", "128k",
			"-c:v", "mjpeg", "-frames:v", "1", "-disposition:v:0", "attached_pic",
			"-id3v2_version", "3", "-metadata", "title=Tone", "-metadata", "artist=hlsd tests",
			"-metadata:s:v", "title=Album cover", "-metadata:s:v", "comment=Cover (front)", "-f", "mp3"})},
		// Media a fraction of a second long: ffmpeg writes
		// EXT-X-TARGETDURATION:0 for them, and a poster seek can pass
		// their only frame.
		"tiny.mp4":       {args: avClip(320, 240, 30, 0.2, true)},
		"one-frame.mp4":  {args: cat(testsrc(320, 240, 25, 1), h264, []string{"-frames:v", "1", "-an", "-movflags", "+faststart", "-f", "mp4"})},
		"one-sample.wav": {args: cat(lavfi("sine=frequency=440:sample_rate=44100"), []string{"-af", "atrim=end_sample=1", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav"})},
		// 320x240 for a second, then frames of 9000x4500 (over the 36
		// megapixel limit) that the probe, reading the start, never sees.
		"size-jump.ts": {
			join: [][]string{
				cat(testsrc(320, 240, 10, 1), h264),
				cat(lavfi("color=c=red:size=9000x4500:rate=10:duration=0.2"), h264),
			},
			args: []string{"-c", "copy", "-f", "mpegts"},
		},
		"tone.flac": {args: cat(sine(330, 44100, 6), []string{"-ac", "2", "-c:a", "flac", "-f", "flac"})},
		"tone.ogg":  {args: cat(sine(392, 44100, 6), []string{"-ac", "2", "-c:a", "libvorbis", "-q:a", "3", "-f", "ogg"})},
		"tone.opus": {args: cat(sine(494, 48000, 6), []string{"-ac", "2", "-c:a", "libopus", "-b:a", "96k", "-f", "ogg"})},
		"tone.wav":  {args: cat(sine(587, 44100, 6), []string{"-ac", "1", "-c:a", "pcm_s16le", "-f", "wav"})},
		"tone.m4a":  {args: cat(sine(659, 44100, 6), []string{"-ac", "2", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "ipod"})},
		// A progressive mp4 keeps its moov at the end: 40% of it has none.
		"truncated.mp4": {args: avClip(640, 360, 30, 4, false), keep: 0.4},
		// With +faststart the moov comes first, so half the file parses but its mdat is cut.
		"truncated-faststart.mp4": {args: avClip(640, 360, 30, 4, true), keep: 0.5},
		"not-media.txt":           {text: "This is a plain text file, not audio or video.\nhlsd must refuse it with a clear error.\n"},
		"empty.bin":               {text: ""},
		"playlist.m3u8": {text: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n" +
			"#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"},
		"concat.txt": {text: "ffconcat version 1.0\nfile /etc/passwd\n"},
		"ssrf.m3u8": {text: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n" +
			"#EXTINF:10.0,\nhttp://127.0.0.1:1/x.ts\n#EXT-X-ENDLIST\n"},
	}
}

// Names returns the names of all fixtures, sorted.
func Names() []string {
	var names []string
	for name := range recipes() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Path returns the absolute path of the named fixture, generating it first
// if it is not cached yet. It fails the test when the name is unknown or
// ffmpeg is missing or fails. Tests must not modify the returned file.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("testmedia: %v", err)
	}
	path, _, err := ensure(filepath.Join(root, "testdata", ".cache", "testmedia"), name)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return path
}

// ensure returns the path of the named fixture in dir, generating it when
// missing; generated reports whether this call ran the generation.
func ensure(dir, name string) (path string, generated bool, err error) {
	r, ok := recipes()[name]
	if !ok {
		return "", false, fmt.Errorf("testmedia: unknown fixture %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	// Each recipe version gets its own folder, so the file keeps its plain
	// name (error messages in tests name it) and a changed recipe a new path.
	dir = filepath.Join(dir, r.key())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("testmedia: %w", err)
	}
	path = filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	if r.args != nil {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			return "", false, errors.New("ffmpeg not found: install the Debian package ffmpeg (make test does)")
		}
	}
	generated, err = generate(path, func(tmp string) error { return write(r, tmp) })
	if err != nil {
		return "", false, fmt.Errorf("testmedia: generate %s: %w", name, err)
	}
	return path, generated, nil
}

// key identifies a recipe's content, so editing a recipe regenerates it.
func (r recipe) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%q\x00%g\x00%v", version, r.args, r.text, r.keep, r.fix != nil)
	if r.join != nil {
		fmt.Fprintf(h, "\x00%q", r.join)
	}
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// Cached returns <repo>/testdata/.cache/<area>/<key>/<name>, calling write
// once to make it when it is missing: write fills the temporary file it is
// given (same folder, same extension), which is renamed into place. Several
// test processes asking at once generate it once, under a file lock. Other
// fixture packages (internal/mp4/mp4test) use it for their own recipes.
func Cached(tb testing.TB, area, key, name string, write func(tmp string) error) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatalf("testmedia: %v", err)
	}
	dir := filepath.Join(root, "testdata", ".cache", area, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("testmedia: %v", err)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if _, err := generate(path, write); err != nil {
		tb.Fatalf("%s: generate %s: %v", area, name, err)
	}
	return path
}

// generate writes the file at path with write, unless another process did
// so while this one waited for the file's lock; it reports whether it wrote it.
func generate(path string, write func(tmp string) error) (bool, error) {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*-"+filepath.Base(path))
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	if err := write(tmpName); err != nil {
		return false, err
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmpName, path)
}

// write produces the recipe's content at name.
func write(r recipe, name string) error {
	if r.args == nil {
		return os.WriteFile(name, []byte(r.text), 0o644)
	}
	ctx, cancel := context.WithTimeout(context.Background(), genTimeout)
	defer cancel()
	input := []string{}
	if r.join != nil {
		list := name + ".parts.txt"
		var files strings.Builder
		for i, part := range r.join {
			p := fmt.Sprintf("%s.part%d.ts", name, i)
			defer os.Remove(p)
			if err := ffmpeg(ctx, cat(part, []string{"-f", "mpegts"}), p); err != nil {
				return err
			}
			fmt.Fprintf(&files, "file '%s'\n", filepath.Base(p))
		}
		if err := os.WriteFile(list, []byte(files.String()), 0o644); err != nil {
			return err
		}
		defer os.Remove(list)
		input = []string{"-f", "concat", "-safe", "0", "-i", list}
	}
	if err := ffmpeg(ctx, cat(input, r.args), name); err != nil {
		return err
	}
	if r.fix == nil && r.keep == 0 {
		return nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if r.fix != nil {
		if err := r.fix(b); err != nil {
			return err
		}
	}
	if r.keep > 0 {
		b = b[:int(float64(len(b))*r.keep)]
	}
	return os.WriteFile(name, b, 0o644)
}

// ffmpeg runs ffmpeg with args and the output file out.
func ffmpeg(ctx context.Context, args []string, out string) error {
	args = cat([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, args, []string{out})
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ffmpeg %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// RepoRoot returns the repository root: the nearest folder at or above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above the working directory")
		}
		dir = parent
	}
}

// rotate90 sets the first track's display matrix (the video track: ffmpeg
// writes stream 0 first) to "rotate 90 degrees clockwise", as a phone
// filming in portrait does. ffmpeg 5.1's mp4 muxer ignores the rotate tag and
// has no -display_rotation yet, so the tkhd box is patched directly.
func rotate90(b []byte) error {
	i := bytes.Index(b, []byte("tkhd"))
	if i < 4 {
		return errors.New("rotate: no tkhd box")
	}
	box := b[i-4:]
	size := binary.BigEndian.Uint32(box)
	// version(1) flags(3), then times and ids: 20 bytes in version 0, 32 in 1;
	// then reserved(8) layer(2) alternate_group(2) volume(2) reserved(2).
	off := 8 + 4 + 20 + 16
	if box[8] == 1 {
		off = 8 + 4 + 32 + 16
	}
	if int(size) < off+36+8 || len(box) < off+36 {
		return errors.New("rotate: short tkhd box")
	}
	// Fetch the track height (16.16) stored after the matrix for the x offset.
	height := binary.BigEndian.Uint32(box[off+36+4:])
	// a b u / c d v / x y w: a=0 b=1 c=-1 d=0 x=height, in 16.16 (u v w in 2.30).
	m := []uint32{0, 1 << 16, 0, 0xffff0000, 0, 0, height, 0, 1 << 30}
	for k, v := range m {
		binary.BigEndian.PutUint32(box[off+4*k:], v)
	}
	return nil
}

// mpeg2Height rewrites the vertical size in every MPEG-2 sequence header from
// from to to. ffmpeg's mpeg2video encoder rounds odd heights down to even,
// but real DVD-style sources with odd heights exist and the decoder crops the
// coded macroblock rows to the signalled size.
func mpeg2Height(from, to int) func([]byte) error {
	return func(b []byte) error {
		n := 0
		for i := 0; ; i += 4 {
			j := bytes.Index(b[i:], []byte{0, 0, 1, 0xb3})
			if j < 0 {
				break
			}
			i += j
			if i+7 > len(b) {
				break
			}
			v := int(b[i+5]&0x0f)<<8 | int(b[i+6])
			if v != from {
				return fmt.Errorf("mpeg2 sequence header at %d has height %d, want %d", i, v, from)
			}
			b[i+5] = b[i+5]&0xf0 | byte(to>>8)
			b[i+6] = byte(to)
			n++
		}
		if n == 0 {
			return errors.New("no mpeg2 sequence header")
		}
		return nil
	}
}
