package loudness

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/internal/testmedia"
)

// area and key name this package's folder in the shared fixture cache.
const (
	area = "loudness"
	key  = "v1"
)

// tone returns a cached 48 kHz stereo file of a 997 Hz sine whose peak is
// dbfs on both channels, lasting secs, encoded with codec to format. EBU
// R128 puts such a stereo tone at dbfs LUFS (each channel counts -3.01 LU
// below its peak level, the two add +3.01), and its true peak at dbfs dBTP.
func tone(t *testing.T, dbfs float64, secs int, codec, format string) string {
	t.Helper()
	amp := math.Pow(10, dbfs/20)
	name := fmt.Sprintf("tone%g-%ds.%s", dbfs, secs, format)
	return testmedia.Cached(t, area, key, name, func(tmp string) error {
		src := fmt.Sprintf("aevalsrc=%.6f*sin(2*PI*997*t)|%.6f*sin(2*PI*997*t):s=48000:d=%d", amp, amp, secs)
		if dbfs <= -200 {
			src = fmt.Sprintf("aevalsrc=0|0:s=48000:d=%d", secs)
		}
		out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", src,
			"-c:a", codec, "-f", format, tmp).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ffmpeg: %w: %s", err, out)
		}
		return nil
	})
}

// loudnorm measures path with ffmpeg's loudnorm filter (its JSON
// first-pass report), the second reading Measure is checked against.
func loudnorm(t *testing.T, path string) Measurement {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-nostdin", "-i", path, "-map", "0:a:0",
		"-af", "loudnorm=print_format=json", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("loudnorm %s: %v: %s", path, err, out)
	}
	i := strings.LastIndexByte(string(out), '{')
	var js map[string]string
	if i < 0 || json.Unmarshal(out[i:], &js) != nil {
		t.Fatalf("loudnorm %s: no JSON report in %s", path, out)
	}
	f := func(k string) float64 {
		v, err := strconv.ParseFloat(js[k], 64)
		if err != nil {
			t.Fatalf("loudnorm %s: %s = %q", path, k, js[k])
		}
		return v
	}
	return Measurement{IntegratedLUFS: f("input_i"), RangeLU: f("input_lra"), TruePeakDBTP: f("input_tp")}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMeasureTones(t *testing.T) {
	cases := []struct {
		name string
		path func(t *testing.T) string
		want float64 // integrated loudness and true peak from the signal's level; NaN: compare with loudnorm only
		peak float64
	}{
		{"flac -20 dBFS", func(t *testing.T) string { return tone(t, -20, 10, "flac", "flac") }, -20, -20},
		{"flac -32 dBFS", func(t *testing.T) string { return tone(t, -32, 10, "flac", "flac") }, -32, -32},
		{"mp3 -20 dBFS", func(t *testing.T) string { return tone(t, -20, 10, "libmp3lame", "mp3") }, -20, -20},
		// A 523 Hz tone (K-weighting is not flat there) in a file that also
		// holds a cover picture stream, which Measure must not trip on.
		{"mp3 with cover", func(t *testing.T) string { return testmedia.Path(t, "cover.mp3") }, math.NaN(), math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path(t)
			m, err := Measure(context.Background(), "ffmpeg", path)
			if err != nil {
				t.Fatal(err)
			}
			if !math.IsNaN(c.want) && (!near(m.IntegratedLUFS, c.want, 0.5) || !near(m.TruePeakDBTP, c.peak, 0.5)) || m.RangeLU > 1 || m.Silent() {
				t.Errorf("Measure = %+v, want I %.2f LUFS, true peak %.2f dBTP, LRA under 1 LU", m, c.want, c.peak)
			}
			ref := loudnorm(t, path)
			t.Logf("Measure %+v, gain %.2f dB; loudnorm %+v", m, m.GainDB(), ref)
			if !near(m.IntegratedLUFS, ref.IntegratedLUFS, 0.5) || !near(m.TruePeakDBTP, ref.TruePeakDBTP, 0.5) || !near(m.RangeLU, ref.RangeLU, 0.5) {
				t.Errorf("Measure = %+v, ffmpeg loudnorm measures %+v: over 0.5 apart", m, ref)
			}
			if g := m.GainDB(); !near(g, ReferenceLUFS-ref.IntegratedLUFS, 0.5) {
				t.Errorf("GainDB = %.2f, want %.2f", g, ReferenceLUFS-ref.IntegratedLUFS)
			}
		})
	}
}

