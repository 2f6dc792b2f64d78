package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
)

// runProbe prints what ffprobe sees in one file, as the same Info JSON the
// server stores, so users can check a file before ingesting it.
func runProbe(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("probe", "[flags] FILE")
	ffprobe := fs.String("ffprobe", "", "ffprobe binary (default: ffprobe from PATH)")
	timeout := fs.Duration("probe-timeout", 0, "time limit for ffprobe (default 30s)")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	p := &ffmpeg.Prober{FFprobe: *ffprobe, Timeout: *timeout}
	info, err := p.Probe(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return hlsd.Errorf(hlsd.EINTERNAL, "encode probe result: %v", err)
	}
	_, err = fmt.Fprintf(m.Stdout, "%s\n", b)
	return err
}
