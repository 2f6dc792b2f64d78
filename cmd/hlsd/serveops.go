package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/library"
)

// opsConfig is the part of serve's configuration about running it: the
// config file, log level, the ffmpeg binaries and the library's transcode
// settings.
type opsConfig struct {
	ConfigFile string
	LogLevel   slog.Level
	logLevel   string

	FFmpeg, FFprobe string
	Transcode       library.TranscodeSettings
	ladder          string
}

func (c *opsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.ConfigFile, configFlag, "", "TOML config `file` whose keys are these flags' names (also HLSD_CONFIG); flags and HLSD_* variables win over it")
	fs.StringVar(&c.logLevel, "log-level", "info", "least important log `level` shown: debug, info, warn or error")
	fs.StringVar(&c.FFmpeg, "ffmpeg", "", "ffmpeg binary (default: from PATH)")
	fs.StringVar(&c.FFprobe, "ffprobe", "", "ffprobe binary (default: from PATH)")
	fs.StringVar(&c.ladder, "ladder", "", "video rungs of every library transcode, e.g. 1080p,720p,480p,360p (the default); rungs taller than an upload are skipped and listed in its skipped_rungs")
	fs.StringVar(&c.Transcode.Format, "format", ffmpeg.FormatFMP4, "segment `format` of library transcodes: fmp4 or ts")
	fs.DurationVar(&c.Transcode.SegmentDuration, "segment-duration", ffmpeg.DefaultSegmentDuration, "target segment duration of library transcodes (1s to 60s)")
	fs.StringVar(&c.Transcode.Preset, "preset", ffmpeg.DefaultPreset, "x264 `preset` of library transcodes (ultrafast ... veryslow)")
}

// check validates the flags after parsing.
func (c *opsConfig) check() error {
	if err := c.LogLevel.UnmarshalText([]byte(c.logLevel)); err != nil || !validLevel(c.logLevel) {
		return hlsd.Errorf(hlsd.EINVALID, "--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if c.ladder != "" {
		l, err := ffmpeg.ParseLadder(c.ladder)
		if err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "--ladder: %s", hlsd.ErrorMessage(err))
		}
		c.Transcode.Ladder = l
	}
	switch c.Transcode.Format {
	case ffmpeg.FormatFMP4, ffmpeg.FormatTS:
	default:
		return hlsd.Errorf(hlsd.EINVALID, "--format %q: want fmp4 or ts", c.Transcode.Format)
	}
	if d := c.Transcode.SegmentDuration; d < time.Second || d > time.Minute {
		return hlsd.Errorf(hlsd.EINVALID, "--segment-duration %v: use 1s to 60s", d)
	}
	if !ffmpeg.ValidPreset(c.Transcode.Preset) {
		return hlsd.Errorf(hlsd.EINVALID, "--preset %q: want an x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow)", c.Transcode.Preset)
	}
	return nil
}

func validLevel(s string) bool {
	switch s {
	case "debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR":
		return true
	}
	return false
}

// checkTools checks ffmpeg and ffprobe once at start: a missing or too old
// one is one warning line (the server still serves what it has; failing
// transcodes then give the same reason), and its error is returned for the
// library.
func (c *opsConfig) checkTools(ctx context.Context, logger *slog.Logger) error {
	var first error
	for _, t := range []struct{ name, bin string }{{"ffmpeg", c.FFmpeg}, {"ffprobe", c.FFprobe}} {
		v, err := ffmpeg.CheckTool(ctx, t.name, t.bin)
		if err != nil {
			logger.Warn(hlsd.ErrorMessage(err) + "; uploads will fail until then")
			if first == nil {
				first = err
			}
			continue
		}
		logger.Debug("found "+t.name, "version", v)
	}
	return first
}

// openURL is the address to open in a browser for a listener on addr:
// http://localhost:8080/ for a wildcard or loopback host.
func openURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

// tokenSource says where the API token comes from, for the start line.
func tokenSource(cfg serveConfig) string {
	if cfg.APIToken != "" {
		return "--api-token"
	}
	return filepath.Join(cfg.DataDir, tokenFile)
}
