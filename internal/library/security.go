package library

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/hlsd/hlsd"
)

// checkUpload validates what an uploader chose: title, visibility.
func checkUpload(meta Upload) error {
	if err := checkTitle(meta.Title); err != nil {
		return err
	}
	if meta.Visibility != "" && !hlsd.ValidVisibility(meta.Visibility) {
		return hlsd.Errorf(hlsd.EINVALID, "visibility must be public or signed, not %q", meta.Visibility)
	}
	return nil
}

// SetVisibility changes who may play a media (hlsd.VisibilityPublic or
// hlsd.VisibilitySigned). It takes effect for the next request; tokens
// already given stay valid until they expire.
func (l *Library) SetVisibility(ctx context.Context, id, visibility string) (*hlsd.Media, error) {
	if !hlsd.ValidMediaID(id) {
		return nil, notFound(id)
	}
	if !hlsd.ValidVisibility(visibility) {
		return nil, hlsd.Errorf(hlsd.EINVALID, "visibility must be public or signed, not %q", visibility)
	}
	m, err := l.db.UpdateMedia(ctx, id, hlsd.MediaUpdate{Visibility: &visibility})
	if err != nil {
		return nil, err
	}
	l.logger.Info("media visibility changed", "media", id, "visibility", visibility)
	return m, nil
}

func removeKey(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// scriptMarkers are the first bytes of text files that make ffmpeg open
// further inputs: HLS playlists, ffconcat scripts, SDP session files, and
// the SMIL-less oddities of the same kind. The probe refuses them too (with
// -format_whitelist); refusing them here answers the uploader at once,
// before anything is queued, and keeps them out of the sources.
var scriptMarkers = [][]byte{
	[]byte("#EXTM3U"),
	[]byte("ffconcat"),
	[]byte("v=0"), // SDP
	[]byte("[playlist]"),
	[]byte("<?xml"), // DASH manifests, SMIL, XSPF: XML that names other files
	[]byte("<smil"),
	[]byte("<MPD"),
}

// refuseScript returns EUNSUPPORTED when the file at path starts like a
// playlist or script rather than media (after an optional UTF-8 BOM and
// leading white space), or when it is named like one.
func refuseScript(path, filename string) error {
	switch ext := sourceExt(filename); ext {
	case ".m3u8", ".m3u", ".ffconcat", ".concat", ".sdp", ".mpd", ".pls", ".xspf", ".smil":
		return scriptError(filename)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	head = bytes.TrimPrefix(head[:n], []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	for _, m := range scriptMarkers {
		if len(head) >= len(m) && bytes.EqualFold(head[:len(m)], m) {
			return scriptError(filename)
		}
	}
	// "file '...'" lines of a concat list without its header.
	if bytes.HasPrefix(head, []byte("file ")) || bytes.HasPrefix(head, []byte("file\t")) {
		return scriptError(filename)
	}
	return nil
}

func scriptError(filename string) error {
	name := filepath.Base(filename)
	if filename == "" {
		name = "the upload"
	}
	return hlsd.Errorf(hlsd.EUNSUPPORTED,
		"%s is a playlist or script that refers to other files, not a media file: upload the audio or video file itself", name)
}
