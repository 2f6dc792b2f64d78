// Package hls models HLS playlists (RFC 8216 and Apple's authoring
// specification): it writes multivariant and media playlists and parses them
// back. It is pure (no I/O beyond io.Reader/io.Writer) so it can be fuzzed,
// and it holds the MIME types of every file a presentation contains.
package hls

// MIME types of the files in a presentation, fixed in code because Go's
// table lacks them and the OS database maps .ts to Qt Linguist.
const (
	MIMEPlaylist  = "application/vnd.apple.mpegurl"
	MIMETS        = "video/mp2t"
	MIMEMP4       = "video/mp4"
	MIMEAudioMP4  = "audio/mp4"
	MIMEAAC       = "audio/aac"
	MIMEMP3       = "audio/mpeg"
	MIMEVTT       = "text/vtt"
	MIMEJPEG      = "image/jpeg"
	MIMEPNG       = "image/png"
	MIMEWebP      = "image/webp"
	MIMEKey       = "application/octet-stream"
	MIMEJSON      = "application/json"
	MIMEPlainText = "text/plain; charset=utf-8"
)

// Playlist types (EXT-X-PLAYLIST-TYPE).
const (
	TypeVOD   = "VOD"
	TypeEvent = "EVENT"
)

// Multivariant is a multivariant ("master") playlist.
type Multivariant struct {
	// Version is EXT-X-VERSION; 0 means the lowest the tags need.
	Version             int
	IndependentSegments bool
	// Alternatives are the EXT-X-MEDIA renditions (separate audio, subtitles).
	Alternatives []Alternative
	Variants     []Variant
}

// Alternative is one EXT-X-MEDIA tag.
type Alternative struct {
	Type       string // AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS
	GroupID    string
	Name       string
	Language   string
	Default    bool
	Autoselect bool
	Channels   string // e.g. "2"
	// InstreamID is INSTREAM-ID, required for CLOSED-CAPTIONS ("CC1",
	// "SERVICE1"), which have no URI because they travel inside the video.
	InstreamID string
	URI        string
}

// Variant is one EXT-X-STREAM-INF tag and the URI line after it.
type Variant struct {
	URI              string
	Bandwidth        int // peak bits per second, required
	AverageBandwidth int
	Codecs           string
	Width, Height    int
	FrameRate        float64
	Audio            string // GROUP-ID of the AUDIO alternatives it plays with
}

// Media is a media playlist.
type Media struct {
	// Version is EXT-X-VERSION; 0 means the lowest the tags need.
	Version int
	// TargetDuration is EXT-X-TARGETDURATION; 0 means computed from the
	// segments (every EXTINF rounded to the nearest integer, at least 1).
	TargetDuration      int
	MediaSequence       int
	PlaylistType        string // TypeVOD, TypeEvent or "" (live)
	IndependentSegments bool
	Map                 *Map
	Segments            []Segment
	EndList             bool
}

// Map is EXT-X-MAP: the initialization section (fMP4 init segment).
type Map struct {
	URI       string
	ByteRange *ByteRange
}

// ByteRange is a sub-range of a resource (EXT-X-BYTERANGE).
type ByteRange struct {
	Length int64
	Offset int64 // -1 when absent: continues after the previous range
}

// Key is EXT-X-KEY: how the segments that follow are encrypted.
type Key struct {
	Method string // NONE, AES-128 or SAMPLE-AES
	URI    string
	IV     string // "0x" followed by 32 hex digits, or "" for the media sequence number
}

// Segment is one media segment of a media playlist.
type Segment struct {
	Duration      float64 // seconds, from EXTINF
	Title         string
	URI           string
	ByteRange     *ByteRange
	Discontinuity bool
	// Key, when set, is written before this segment and applies from it on.
	Key *Key
}
