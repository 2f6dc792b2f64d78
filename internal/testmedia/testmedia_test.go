package testmedia

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probe returns ffprobe's view of a file: the format duration and the
// streams' basic fields.
type probeOut struct {
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Profile   string `json:"profile"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		Rate      string `json:"avg_frame_rate"`
		SideData  []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
		Disposition struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
	} `json:"streams"`
}

func ffprobe(t *testing.T, path string) (probeOut, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var p probeOut
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return p, nil
}

// broken lists the fixtures that are not meant to decode.
var broken = map[string]bool{
	"truncated.mp4": true, "truncated-faststart.mp4": true, "not-media.txt": true, "empty.bin": true,
	"playlist.m3u8": true, "concat.txt": true, "ssrf.m3u8": true,
}

func TestAllFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("generates every fixture with ffmpeg")
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			path := Path(t, name)
			if !filepath.IsAbs(path) {
				t.Errorf("Path = %q, want an absolute path", path)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if name == "empty.bin" {
				if fi.Size() != 0 {
					t.Errorf("size = %d, want 0", fi.Size())
				}
				return
			}
			if fi.Size() == 0 {
				t.Fatalf("fixture is empty")
			}
			if again := Path(t, name); again != path {
				t.Errorf("second Path = %q, want the cached %q", again, path)
			}
			if broken[name] {
				return
			}
			p, err := ffprobe(t, path)
			if err != nil {
				t.Fatalf("ffprobe cannot read %s: %v", name, err)
			}
			d, err := strconv.ParseFloat(p.Format.Duration, 64)
			if err != nil || d <= 0 {
				t.Errorf("duration = %q, want a positive number", p.Format.Duration)
			}
		})
	}
}

// TestBrokenFixturesAreBroken proves the bad inputs really are bad, so tests
// that expect errors from them test something.
func TestBrokenFixturesAreBroken(t *testing.T) {
	if testing.Short() {
		t.Skip("generates fixtures with ffmpeg")
	}
	t.Run("truncated.mp4", func(t *testing.T) {
		if _, err := ffprobe(t, Path(t, "truncated.mp4")); err == nil {
			t.Error("ffprobe reads truncated.mp4; want failure (moov missing)")
		}
	})
	t.Run("truncated-faststart.mp4", func(t *testing.T) {
		// The header parses, but decoding runs out of data before the end.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, _ := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", Path(t, "truncated-faststart.mp4"), "-f", "null", "-").CombinedOutput()
		if len(bytes.TrimSpace(out)) == 0 {
			t.Error("ffmpeg decodes truncated-faststart.mp4 without an error; want a truncation error")
		}
	})
}

// TestSpecialFixtures checks the properties tests rely on that ffmpeg does
// not produce by default (patched rotation, odd MPEG-2 height, cover art).
func TestSpecialFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("generates fixtures with ffmpeg")
	}
	probe := func(t *testing.T, name string) probeOut {
		p, err := ffprobe(t, Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("rotated.mp4", func(t *testing.T) {
		s := probe(t, "rotated.mp4").Streams[0]
		if s.CodecType != "video" || len(s.SideData) == 0 || s.SideData[0].Rotation != -90 {
			t.Errorf("stream 0 = %+v, want video with display matrix rotation -90", s)
		}
	})
	t.Run("mpeg2-720x405.mpg", func(t *testing.T) {
		p := probe(t, "mpeg2-720x405.mpg")
		if len(p.Streams) != 1 || p.Streams[0].CodecName != "mpeg2video" || p.Streams[0].Width != 720 || p.Streams[0].Height != 405 {
			t.Errorf("streams = %+v, want one mpeg2video 720x405", p.Streams)
		}
	})
	t.Run("cover.mp3", func(t *testing.T) {
		p := probe(t, "cover.mp3")
		if len(p.Streams) != 2 || p.Streams[0].CodecName != "mp3" || p.Streams[1].Disposition.AttachedPic != 1 {
			t.Errorf("streams = %+v, want mp3 audio and an attached picture", p.Streams)
		}
	})
	t.Run("video-1080p.mp4", func(t *testing.T) {
		s := probe(t, "video-1080p.mp4").Streams[0]
		if s.CodecName != "h264" || s.Profile != "High" || s.Width != 1920 || s.Height != 1080 || s.Rate != "30/1" {
			t.Errorf("stream 0 = %+v, want h264 High 1920x1080 30/1", s)
		}
	})
}

func TestUnknownName(t *testing.T) {
	if _, _, err := ensure(t.TempDir(), "nope.mp4"); err == nil || !strings.Contains(err.Error(), "unknown fixture") {
		t.Errorf("ensure(nope.mp4) error = %v, want unknown fixture", err)
	}
}

// TestConcurrentProcesses starts several processes asking for the same
// fixture in an empty cache at once: exactly one must generate it, all must
// get the same complete file, and no temporary file may remain.
func TestConcurrentProcesses(t *testing.T) {
	if dir := os.Getenv("TESTMEDIA_CHILD_DIR"); dir != "" {
		path, generated, err := ensure(dir, "short.mp4")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("RESULT %s %v", path, generated)
		return
	}
	if testing.Short() {
		t.Skip("generates a fixture with ffmpeg")
	}
	dir := t.TempDir()
	const n = 3
	type result struct {
		out []byte
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConcurrentProcesses$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "TESTMEDIA_CHILD_DIR="+dir)
			out, err := cmd.CombinedOutput()
			results <- result{out, err}
		}()
	}
	paths := map[string]bool{}
	generated := 0
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatalf("child: %v\n%s", r.err, r.out)
		}
		_, line, ok := strings.Cut(string(r.out), "RESULT ")
		if !ok {
			t.Fatalf("child printed no result:\n%s", r.out)
		}
		f := strings.Fields(line)
		paths[f[0]] = true
		if f[1] == "true" {
			generated++
		}
	}
	if generated != 1 || len(paths) != 1 {
		t.Errorf("%d processes generated the fixture, paths %v; want exactly 1 and one path", generated, paths)
	}
	for p := range paths {
		if filepath.Base(p) != "short.mp4" {
			t.Errorf("path %s does not keep the fixture's name", p)
		}
		entries, err := os.ReadDir(filepath.Dir(p))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
		if _, err := ffprobe(t, p); err != nil {
			t.Errorf("ffprobe %s: %v", p, err)
		}
	}
}
