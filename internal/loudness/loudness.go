// Package loudness measures audio loudness to EBU R128 with ffmpeg's
// ebur128 filter: integrated loudness, loudness range and true peak, and
// the ReplayGain 2.0 track and album gains derived from them.
//
// ebur128 is used rather than loudnorm's print_format=json: it measures
// without resampling the audio to 192 kHz (loudnorm's first pass does, which
// is slower) and its summary is a fixed, labelled block printed once at the
// end of the run, so it can ride along in an ffmpeg run that does other
// work: Filter gives the filter to add to that run's audio graph and Parse
// reads the summary from its stderr. The summary has 0.1 LU resolution,
// finer than any listener hears or a gain needs.
package loudness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ReferenceLUFS is the ReplayGain 2.0 reference loudness gains aim at.
const ReferenceLUFS = -18.0

// SilenceLUFS is the level ebur128 reports for a signal with no block above
// its -70 LUFS absolute gate: silence, or nothing measured.
const SilenceLUFS = -70.0

// FloorDB is where a true peak of silence (ebur128 prints "-inf") is
// clamped, so every figure stays a finite number that JSON can carry; it is
// below the noise floor of 24-bit audio.
const FloorDB = -144.0

// Measurement is the EBU R128 loudness of one track or album.
type Measurement struct {
	// IntegratedLUFS is the gated integrated loudness (EBU R128 I), in LUFS.
	IntegratedLUFS float64 `json:"integrated_lufs"`
	// RangeLU is the loudness range (EBU Tech 3342 LRA), in LU.
	RangeLU float64 `json:"loudness_range_lu"`
	// TruePeakDBTP is the highest true (4x oversampled) peak over all
	// channels, in dBTP.
	TruePeakDBTP float64 `json:"true_peak_dbtp"`
}

// Silent reports whether nothing was measured above the absolute gate.
func (m Measurement) Silent() bool { return m.IntegratedLUFS <= SilenceLUFS }

// GainDB returns the gain, in dB, that brings m to ReferenceLUFS
// (ReplayGain 2.0: -18 - integrated), rounded to 0.01 dB. A silent
// measurement gets 0: raising silence by 52 dB would only raise its noise.
// The player limits the gain so that TruePeakDBTP + gain stays at or under
// 0 dBTP; that limit is not applied here so the plain gain stays comparable
// between players.
func (m Measurement) GainDB() float64 {
	if m.Silent() {
		return 0
	}
	return math.Round((ReferenceLUFS-m.IntegratedLUFS)*100) / 100
}

// Filter returns the ebur128 filter to append to an audio filter chain
// (-af, or a branch of -filter_complex): true-peak measurement on, and the
// per-100 ms frame log moved to the verbose level so that only the summary
// reaches stderr at ffmpeg's info level. The summary is logged at info
// level: the run must not use -v error or quieter (-v info -nostats keeps
// stderr small).
func Filter() string { return "ebur128=peak=true:framelog=verbose" }

// Parse reads the last ebur128 summary in ffmpeg's stderr output: the
// "Integrated loudness" I, "Loudness range" LRA and "True peak" Peak lines.
// It fails when stderr holds no complete summary (the filter was absent,
// the log level too quiet, or ffmpeg stopped early).
func Parse(stderr []byte) (Measurement, error) {
	i := bytes.LastIndex(stderr, []byte("] Summary:"))
	if i < 0 {
		return Measurement{}, errors.New("loudness: no ebur128 summary in ffmpeg output")
	}
	var m Measurement
	var haveI, haveLRA, havePeak bool
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(stderr[i:]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		label, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest == "" {
			section = label
			continue
		}
		var err error
		switch {
		case section == "Integrated loudness" && label == "I" && !haveI:
			m.IntegratedLUFS, err = value(rest, "LUFS")
			haveI = true
		case section == "Loudness range" && label == "LRA" && !haveLRA:
			m.RangeLU, err = value(rest, "LU")
			haveLRA = true
		case section == "True peak" && label == "Peak" && !havePeak:
			m.TruePeakDBTP, err = value(rest, "dBFS")
			havePeak = true
		}
		if err != nil {
			return Measurement{}, fmt.Errorf("loudness: %s %s: %w", section, label, err)
		}
		if haveI && haveLRA && havePeak {
			return m, nil
		}
	}
	return Measurement{}, errors.New("loudness: incomplete ebur128 summary in ffmpeg output (was peak=true set?)")
}

