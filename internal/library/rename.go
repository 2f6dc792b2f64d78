package library

import (
	"context"
	"strings"

	"github.com/hlsd/hlsd"
)

// Rename changes the title of a media, whatever its status. An empty title
// is EINVALID: every media keeps a name to show.
func (l *Library) Rename(ctx context.Context, id, title string) (*hlsd.Media, error) {
	if !hlsd.ValidMediaID(id) {
		return nil, notFound(id)
	}
	title = strings.TrimSpace(title)
	if title == "" {
		return nil, hlsd.Errorf(hlsd.EINVALID, "the title is empty")
	}
	if err := checkTitle(title); err != nil {
		return nil, err
	}
	return l.db.UpdateMedia(ctx, id, hlsd.MediaUpdate{Title: &title})
}
