package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/ingest"
)

// ingestSummary is what `hlsd ingest --json` prints once at the end.
type ingestSummary struct {
	Output      string           `json:"output"`
	Kind        hlsd.Kind        `json:"kind"`
	Format      string           `json:"format"`
	Duration    float64          `json:"duration"`
	Renditions  []hlsd.Rendition `json:"renditions"`
	Bytes       int64            `json:"bytes"`
	WallSeconds float64          `json:"wall_seconds"`
	Speed       float64          `json:"speed"`
}

func runIngest(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("ingest", "[flags] INPUT")
	out := fs.String("o", "", "output directory (default: INPUT's name without extension + \"_hls\")")
	format := fs.String("format", ffmpeg.FormatFMP4, "segment format: fmp4 or ts")
	seg := fs.Duration("segment-duration", ffmpeg.DefaultSegmentDuration, "target segment duration")
	ladder := fs.String("ladder", "", "video rungs, e.g. 1080p,720p,480p,360p (default); a rung taller than INPUT is an error (the default ladder skips them)")
	preset := fs.String("preset", ffmpeg.DefaultPreset, "x264 preset")
	asJSON := fs.Bool("json", false, "print one JSON summary at the end instead of progress")
	verbose := fs.Bool("verbose", false, "copy ffmpeg's messages to stderr")
	ffmpegPath := fs.String("ffmpeg", "", "ffmpeg binary (default: from PATH)")
	ffprobePath := fs.String("ffprobe", "", "ffprobe binary (default: from PATH)")
	encrypt := fs.Bool("encrypt", false, "encrypt segments with AES-128 (implies --format ts); the key goes to --key-file")
	keyFile := fs.String("key-file", "", "where --encrypt writes the 16-byte key, mode 0600 (default: OUTPUT.key, beside the output folder)")
	keyURL := fs.String("key-url", "", "key `URL` written in the playlists (default: ../../OUTPUT.key, relative to each rendition playlist); serve it only to allowed players")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	input := fs.Arg(0)
	opts := ingest.Options{
		Input:           input,
		Output:          *out,
		Format:          *format,
		SegmentDuration: *seg,
		Preset:          *preset,
		FFmpeg:          *ffmpegPath,
		FFprobe:         *ffprobePath,
	}
	if opts.Output == "" {
		opts.Output = defaultOutput(input)
	}
	if *encrypt {
		formatSet := false
		fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
		if !formatSet {
			opts.Format = ffmpeg.FormatTS
		}
		opts.Encrypt, opts.KeyFile, opts.KeyURI = true, *keyFile, *keyURL
		base := filepath.Base(filepath.Clean(opts.Output))
		if opts.KeyFile == "" {
			opts.KeyFile = filepath.Join(filepath.Dir(filepath.Clean(opts.Output)), base+".key")
		}
		if opts.KeyURI == "" {
			opts.KeyURI = "../../" + url.PathEscape(base) + ".key"
		}
	} else if *keyFile != "" || *keyURL != "" {
		return hlsd.Errorf(hlsd.EINVALID, "--key-file and --key-url need --encrypt")
	}
	if *ladder != "" {
		l, err := ffmpeg.ParseLadder(*ladder)
		if err != nil {
			return err
		}
		// A ladder chosen for this one file: a rung taller than it is a
		// mistake to report, not to shrink silently.
		opts.Ladder, opts.StrictLadder = l, true
	}
	if *verbose {
		opts.Log = m.Stderr
	}
	// The bar goes to stderr (stdout keeps the summary, for scripts), and
	// only when stderr is a terminal; it says "probing" until encoding
	// reports progress.
	var bar *progressBar
	if m.IsTerminal && !*asJSON {
		bar = &progressBar{w: m.Stderr, width: 30}
		bar.status("probing " + filepath.Base(input) + "...")
		opts.Progress = bar.draw
	}
	res, err := ingest.Run(ctx, opts)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ingestSummary{
			Output: res.Output, Kind: res.Kind, Format: res.Format, Duration: res.Duration,
			Renditions: res.Renditions, Bytes: res.Bytes, WallSeconds: round3(res.Wall.Seconds()), Speed: round3(res.Speed),
		})
	}
	fmt.Fprintln(m.Stdout, summaryLine(res))
	return nil
}

// defaultOutput is INPUT's base name without extension plus "_hls", in the
// current directory.
func defaultOutput(input string) string {
	base := filepath.Base(input)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "_hls"
}

func summaryLine(r *ingest.Result) string {
	names := make([]string, len(r.Renditions))
	for i, x := range r.Renditions {
		names[i] = x.Name
	}
	return fmt.Sprintf("wrote %s: %s, %s of %s, %.1f MB in %s (%.1fx realtime)",
		r.Output, strings.Join(names, " "), clock(time.Duration(r.Duration*float64(time.Second))), r.Format,
		float64(r.Bytes)/1e6, clock(r.Wall), r.Speed)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// clock formats d as M:SS or H:MM:SS.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// progressBar draws one line, redrawn in place with \r:
// [#####-----] 42% 3.1x ETA 0:12.
type progressBar struct {
	w     io.Writer
	width int
	drawn bool
}

func (b *progressBar) draw(p ingest.Progress) {
	b.status(b.line(p))
}

// status redraws the bar's line with s.
func (b *progressBar) status(s string) {
	fmt.Fprint(b.w, "\r"+s+"\x1b[K")
	b.drawn = true
}

func (b *progressBar) line(p ingest.Progress) string {
	f := p.Fraction()
	n := int(f * float64(b.width))
	s := fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", n), strings.Repeat("-", b.width-n), int(f*100))
	if p.Speed > 0 {
		s += fmt.Sprintf(" %.1fx ETA %s", p.Speed, clock(time.Duration(float64(p.Total-p.Done)/p.Speed)))
	}
	return s
}

// finish ends the bar's line so what follows starts on a fresh one.
func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
