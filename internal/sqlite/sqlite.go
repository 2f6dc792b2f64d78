// Package sqlite is hlsd's catalog on an SQLite file, through the pure-Go
// modernc.org/sqlite driver (no cgo, so the binary stays static).
//
// The database runs in WAL mode with a busy timeout and foreign keys on, and
// the pool is limited to one connection: SQLite allows one writer at a time,
// and River (which shares this *sql.DB for its job tables) recommends a
// single connection so that its concurrent maintenance never meets
// SQLITE_BUSY. Callers therefore must not use the *sql.DB while they hold a
// transaction from Tx: use the *Tx instead, or they wait forever.
//
// The schema is versioned: migrations/NNNN_name.sql files are embedded and
// applied in order at Open, each in its own transaction together with its row
// in schema_migrations, so a crash mid-migration leaves the previous version.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/catalogsql"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// timeFormat stores times as UTC text with fixed microsecond precision, so
// that comparing the text compares the times.
const timeFormat = catalogsql.TimeFormat

// BusyTimeout is how long a statement waits for another connection's write
// lock (another process, or the sqlite3 shell) before failing.
const BusyTimeout = 10 * time.Second

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// DB is the catalog on one SQLite file. It implements hlsd.Catalog.
type DB struct {
	db *sql.DB
}

var _ hlsd.Database = (*DB)(nil)
var _ hlsd.Catalog = (*Tx)(nil)

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	// The driver reads a URI: escape what would end the path early.
	dsn := "file:" + uriEscaper.Replace(path) + "?" + strings.Join([]string{
		"_pragma=busy_timeout(" + strconv.Itoa(int(BusyTimeout/time.Millisecond)) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		"_txlock=immediate",
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// Keep the one connection: reopening would redo the pragmas each time.
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	d := &DB{db: db}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// SQL returns the underlying pool, for River's riversqlite driver, which
// keeps its job tables in the same file so that a media row and its job are
// written in one transaction.
func (d *DB) SQL() *sql.DB { return d.db }

// Tx implements hlsd.Database: fn's tx is a *Tx, whose SQL() is the
// transaction River's riversqlite driver inserts jobs in. Inside fn, use
// only tx (see the package comment).
func (d *DB) Tx(ctx context.Context, fn func(tx hlsd.Catalog) error) error {
	return d.tx(ctx, func(tx *Tx) error { return fn(tx) })
}

// tx runs fn in one transaction, committed when fn returns nil and rolled
// back otherwise.
func (d *DB) tx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", full(err))
	}
	if err := fn(&Tx{tx: sqlTx}); err != nil {
		sqlTx.Rollback()
		return full(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", full(err))
	}
	return nil
}

// errFull is what a write refused for a full disk becomes: SQLite says
// SQLITE_FULL ("database or disk is full") rather than ENOSPC.
var errFull = hlsd.Errorf(hlsd.ENOSPACE, "The server is out of storage space.")

// full returns err with an ENOSPACE *hlsd.Error in its chain when SQLite
// refused a write because the disk is full, and err itself otherwise.
func full(err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3lib.SQLITE_FULL && hlsd.ErrorCode(err) != hlsd.ENOSPACE {
		return fmt.Errorf("%w (%v)", errFull, err)
	}
	return err
}

// Tx is the catalog inside one transaction (see DB.Tx). It implements
// hlsd.Catalog.
type Tx struct {
	tx *sql.Tx
}

// SQL returns the transaction, for River's InsertTx.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CreateMedia implements hlsd.Catalog.
func (d *DB) CreateMedia(ctx context.Context, m *hlsd.Media) error {
	return createMedia(ctx, d.db, m)
}

// GetMedia implements hlsd.Catalog.
func (d *DB) GetMedia(ctx context.Context, id string) (*hlsd.Media, error) {
	return getMedia(ctx, d.db, id)
}

// ListMedia implements hlsd.Catalog.
func (d *DB) ListMedia(ctx context.Context, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	return listMedia(ctx, d.db, f)
}

// UpdateMedia implements hlsd.Catalog. It runs in its own transaction so a
// conditional update (IfStatus) reads and writes atomically.
func (d *DB) UpdateMedia(ctx context.Context, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	var m *hlsd.Media
	err := d.tx(ctx, func(tx *Tx) error {
		var err error
		m, err = updateMedia(ctx, tx.tx, id, upd)
		return err
	})
	return m, err
}

// DeleteMedia implements hlsd.Catalog.
func (d *DB) DeleteMedia(ctx context.Context, id string) error {
	return deleteMedia(ctx, d.db, id)
}

// CreateMedia implements hlsd.Catalog.
func (t *Tx) CreateMedia(ctx context.Context, m *hlsd.Media) error {
	return createMedia(ctx, t.tx, m)
}

// GetMedia implements hlsd.Catalog.
func (t *Tx) GetMedia(ctx context.Context, id string) (*hlsd.Media, error) {
	return getMedia(ctx, t.tx, id)
}

// ListMedia implements hlsd.Catalog.
func (t *Tx) ListMedia(ctx context.Context, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	return listMedia(ctx, t.tx, f)
}

// UpdateMedia implements hlsd.Catalog.
func (t *Tx) UpdateMedia(ctx context.Context, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	return updateMedia(ctx, t.tx, id, upd)
}

// DeleteMedia implements hlsd.Catalog.
func (t *Tx) DeleteMedia(ctx context.Context, id string) error {
	return deleteMedia(ctx, t.tx, id)
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeFormat, s) }

