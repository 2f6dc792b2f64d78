package llhls

import (
	"net/url"
	"testing"
)

// FuzzParseReload checks that any query string parses without panicking,
// and that an accepted one is consistent: numbers are non-negative or
// absent, and _HLS_part never comes without _HLS_msn.
func FuzzParseReload(f *testing.F) {
	for _, s := range []string{"", "_HLS_msn=3", "_HLS_msn=3&_HLS_part=2", "_HLS_skip=YES", "_HLS_skip=v2&_HLS_msn=0",
		"_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=99999999999999999999", "_HLS_msn=1&_HLS_msn=1", "_HLS_msn=+1", "token=x&_HLS_msn=07"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := parseReload(q)
		if err != nil {
			return
		}
		if r.msn < -1 || r.part < -1 || (r.part >= 0 && r.msn < 0) {
			t.Fatalf("%q accepted as %+v", raw, r)
		}
		if _, ok := q["_HLS_msn"]; ok != (r.msn >= 0) {
			t.Fatalf("%q: msn %d", raw, r.msn)
		}
		if _, ok := q["_HLS_skip"]; ok != r.skip {
			t.Fatalf("%q: skip %v", raw, r.skip)
		}
	})
}

// FuzzParseName checks that resource names parse without panicking and that
// an accepted name is exactly the name the muxer would write for it, so no
// two spellings reach the same resource.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"index.m3u8", "init1.mp4", "seg0.m4s", "part12.3.m4s", "part1.m4s", "seg.m4s", "seg-1.m4s", "part1..m4s", "init.mp4", "seg01.m4s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r := parseName(name)
		var back string
		switch r.kind {
		case resNone:
			return
		case resPlaylist:
			back = PlaylistName
		case resInit:
			back = initName(r.init)
		case resSegment:
			back = segName(r.msn)
		case resPart:
			back = partName(r.msn, r.part)
		}
		if back != name {
			t.Fatalf("%q parsed as %+v, written back as %q", name, r, back)
		}
	})
}
