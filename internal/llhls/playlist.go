package llhls

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// report is one EXT-X-RENDITION-REPORT line's values.
type report struct {
	uri  string
	msn  uint64
	part int
}

// targetDuration is EXT-X-TARGETDURATION: the segment target, or the longest
// segment so far when the publisher's keyframes are further apart, rounded
// as RFC 8216bis rounds EXTINF.
func (m *Muxer) targetDuration() int {
	t := max(m.cfg.SegmentTarget.Seconds(), m.maxDur)
	return max(1, int(math.Round(t)))
}

// secs formats a duration in seconds for a playlist attribute.
func secs(d float64) string { return fmt.Sprintf("%.5f", d) }

// Names of the resources the muxer serves, relative to its playlist.
func segName(msn uint64) string         { return fmt.Sprintf("seg%d.m4s", msn) }
func partName(msn uint64, i int) string { return fmt.Sprintf("part%d.%d.m4s", msn, i) }
func initName(n int) string             { return fmt.Sprintf("init%d.mp4", n) }

// PlaylistName is the media playlist's name; the other resources sit beside it.
const PlaylistName = "index.m3u8"

// playlistLocked writes the media playlist; skip asks for a delta update
// (EXT-X-SKIP) and reports are the siblings' rendition reports, gathered
// before the lock was taken.
func (m *Muxer) playlistLocked(skip bool, reports []report) []byte {
	var b strings.Builder
	target := m.targetDuration()
	skipUntil := 6 * target
	partTarget := m.cfg.PartTarget.Seconds()
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=%d,PART-HOLD-BACK=%s\n", skipUntil, secs(3*partTarget))
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", secs(partTarget))
	var first uint64
	if len(m.segs) > 0 {
		first = m.segs[0].msn
	} else {
		first = m.nextMSN
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	if m.discSeq > 0 {
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", m.discSeq)
	}
	segs := m.segs
	if skip {
		n := m.skippable(float64(skipUntil))
		if n > 0 {
			fmt.Fprintf(&b, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", n)
			segs = segs[n:]
		}
	}
	// Complete segments whose parts are listed: the last PartSegments.
	complete := len(m.segs)
	if m.open != nil {
		complete--
	}
	partsFrom := uint64(0)
	if complete > m.cfg.PartSegments {
		partsFrom = m.segs[complete-m.cfg.PartSegments].msn
	}
	mapped := -1
	for _, s := range segs {
		if s.discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.init != mapped {
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", initName(s.init))
			mapped = s.init
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.pdt.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		if s.msn >= partsFrom {
			for i, p := range s.parts {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=%q", secs(p.dur), partName(s.msn, i))
				if p.independent {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteByte('\n')
			}
		}
		if s.complete {
			fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", secs(s.dur), segName(s.msn))
		}
	}
	if m.ended {
		b.WriteString("#EXT-X-ENDLIST\n")
		return []byte(b.String())
	}
	if m.open != nil {
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=%q\n", partName(m.open.msn, len(m.open.parts)))
	} else {
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=%q\n", partName(m.nextMSN, 0))
	}
	for _, r := range reports {
		fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=%q,LAST-MSN=%d,LAST-PART=%d\n", r.uri, r.msn, r.part)
	}
	return []byte(b.String())
}

// skippable counts the leading complete segments a delta update may skip:
// those that end at least skipUntil seconds before the end of the playlist
// (RFC 8216bis's Skip Boundary).
func (m *Muxer) skippable(skipUntil float64) int {
	var total float64
	for _, s := range m.segs {
		if s.complete {
			total += s.dur
		} else {
			for _, p := range s.parts {
				total += p.dur
			}
		}
	}
	var end float64
	n := 0
	for _, s := range m.segs {
		if !s.complete {
			break
		}
		end += s.dur
		if total-end < skipUntil {
			break
		}
		n++
	}
	return n
}

// reports asks each sibling where its live edge is. It runs without m's lock
// held: a sibling may be asking m at the same moment.
func (m *Muxer) reports() []report {
	m.mu.Lock()
	sibs := m.siblings
	m.mu.Unlock()
	var out []report
	for _, s := range sibs {
		if msn, p, ok := s.Source.LastPart(); ok {
			out = append(out, report{uri: s.URI, msn: msn, part: p})
		}
	}
	return out
}

// Playlist returns the current media playlist, for callers that do not go
// through ServeHTTP (a recorder, a test).
func (m *Muxer) Playlist() []byte {
	r := m.reports()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.playlistLocked(false, r)
}

// waitFor blocks until ready (called with m.mu held) is true, the stream
// ends, the timeout passes or done is closed; it returns with m.mu held and
// whether ready became true (or the stream ended).
func (m *Muxer) waitFor(done <-chan struct{}, timeout time.Duration, ready func() bool) bool {
	var timer *time.Timer
	for !ready() {
		if m.ended {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		ch := m.changed
		m.waiting++
		m.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			m.mu.Lock()
			m.waiting--
			return ready()
		case <-done:
			m.mu.Lock()
			m.waiting--
			return false
		}
		m.mu.Lock()
		m.waiting--
	}
	return true
}
