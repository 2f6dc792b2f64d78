// Package ffmpeg runs ffprobe and ffmpeg as child processes (argv, never a
// shell) on untrusted media: it probes sources, plans the rendition ladder,
// builds transcode command lines and reads their progress.
package ffmpeg

import "time"

// Info is what Probe reports of a media file. Its JSON form is what
// `hlsd probe` prints.
type Info struct {
	// Container is ffprobe's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
	Container string `json:"container"`
	// Duration in seconds; 0 when unknown.
	Duration float64  `json:"duration"`
	Size     int64    `json:"size"`
	Bitrate  int      `json:"bitrate,omitempty"`
	Streams  []Stream `json:"streams"`
}

// Stream is one stream of a probed file.
type Stream struct {
	Index int `json:"index"`
	// Kind is "video", "audio", "subtitle", "data" or "attachment". Cover art
	// (an attached picture) is "video" with AttachedPic set.
	Kind        string  `json:"kind"`
	Codec       string  `json:"codec"`
	Profile     string  `json:"profile,omitempty"`
	Width       int     `json:"width,omitempty"`
	Height      int     `json:"height,omitempty"`
	Rotation    int     `json:"rotation,omitempty"` // degrees clockwise to display upright: 0, 90, 180, 270
	FPS         float64 `json:"fps,omitempty"`
	PixFmt      string  `json:"pix_fmt,omitempty"`
	SampleRate  int     `json:"sample_rate,omitempty"`
	Channels    int     `json:"channels,omitempty"`
	Bitrate     int     `json:"bitrate,omitempty"`
	AttachedPic bool    `json:"attached_pic,omitempty"`
	Language    string  `json:"language,omitempty"`
}

// Video returns the main video stream (the first that is not cover art), or nil.
func (in *Info) Video() *Stream {
	for i := range in.Streams {
		if s := &in.Streams[i]; s.Kind == "video" && !s.AttachedPic {
			return s
		}
	}
	return nil
}

// Audio returns the first audio stream, or nil.
func (in *Info) Audio() *Stream {
	for i := range in.Streams {
		if s := &in.Streams[i]; s.Kind == "audio" {
			return s
		}
	}
	return nil
}

// DisplaySize returns the stream's width and height as shown, after rotation.
func (s *Stream) DisplaySize() (w, h int) {
	if s.Rotation == 90 || s.Rotation == 270 {
		return s.Height, s.Width
	}
	return s.Width, s.Height
}

// Length returns the duration as a time.Duration.
func (in *Info) Length() time.Duration { return time.Duration(in.Duration * float64(time.Second)) }
