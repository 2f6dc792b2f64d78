package library

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
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

// refuseScript returns EUNSUPPORTED when the file at path is a playlist
// or script that makes ffmpeg open other files or URLs (ffmpeg.SniffFile),
// so the uploader hears it at once and nothing is queued. The probe checks
// again, and ffmpeg's -format_whitelist refuses such demuxers whatever the
// first bytes say.
func refuseScript(path, filename string) error {
	name := filepath.Base(filename)
	if filename == "" {
		name = "the upload"
	}
	return ffmpeg.SniffFile(path, name)
}
