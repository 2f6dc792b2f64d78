package ingest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hlsd/hlsd/internal/hls"
)

// SourceGroup is the GROUP-ID of the source rendition's audio: distinct
// from the ladder's, since the source's audio is its own track.
const SourceGroup = "source-audio"

// SourceVariant is a rendition served from the source file itself,
// packaged on the fly (internal/mp4), that a caller adds to the
// presentation so it plays before the ladder is encoded. Its URIs are
// relative to the presentation folder ("source/video/index.m3u8").
type SourceVariant struct {
	// Variant is the source's video variant, with Audio set to
	// SourceGroup when Alternative is set.
	Variant hls.Variant
	// Alternative is the source's audio (GROUP-ID SourceGroup); nil when
	// the source has no audio.
	Alternative *hls.Alternative
	// Keep keeps the variant in the final multivariant playlist when it is
	// the top quality: taller than every transcoded rung. Without Keep it
	// is dropped once the ladder is complete.
	Keep bool
}

// prepend puts the source variant (and its audio group) first in p: hls.js
// and AVPlayer start on the first listed variant, and the source is the
// one that plays at once.
func (s *SourceVariant) prepend(p *hls.Multivariant) {
	p.Variants = append([]hls.Variant{s.Variant}, p.Variants...)
	if s.Alternative != nil {
		p.Alternatives = append([]hls.Alternative{*s.Alternative}, p.Alternatives...)
	}
}

// SourceMaster is the multivariant playlist of the source variant alone,
// published at once while the ladder has not started.
func SourceMaster(s *SourceVariant) ([]byte, error) {
	p := &hls.Multivariant{IndependentSegments: true}
	s.prepend(p)
	return p.MarshalText()
}

// WriteSourceMaster publishes SourceMaster(s) as dir/master.m3u8 (through a
// rename, creating dir when missing).
func WriteSourceMaster(dir string, s *SourceVariant) error {
	data, err := SourceMaster(s)
	if err != nil {
		return fmt.Errorf("source master: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("source master: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, masterName), data); err != nil {
		return fmt.Errorf("source master: %w", err)
	}
	return nil
}

// keepSource reports whether the final master lists s: only when asked to
// and when the source is strictly taller than every transcoded rung.
func keepSource(s *SourceVariant, videoHeights []int) bool {
	if s == nil || !s.Keep {
		return false
	}
	for _, h := range videoHeights {
		if h >= s.Variant.Height {
			return false
		}
	}
	return true
}
