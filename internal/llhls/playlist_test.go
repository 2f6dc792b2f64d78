package llhls

import (
	"strconv"
	"strings"
	"testing"
)

// plPart is an EXT-X-PART as a player reads it.
type plPart struct {
	dur   float64
	uri   string
	indep bool
}

// plSeg is a media segment as a player reads it; uri is empty for the
// segment still being written (only its parts are listed).
type plSeg struct {
	msn    uint64
	dur    float64
	uri    string
	parts  []plPart
	disc   bool
	mapURI string
	pdt    string
}

// mediaPlaylist is a parsed LL-HLS media playlist.
type mediaPlaylist struct {
	version, target, canSkipUntil int
	partTarget, partHoldBack      float64
	blockReload                   bool
	mediaSeq                      uint64
	skipped                       int
	segs                          []plSeg
	hint                          string
	reports                       []map[string]string
	ended                         bool
}

// attrs splits an attribute list, honouring quoted strings.
func attrs(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		k, rest, _ := strings.Cut(s, "=")
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			v, rest = rest[1:end+1], rest[end+2:]
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[k] = v
		s = strings.TrimPrefix(rest, ",")
	}
	return out
}

// parsePlaylist parses body strictly enough for the spec checks: every
// line is known, and tags come in the order RFC 8216bis allows.
func parsePlaylist(t *testing.T, body string) mediaPlaylist {
	t.Helper()
	var p mediaPlaylist
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) == 0 || lines[0] != "#EXTM3U" {
		t.Fatalf("playlist does not start with #EXTM3U:\n%s", body)
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("number %q: %v\n%s", s, err, body)
		}
		return f
	}
	cur := plSeg{}
	started := false
	curMap := ""
	for _, l := range lines[1:] {
		tag, val, _ := strings.Cut(l, ":")
		switch tag {
		case "#EXT-X-VERSION":
			p.version = int(num(val))
		case "#EXT-X-TARGETDURATION":
			p.target = int(num(val))
		case "#EXT-X-SERVER-CONTROL":
			a := attrs(val)
			p.blockReload = a["CAN-BLOCK-RELOAD"] == "YES"
			p.canSkipUntil = int(num(a["CAN-SKIP-UNTIL"]))
			p.partHoldBack = num(a["PART-HOLD-BACK"])
		case "#EXT-X-PART-INF":
			p.partTarget = num(attrs(val)["PART-TARGET"])
		case "#EXT-X-MEDIA-SEQUENCE":
			p.mediaSeq = uint64(num(val))
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
		case "#EXT-X-SKIP":
			p.skipped = int(num(attrs(val)["SKIPPED-SEGMENTS"]))
		case "#EXT-X-MAP":
			curMap = attrs(val)["URI"]
		case "#EXT-X-DISCONTINUITY":
			cur.disc = true
		case "#EXT-X-PROGRAM-DATE-TIME":
			cur.pdt = val
		case "#EXT-X-PART":
			a := attrs(val)
			cur.parts = append(cur.parts, plPart{dur: num(a["DURATION"]), uri: a["URI"], indep: a["INDEPENDENT"] == "YES"})
			started = true
		case "#EXTINF":
			cur.dur = num(strings.TrimSuffix(val, ","))
			started = true
		case "#EXT-X-PRELOAD-HINT":
			a := attrs(val)
			if a["TYPE"] != "PART" {
				t.Fatalf("preload hint %q", l)
			}
			p.hint = a["URI"]
		case "#EXT-X-RENDITION-REPORT":
			p.reports = append(p.reports, attrs(val))
		case "#EXT-X-ENDLIST":
			p.ended = true
		default:
			if strings.HasPrefix(l, "#") || l == "" {
				t.Fatalf("unexpected line %q in\n%s", l, body)
			}
			cur.uri = l
			cur.mapURI = curMap
			cur.msn = p.mediaSeq + uint64(p.skipped) + uint64(len(p.segs))
			p.segs = append(p.segs, cur)
			cur, started = plSeg{}, false
		}
	}
	if started {
		cur.mapURI = curMap
		cur.msn = p.mediaSeq + uint64(p.skipped) + uint64(len(p.segs))
		p.segs = append(p.segs, cur)
	}
	return p
}