// value parses "-20.0 LUFS" (unit as given); "-inf" becomes FloorDB, and
// "nan", "inf" or a missing unit an error.
func value(s, unit string) (float64, error) {
	num, u, _ := strings.Cut(s, " ")
	if strings.TrimSpace(u) != unit {
		return 0, fmt.Errorf("%q: want unit %s", s, unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q: %w", s, err)
	case math.IsNaN(v) || math.IsInf(v, 1):
		return 0, fmt.Errorf("%q: not a finite number", s)
	case v < FloorDB:
		return FloorDB, nil
	}
	return v, nil
}

// Args returns the ffmpeg arguments Measure runs: decode the first audio
// stream of path through Filter and discard the result. Video, subtitles
// and data are not decoded.
func Args(path string) []string {
	return []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-i", "file:" + path,
		"-map", "0:a:0", "-vn", "-sn", "-dn", "-af", Filter(), "-f", "null", "-"}
}

// Measure runs ffmpeg (the binary's path) over the first audio stream of
// path and returns its loudness.
func Measure(ctx context.Context, ffmpeg, path string) (Measurement, error) {
	return run(ctx, ffmpeg, filepath.Base(path), Args(path))
}

// AlbumArgs returns the ffmpeg arguments MeasureAlbum runs: the first audio
// stream of each path, converted to 48 kHz stereo (concat needs one format;
// a mono track is thereby counted as dual mono, 3 LU louder than ebur128
// measures it alone, as EBU R128 s1 asks for mono played on two speakers),
// joined in order and measured as one signal.
func AlbumArgs(paths []string) []string {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info"}
	var graph strings.Builder
	for i, p := range paths {
		args = append(args, "-i", "file:"+p)
		fmt.Fprintf(&graph, "[%d:a:0]aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=stereo[a%d];", i, i)
	}
	for i := range paths {
		fmt.Fprintf(&graph, "[a%d]", i)
	}
	fmt.Fprintf(&graph, "concat=n=%d:v=0:a=1,%s[out]", len(paths), Filter())
	return append(args, "-filter_complex", graph.String(), "-map", "[out]", "-f", "null", "-")
}

// MeasureAlbum measures the album made of the tracks at paths, in order,
// as one signal: the exact EBU R128 album loudness, whose relative gate is
// set by the whole album, so that a quiet interlude does not pull the album
// gain up the way averaging track figures does. It decodes every track
// again; Album estimates the same figure from stored track measurements
// without decoding.
func MeasureAlbum(ctx context.Context, ffmpeg string, paths []string) (Measurement, error) {
	if len(paths) == 0 {
		return Measurement{}, errors.New("loudness: album has no tracks")
	}
	return run(ctx, ffmpeg, fmt.Sprintf("album of %d tracks", len(paths)), AlbumArgs(paths))
}

// run runs ffmpeg with args and parses the summary from its stderr.
func run(ctx context.Context, ffmpeg, what string, args []string) (Measurement, error) {
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Measurement{}, fmt.Errorf("loudness %s: %w: %s", what, err, lastLine(stderr.String()))
	}
	m, err := Parse(stderr.Bytes())
	if err != nil {
		return Measurement{}, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}

// lastLine returns the last non-empty line of s, where ffmpeg puts its error.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Track is one track's stored measurement and duration, what Album needs.
type Track struct {
	Measurement
	// Seconds is the track's duration.
	Seconds float64
}

// Album estimates the album loudness from its tracks' measurements without
// decoding them again: integrated loudness is the duration-weighted energy
// mean of the tracks' integrated loudness, 10·log10(Σ dᵢ·10^(Lᵢ/10) / Σ dᵢ),
// and true peak the highest. Its range is only the widest track's, a lower
// bound: level changes between tracks widen an album's LRA, which only
// MeasureAlbum sees. Its integrated loudness matches MeasureAlbum when the
// tracks are within about 10 LU of each other; a track much quieter than
// the album (a hidden track, a spoken interlude) lowers the estimate, where
// R128's album-wide relative gate would leave its blocks out. Silent tracks
// and tracks without a duration are skipped; with none left the result is
// silent.
func Album(tracks []Track) Measurement {
	var energy, seconds float64
	out := Measurement{IntegratedLUFS: SilenceLUFS, TruePeakDBTP: FloorDB}
	for _, t := range tracks {
		if t.Silent() || !(t.Seconds > 0) {
			continue
		}
		energy += t.Seconds * math.Pow(10, t.IntegratedLUFS/10)
		seconds += t.Seconds
		out.TruePeakDBTP = max(out.TruePeakDBTP, t.TruePeakDBTP)
		out.RangeLU = max(out.RangeLU, t.RangeLU)
	}
	if seconds > 0 {
		out.IntegratedLUFS = math.Round(100*10*math.Log10(energy/seconds)) / 100
	}
	return out
}
