package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/catalogtest"
	"github.com/hlsd/hlsd/internal/sqlite"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCatalogConformance(t *testing.T) {
	catalogtest.RunDatabase(t, func(t *testing.T) hlsd.Database {
		return open(t, filepath.Join(t.TempDir(), "hlsd.db"))
	})
}

func TestTxConformance(t *testing.T) {
	// The catalog seen through a transaction behaves the same; the suite
	// runs each case inside one transaction that is rolled back at the end.
	catalogtest.Run(t, func(t *testing.T) hlsd.Catalog {
		db := open(t, filepath.Join(t.TempDir(), "hlsd.db"))
		tx, err := db.SQL().Begin()
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		t.Cleanup(func() { tx.Rollback() })
		return sqlite.WrapTx(tx)
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hlsd.db")
	db := open(t, path)
	m := &hlsd.Media{Title: "kept"}
	if err := db.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want >= 1", v, err)
	}
	db.Close()

	again := open(t, path)
	if v2, err := again.SchemaVersion(ctx); err != nil || v2 != v {
		t.Errorf("SchemaVersion after reopen = %d, %v; want %d", v2, err, v)
	}
	if got, err := again.GetMedia(ctx, m.ID); err != nil || got.Title != "kept" {
		t.Errorf("GetMedia after reopen = %v, %v", got, err)
	}
}

func TestPragmas(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "hlsd.db"))
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := db.SQL().QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestOddPaths(t *testing.T) {
	for _, name := range []string{"a?b", "c#d", "e%20f", "g h"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			db := open(t, filepath.Join(dir, "hlsd.db"))
			if err := db.CreateMedia(context.Background(), &hlsd.Media{Title: "x"}); err != nil {
				t.Fatalf("CreateMedia: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "hlsd.db")); err != nil {
				t.Errorf("database not at the given path: %v", err)
			}
		})
	}
}
