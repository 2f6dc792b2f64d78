package server

import (
	"context"
	"testing"

	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/sqlite"
)

// newLibrary is library.New on an SQLite catalog in cfg.DataDir (as hlsd
// serve opens it by default), closed at cleanup, after the library stops.
func newLibrary(tb testing.TB, cfg library.Config) (*library.Library, error) {
	db, err := sqlite.Open(context.Background(), disk.Layout{Root: cfg.DataDir}.DB())
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { db.Close() })
	cfg.DB = db
	return library.New(context.Background(), cfg)
}
