package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Backup writes a consistent copy of the database file src to dst (which
// must not exist) with VACUUM INTO: it reads in one transaction, so a
// server writing to src at the same time (WAL mode) neither waits for it
// nor appears half in the copy. The copy is compact and has no WAL.
func Backup(ctx context.Context, src, dst string) error {
	dsn := "file:" + uriEscaper.Replace(src) + "?_pragma=busy_timeout(" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) + ")"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	return nil
}

// Check runs SQLite's integrity check on the database file at path and
// returns an error unless it reports "ok".
func Check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+uriEscaper.Replace(path)+"?mode=ro")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("check %s: %s", path, res)
	}
	return nil
}
