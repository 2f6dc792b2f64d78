package main

import (
	"context"
	"log/slog"

	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/postgres"
	"github.com/hlsd/hlsd/internal/sqlite"
)

// database is the catalog and job queue a subcommand opens from --db.
type database interface {
	library.DB
	Close() error
}

// openDB opens the database named by --db: a postgres:// (or
// postgresql://) URL, or else the path of an SQLite file; empty means
// DATA/hlsd.db. Migrations run here; an unreachable Postgres is one clear
// error naming it.
func openDB(ctx context.Context, db, dataDir string, logger *slog.Logger) (database, error) {
	if postgres.IsURL(db) {
		d, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, err
		}
		logger.Info("catalog on postgres", "db", postgres.Redact(db))
		return d, nil
	}
	if db == "" {
		db = disk.Layout{Root: dataDir}.DB()
	}
	return sqlite.Open(ctx, db)
}