func TestMeasureSilence(t *testing.T) {
	m, err := Measure(context.Background(), "ffmpeg", tone(t, -999, 5, "flac", "flac"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Silent() || m.GainDB() != 0 || m.TruePeakDBTP != FloorDB {
		t.Errorf("silence: %+v, silent %v, gain %v; want silent, gain 0, peak %v", m, m.Silent(), m.GainDB(), FloorDB)
	}
	if _, err := json.Marshal(m); err != nil {
		t.Errorf("a silent measurement does not encode as JSON: %v", err)
	}
}

func TestMeasureErrors(t *testing.T) {
	if _, err := Measure(context.Background(), "ffmpeg", filepath.Join(t.TempDir(), "missing.flac")); err == nil {
		t.Error("Measure of a missing file succeeded")
	}
	if _, err := Measure(context.Background(), "ffmpeg", testmedia.Path(t, "noaudio.mp4")); err == nil {
		t.Error("Measure of a file without audio succeeded")
	}
	if _, err := MeasureAlbum(context.Background(), "ffmpeg", nil); err == nil {
		t.Error("MeasureAlbum of no tracks succeeded")
	}
}

func TestAlbum(t *testing.T) {
	loud := tone(t, -20, 10, "flac", "flac")
	cases := []struct {
		name     string
		second   string
		measured float64 // EBU R128 over the joined album
		estimate float64 // Album's energy mean
	}{
		// Within 10 LU the relative gate keeps every block: both agree,
		// 10·log10((10^-2 + 10^-3)/2) = -22.6.
		{"-20 and -30", tone(t, -30, 10, "flac", "flac"), -22.6, -22.6},
		// The -40 track falls under the album's relative gate (-23 - 10):
		// R128 leaves it out, the energy mean does not.
		{"-20 and -40", tone(t, -40, 10, "flac", "flac"), -20, -22.97},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			paths := []string{loud, c.second}
			got, err := MeasureAlbum(context.Background(), "ffmpeg", paths)
			if err != nil {
				t.Fatal(err)
			}
			if !near(got.IntegratedLUFS, c.measured, 0.5) || !near(got.TruePeakDBTP, -20, 0.5) {
				t.Errorf("MeasureAlbum = %+v, want I %.2f, true peak -20", got, c.measured)
			}
			var tracks []Track
			for _, p := range paths {
				m, err := Measure(context.Background(), "ffmpeg", p)
				if err != nil {
					t.Fatal(err)
				}
				tracks = append(tracks, Track{Measurement: m, Seconds: 10})
			}
			t.Logf("MeasureAlbum %+v", got)
			est := Album(append(tracks, Track{Measurement: Measurement{IntegratedLUFS: SilenceLUFS}, Seconds: 60}))
			t.Logf("Album estimate %+v", est)
			if !near(est.IntegratedLUFS, c.estimate, 0.5) || est.TruePeakDBTP != max(tracks[0].TruePeakDBTP, tracks[1].TruePeakDBTP) {
				t.Errorf("Album = %+v, want I %.2f and the highest track peak", est, c.estimate)
			}
		})
	}
}

// TestFilterInAnotherRun adds Filter to an ffmpeg run that encodes, as
// ingest will, and reads the summary from that run's stderr.
func TestFilterInAnotherRun(t *testing.T) {
	src := tone(t, -20, 10, "flac", "flac")
	out := filepath.Join(t.TempDir(), "out.m4a")
	stderr, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-v", "info", "-i", src,
		"-af", Filter(), "-c:a", "aac", "-b:a", "128k", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr)
	}
	m, err := Parse(stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.IntegratedLUFS, -20, 0.5) {
		t.Errorf("I = %v, want -20", m.IntegratedLUFS)
	}
}

const summary = `[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -%s LUFS
    Threshold: -30.0 LUFS

  Loudness range:
    LRA:         3.5 LU
    Threshold: -40.0 LUFS
    LRA low:   -20.0 LUFS
    LRA high:  -20.0 LUFS

  True peak:
    Peak:      %s dBFS
`

func TestParse(t *testing.T) {
	cases := []struct {
		name, in string
		want     Measurement
		ok       bool
	}{
		{"summary", "size=N/A\n" + fmt.Sprintf(summary, "14.2", "-1.3"), Measurement{-14.2, 3.5, -1.3}, true},
		{"last summary wins", fmt.Sprintf(summary, "30.0", "-9.0") + fmt.Sprintf(summary, "14.2", "-1.3"), Measurement{-14.2, 3.5, -1.3}, true},
		{"silence", fmt.Sprintf(summary, "70.0", "-inf"), Measurement{-70, 3.5, FloorDB}, true},
		{"no peak mode", strings.Split(fmt.Sprintf(summary, "14.2", "-1.3"), "  True peak")[0], Measurement{}, false},
		{"nan", fmt.Sprintf(summary, "14.2", "nan"), Measurement{}, false},
		{"no summary", "Stream #0:0: Audio: flac\n", Measurement{}, false},
		{"empty", "", Measurement{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.in))
			if (err == nil) != c.ok || got != c.want {
				t.Errorf("Parse = %+v, %v; want %+v, ok %v", got, err, c.want, c.ok)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	want := []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-i", "file:/a b.flac",
		"-map", "0:a:0", "-vn", "-sn", "-dn", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"}
	if got := Args("/a b.flac"); !slices.Equal(got, want) {
		t.Errorf("Args =\n %q\nwant\n %q", got, want)
	}
	want = []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-i", "file:/1.mp3", "-i", "file:/2.ogg",
		"-filter_complex", "[0:a:0]aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo[a0];" +
			"[1:a:0]aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo[a1];" +
			"[a0][a1]concat=n=2:v=0:a=1,ebur128=peak=true:framelog=verbose[out]", "-map", "[out]", "-f", "null", "-"}
	if got := AlbumArgs([]string{"/1.mp3", "/2.ogg"}); !slices.Equal(got, want) {
		t.Errorf("AlbumArgs =\n %q\nwant\n %q", got, want)
	}
}

// FuzzParse checks that no stderr text makes Parse panic or return a
// figure JSON cannot carry.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(summary, "14.2", "-1.3")))
	f.Add([]byte(fmt.Sprintf(summary, "70.0", "-inf")))
	f.Add([]byte("] Summary:\nI: x LUFS\nLRA: 1e999 LU\nPeak: +Inf dBFS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("Parse = %+v: %v", m, err)
		}
	})
}