func createMedia(ctx context.Context, q querier, m *hlsd.Media) error {
	if err := catalogsql.PrepareCreate(m); err != nil {
		return err
	}
	renditions, err := json.Marshal(m.Renditions)
	if err != nil {
		return fmt.Errorf("encode renditions: %w", err)
	}
	skipped, err := catalogsql.EncodeRungs(m.SkippedRungs)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO media
		(id, title, kind, status, progress, error, duration, renditions, source_name, source_size, created_at, updated_at,
		 visibility, encrypted, error_code, skipped_rungs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		m.SourceName, m.SourceSize, formatTime(m.CreatedAt), formatTime(m.UpdatedAt), m.Visibility, m.Encrypted, m.ErrorCode, skipped)
	if err != nil {
		var se *sqlite3.Error
		if errors.As(err, &se) && (se.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE) {
			return hlsd.Errorf(hlsd.ECONFLICT, "media %q already exists", m.ID)
		}
		return fmt.Errorf("insert media %s: %w", m.ID, full(err))
	}
	return nil
}

const mediaColumns = catalogsql.MediaColumns

type scanner interface{ Scan(dest ...any) error }

func scanMedia(s scanner) (*hlsd.Media, error) {
	var (
		m                    hlsd.Media
		kind, status         string
		renditions, skipped  string
		createdAt, updatedAt string
	)
	if err := s.Scan(&m.ID, &m.Title, &kind, &status, &m.Progress, &m.Error, &m.Duration, &renditions,
		&m.SourceName, &m.SourceSize, &createdAt, &updatedAt, &m.Visibility, &m.Encrypted, &m.ErrorCode, &skipped); err != nil {
		return nil, err
	}
	var err error
	if m.SkippedRungs, err = catalogsql.DecodeRungs(m.ID, []byte(skipped)); err != nil {
		return nil, err
	}
	m.Kind, m.Status = hlsd.Kind(kind), hlsd.Status(status)
	if m.Renditions, err = catalogsql.DecodeRenditions(m.ID, []byte(renditions)); err != nil {
		return nil, err
	}
	if m.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, fmt.Errorf("created_at of %s: %w", m.ID, err)
	}
	if m.UpdatedAt, err = parseTime(updatedAt); err != nil {
		return nil, fmt.Errorf("updated_at of %s: %w", m.ID, err)
	}
	return &m, nil
}

func getMedia(ctx context.Context, q querier, id string) (*hlsd.Media, error) {
	m, err := scanMedia(q.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, catalogsql.NotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("get media %s: %w", id, err)
	}
	return m, nil
}

func listMedia(ctx context.Context, q querier, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	l, err := catalogsql.CheckList(f)
	if err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if l.Like != "" {
		where = append(where, `title LIKE ? ESCAPE '\'`)
		args = append(args, l.Like)
	}
	if f.Status != "" {
		where = append(where, `status = ?`)
		args = append(args, string(f.Status))
	}
	if c := l.After; c.ID != "" {
		at := formatTime(c.CreatedAt)
		where = append(where, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, at, at, c.ID)
	}
	query := `SELECT ` + mediaColumns + ` FROM media`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, l.Limit+1)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	defer rows.Close()
	ms, err := catalogsql.Collect(rows, func(r *sql.Rows) (*hlsd.Media, error) { return scanMedia(r) })
	if err != nil {
		return nil, err
	}
	return l.Page(ms), nil
}

func updateMedia(ctx context.Context, q querier, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	m, err := getMedia(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if err := catalogsql.ApplyUpdate(m, upd); err != nil {
		return nil, err
	}
	renditions, err := json.Marshal(m.Renditions)
	if err != nil {
		return nil, fmt.Errorf("encode renditions: %w", err)
	}
	skipped, err := catalogsql.EncodeRungs(m.SkippedRungs)
	if err != nil {
		return nil, err
	}
	_, err = q.ExecContext(ctx, `UPDATE media SET title = ?, kind = ?, status = ?, progress = ?, error = ?,
		duration = ?, renditions = ?, updated_at = ?, visibility = ?, error_code = ?, skipped_rungs = ? WHERE id = ?`,
		m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		formatTime(m.UpdatedAt), m.Visibility, m.ErrorCode, skipped, id)
	if err != nil {
		return nil, fmt.Errorf("update media %s: %w", id, full(err))
	}
	return m, nil
}

func deleteMedia(ctx context.Context, q querier, id string) error {
	res, err := q.ExecContext(ctx, `DELETE FROM media WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	} else if n == 0 {
		return catalogsql.NotFound(id)
	}
	return nil
}

// migrate applies the migrations newer than the database's version.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return err
	}
	ms, err := catalogsql.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	var current int
	if err := d.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	pending, err := catalogsql.Pending(ms, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		err := d.tx(ctx, func(tx *Tx) error {
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, formatTime(catalogsql.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the version of the last applied migration.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// WrapTx returns the catalog inside a transaction begun on DB.SQL()
// elsewhere, e.g. by River; the caller commits or rolls it back.
func WrapTx(tx *sql.Tx) *Tx { return &Tx{tx: tx} }
