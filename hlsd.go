// Package hlsd holds the domain types shared by every part of the server:
// media, renditions and their states, and the error type that carries a
// machine-readable code from deep inside a package to the HTTP or CLI edge.
// It imports nothing of ours, so every other package may import it.
package hlsd

import "time"

// Kind tells whether a media item has pictures or is sound only; it decides
// the ladder (video or audio) and the player layout.
type Kind string

// Kinds of media.
const (
	KindVideo Kind = "video"
	KindAudio Kind = "audio"
)

// Status is where a media item stands in its processing.
type Status string

// Statuses, in the order a media item normally passes through them.
const (
	StatusQueued     Status = "queued"
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Rendition describes one variant of a presentation as it was really
// produced: dimensions and bandwidths are measured, not planned.
type Rendition struct {
	// Name is the rendition's folder inside the presentation, e.g. "720p", "audio" or "aac_128k".
	Name string `json:"name"`
	// Kind is video for a picture rendition and audio for a sound-only one.
	Kind      Kind    `json:"kind"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	FrameRate float64 `json:"frame_rate,omitempty"`
	// Bandwidth is the peak bits per second over any segment (HLS BANDWIDTH).
	Bandwidth int `json:"bandwidth"`
	// AverageBandwidth is total bits over total duration (HLS AVERAGE-BANDWIDTH).
	AverageBandwidth int `json:"average_bandwidth"`
	// Codecs is the RFC 6381 codec string, e.g. "avc1.64001f" or "mp4a.40.2".
	Codecs string `json:"codecs"`
	// Duration is the sum of the rendition's segment durations in seconds.
	Duration float64 `json:"duration"`
	// Bytes is the total size of the rendition's init and media segments.
	Bytes int64 `json:"bytes"`
	// Segments is the number of media segments.
	Segments int `json:"segments"`
}

// Media is one item of the library: an uploaded source and the HLS
// presentation made from it.
type Media struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Kind     Kind    `json:"kind,omitempty"`
	Status   Status  `json:"status"`
	Progress float64 `json:"progress"`
	// Error is one clear sentence saying why processing failed, or why it
	// waits (a full disk); empty otherwise.
	Error string `json:"error,omitempty"`
	// ErrorCode is Error's machine-readable kind, one of the error codes
	// (EUNSUPPORTED, ENOSPACE...); empty when Error is.
	ErrorCode string `json:"error_code,omitempty"`
	// Duration of the source in seconds, known once probed.
	Duration   float64     `json:"duration"`
	Renditions []Rendition `json:"renditions"`
	// SkippedRungs are the ladder heights taller than the source, which
	// were not made (hlsd never upscales), tallest first.
	SkippedRungs []int `json:"skipped_rungs,omitempty"`
	// SourceName is the file name the uploader gave, kept for display and the extension.
	SourceName string    `json:"source_name,omitempty"`
	SourceSize int64     `json:"source_size,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Visibility is VisibilityPublic or VisibilitySigned; empty is public.
	Visibility string `json:"visibility"`
	// Encrypted is true when the segments are AES-128 encrypted; the key
	// is kept outside the served folders and given only to allowed players.
	Encrypted bool `json:"encrypted"`
}

// Visibilities of a media: who may play it.
const (
	// VisibilityPublic media plays for anyone who has its URL (the random
	// id is the only secret).
	VisibilityPublic = "public"
	// VisibilitySigned media plays only with a valid playback token.
	VisibilitySigned = "signed"
)

// ValidVisibility reports whether v is a visibility a media may have.
func ValidVisibility(v string) bool { return v == VisibilityPublic || v == VisibilitySigned }
