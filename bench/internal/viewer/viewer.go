package viewer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/hlsd/hlsd/internal/hls"
)

// Recorder receives every finished request and every stall of a viewer.
// It is called from many viewers at once.
type Recorder interface {
	Record(Result)
	Stall(d time.Duration)
}

// Reloader fetches a growing (EVENT or live) media playlist again. Periodic
// is what a classic HLS player does; an LL-HLS player would block on the
// server with _HLS_msn and _HLS_part instead.
type Reloader interface {
	// Reload returns the playlist at u once it may have grown past cur.
	Reload(ctx context.Context, f Fetcher, u *url.URL, cur *hls.Media, rec Recorder) (*hls.Media, error)
}

// Periodic reloads a growing playlist after waiting its target duration,
// as RFC 8216 section 6.3.4 asks of clients.
type Periodic struct{}

// Reload implements Reloader.
func (Periodic) Reload(ctx context.Context, f Fetcher, u *url.URL, cur *hls.Media, rec Recorder) (*hls.Media, error) {
	wait := time.Duration(max(cur.TargetDuration, 1)) * time.Second
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(wait):
	}
	return fetchMedia(ctx, f, u, rec)
}

// Viewer is one simulated player.
type Viewer struct {
	Fetcher  Fetcher
	Recorder Recorder
	Reloader Reloader // nil: Periodic
	// Pick chooses the variant to play; nil picks the one of lowest
	// bandwidth (a player starting on a small screen or a slow link).
	Pick func([]hls.Variant) int
	// Burst is how many segments are fetched back to back before playback
	// starts (3 when zero); after that, one segment is fetched each time
	// one has been played, keeping Burst segments buffered.
	Burst int
	// Loop restarts a finished (VOD) presentation from its first segment
	// instead of returning, keeping the load constant.
	Loop bool
}

// Run plays the presentation whose multivariant playlist is at master until
// ctx ends (nil error) or a request fails (the error).
func (v *Viewer) Run(ctx context.Context, master *url.URL) error {
	body, res := v.Fetcher.Get(ctx, master, KindMultivariant, true)
	if err := v.check(ctx, res); err != nil {
		return err
	}
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		return fmt.Errorf("multivariant playlist: %w", err)
	}
	if len(mv.Variants) == 0 {
		return errors.New("multivariant playlist without variants")
	}
	i := 0
	if v.Pick != nil {
		i = v.Pick(mv.Variants)
	} else {
		for j, va := range mv.Variants {
			if va.Bandwidth < mv.Variants[i].Bandwidth {
				i = j
			}
		}
	}
	mu, err := master.Parse(mv.Variants[i].URI)
	if err != nil {
		return err
	}
	pl, err := fetchMedia(ctx, v.Fetcher, mu, v.Recorder)
	if err != nil {
		return v.quiet(ctx, err)
	}
	return v.quiet(ctx, v.play(ctx, mu, pl))
}

// play fetches the segments of pl at real-time pace. Playback starts when
// the first Burst segments are in; segment n is then fetched when segment
// n-Burst has been played, and must be in before the playhead reaches it,
// else the viewer stalls (the playhead waits for it).
func (v *Viewer) play(ctx context.Context, mu *url.URL, pl *hls.Media) error {
	burst := v.Burst
	if burst <= 0 {
		burst = 3
	}
	reload := v.Reloader
	if reload == nil {
		reload = Periodic{}
	}
	if pl.Map != nil {
		if err := v.segment(ctx, mu, pl.Map.URI); err != nil {
			return err
		}
	}
	var (
		playStart time.Time // wall time at which media time 0 plays (moves on stalls)
		starts    []float64 // media start time of every segment fetched, by index
		mediaT    float64   // media time at the end of the fetched segments
		idx       int       // next segment of pl to fetch
		n         int       // segments fetched
		seqBase   = pl.MediaSequence
	)
	for {
		if idx >= len(pl.Segments) {
			switch {
			case !pl.EndList:
				next, err := reload.Reload(ctx, v.Fetcher, mu, pl, v.Recorder)
				if err != nil {
					return err
				}
				// Continue after the last segment fetched, by sequence number.
				idx = max(0, seqBase+idx-next.MediaSequence)
				seqBase, pl = next.MediaSequence, next
				continue
			case v.Loop:
				idx = 0
			default:
				return nil
			}
		}
		if n >= burst {
			// Wait until segment n-burst has been played.
			t := mediaT // the end of segment n-burst is the start of n-burst+1
			if k := n - burst + 1; k < n {
				t = starts[k]
			}
			due := playStart.Add(seconds(t))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			}
		}
		seg := pl.Segments[idx]
		if err := v.segment(ctx, mu, seg.URI); err != nil {
			return err
		}
		starts = append(starts, mediaT)
		mediaT += seg.Duration
		idx++
		n++
		now := time.Now()
		switch {
		case n == burst:
			playStart = now // the start-up burst is in: playback begins
		case n > burst:
			// The playhead reached this segment at playStart+start; if it
			// arrived later, the player stalled that long.
			if late := now.Sub(playStart.Add(seconds(starts[n-1]))); late > 0 {
				v.Recorder.Stall(late)
				playStart = playStart.Add(late)
			}
		}
		if len(starts) > 4*burst+4 { // keep the slice short on long runs
			k := len(starts) - (burst + 2)
			copy(starts, starts[k:])
			starts = starts[:burst+2]
			n = len(starts)
		}
	}
}

func (v *Viewer) segment(ctx context.Context, mu *url.URL, uri string) error {
	su, err := mu.Parse(uri)
	if err != nil {
		return err
	}
	_, res := v.Fetcher.Get(ctx, su, KindSegment, false)
	return v.check(ctx, res)
}

// check records res and turns a failure into an error.
func (v *Viewer) check(ctx context.Context, res Result) error {
	if ctx.Err() != nil {
		return nil // cut by the end of the run: not the server's failure
	}
	v.Recorder.Record(res)
	if res.Err != nil {
		return res.Err
	}
	if res.Status != 200 {
		return fmt.Errorf("status %d", res.Status)
	}
	return nil
}

func (v *Viewer) quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func fetchMedia(ctx context.Context, f Fetcher, u *url.URL, rec Recorder) (*hls.Media, error) {
	body, res := f.Get(ctx, u, KindPlaylist, true)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rec.Record(res)
	if res.Failed() {
		if res.Err != nil {
			return nil, res.Err
		}
		return nil, fmt.Errorf("media playlist: status %d", res.Status)
	}
	return hls.ParseMedia(body)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
