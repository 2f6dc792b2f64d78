package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/catalogtest"
	"github.com/hlsd/hlsd/internal/pgtest"
	"github.com/hlsd/hlsd/internal/postgres"
)

func TestMain(m *testing.M) {
	if arg := os.Getenv(childEnv); arg != "" {
		os.Exit(runWorker(arg))
	}
	pgtest.Main(m)
}

// pgtestDatabase is a fresh database of the test binary's server.
func pgtestDatabase(t *testing.T) string { return pgtest.NewDatabase(t) }

// open opens the catalog on a fresh database of the test server.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCatalogConformance(t *testing.T) {
	catalogtest.RunDatabase(t, func(t *testing.T) hlsd.Database {
		return open(t, pgtest.NewDatabase(t))
	})
}

func TestTxConformance(t *testing.T) {
	// The catalog seen through a transaction behaves the same; the suite
	// runs each case inside one transaction that is rolled back at the end.
	catalogtest.Run(t, func(t *testing.T) hlsd.Catalog {
		db := open(t, pgtest.NewDatabase(t))
		tx, err := db.Pool().Begin(context.Background())
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		t.Cleanup(func() { tx.Rollback(context.Background()) })
		return postgres.WrapTx(tx)
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	m := &hlsd.Media{Title: "kept"}
	if err := db.CreateMedia(ctx, m); err != nil {
		t.Fatalf("CreateMedia: %v", err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want >= 1", v, err)
	}
	db.Close()

	again := open(t, url)
	if v2, err := again.SchemaVersion(ctx); err != nil || v2 != v {
		t.Errorf("SchemaVersion after reopen = %d, %v; want %d", v2, err, v)
	}
	if got, err := again.GetMedia(ctx, m.ID); err != nil || got.Title != "kept" {
		t.Errorf("GetMedia after reopen = %v, %v", got, err)
	}
}

// TestConcurrentOpen opens one fresh database from several nodes at once:
// the migrations run once, under the advisory lock, and every Open succeeds.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
}

// TestUnreachable checks the start-up error when no server listens: one
// sentence naming the server (without the password), code unavailable.
func TestUnreachable(t *testing.T) {
	url := "postgres://hlsd:secret@127.0.0.1:1/hlsd?sslmode=disable"
	_, err := postgres.Open(context.Background(), url)
	if hlsd.ErrorCode(err) != hlsd.EUNAVAILABLE {
		t.Fatalf("Open = %v, want code unavailable", err)
	}
	msg := hlsd.ErrorMessage(err)
	if !strings.Contains(msg, "Postgres") || !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "secret") ||
		strings.Contains(msg, "\n") {
		t.Errorf("message %q: want one line naming Postgres at 127.0.0.1:1, without the password", msg)
	}
}
