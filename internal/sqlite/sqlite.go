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
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// timeFormat stores times as UTC text with fixed microsecond precision, so
// that comparing the text compares the times.
const timeFormat = "2006-01-02T15:04:05.000000Z"

// BusyTimeout is how long a statement waits for another connection's write
// lock (another process, or the sqlite3 shell) before failing.
const BusyTimeout = 10 * time.Second

var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// DB is the catalog on one SQLite file. It implements hlsd.Catalog.
type DB struct {
	db *sql.DB
}

var _ hlsd.Catalog = (*DB)(nil)
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

// Tx runs fn in one transaction, committed when fn returns nil and rolled
// back otherwise. Inside fn, use only tx (see the package comment).
func (d *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{tx: sqlTx}); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
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
	err := d.Tx(ctx, func(tx *Tx) error {
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

// now is the current time at the precision the catalog keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func notFound(id string) error { return hlsd.Errorf(hlsd.ENOTFOUND, "media %q not found", id) }

func validStatus(s hlsd.Status) bool {
	switch s {
	case hlsd.StatusQueued, hlsd.StatusProcessing, hlsd.StatusReady, hlsd.StatusFailed:
		return true
	}
	return false
}

func createMedia(ctx context.Context, q querier, m *hlsd.Media) error {
	if m.ID == "" {
		m.ID = hlsd.NewMediaID()
	}
	if m.Status == "" {
		m.Status = hlsd.StatusQueued
	}
	if !validStatus(m.Status) {
		return hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", m.Status)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Microsecond)
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = m.CreatedAt
	}
	m.UpdatedAt = m.UpdatedAt.UTC().Truncate(time.Microsecond)
	if m.Renditions == nil {
		m.Renditions = []hlsd.Rendition{}
	}
	if m.Visibility == "" {
		m.Visibility = hlsd.VisibilityPublic
	}
	if !hlsd.ValidVisibility(m.Visibility) {
		return hlsd.Errorf(hlsd.EINVALID, "unknown visibility %q: want public or signed", m.Visibility)
	}
	renditions, err := json.Marshal(m.Renditions)
	if err != nil {
		return fmt.Errorf("encode renditions: %w", err)
	}
	skipped, err := encodeRungs(m.SkippedRungs)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO media
		(id, title, kind, status, progress, error, duration, renditions, source_name, source_size, created_at, updated_at,
		 visibility, encrypted, skipped_rungs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		m.SourceName, m.SourceSize, formatTime(m.CreatedAt), formatTime(m.UpdatedAt), m.Visibility, m.Encrypted, skipped)
	if err != nil {
		var se *sqlite3.Error
		if errors.As(err, &se) && (se.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE) {
			return hlsd.Errorf(hlsd.ECONFLICT, "media %q already exists", m.ID)
		}
		return fmt.Errorf("insert media %s: %w", m.ID, err)
	}
	return nil
}

const mediaColumns = `id, title, kind, status, progress, error, duration, renditions, source_name, source_size, created_at, updated_at, visibility, encrypted, skipped_rungs`

// encodeRungs writes skipped rungs as their JSON column.
func encodeRungs(r []int) (string, error) {
	if r == nil {
		r = []int{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode skipped rungs: %w", err)
	}
	return string(b), nil
}

type scanner interface{ Scan(dest ...any) error }

func scanMedia(s scanner) (*hlsd.Media, error) {
	var (
		m                    hlsd.Media
		kind, status         string
		renditions, skipped  string
		createdAt, updatedAt string
	)
	if err := s.Scan(&m.ID, &m.Title, &kind, &status, &m.Progress, &m.Error, &m.Duration, &renditions,
		&m.SourceName, &m.SourceSize, &createdAt, &updatedAt, &m.Visibility, &m.Encrypted, &skipped); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(skipped), &m.SkippedRungs); err != nil {
		return nil, fmt.Errorf("decode skipped rungs of %s: %w", m.ID, err)
	}
	if len(m.SkippedRungs) == 0 {
		m.SkippedRungs = nil
	}
	m.Kind, m.Status = hlsd.Kind(kind), hlsd.Status(status)
	if err := json.Unmarshal([]byte(renditions), &m.Renditions); err != nil {
		return nil, fmt.Errorf("decode renditions of %s: %w", m.ID, err)
	}
	if m.Renditions == nil {
		m.Renditions = []hlsd.Rendition{}
	}
	var err error
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
		return nil, notFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("get media %s: %w", id, err)
	}
	return m, nil
}

// cursor is the position after the last media of a page: keyset pagination
// is stable while media are added or removed, unlike an offset.
type cursor struct {
	CreatedAt string `json:"t"`
	ID        string `json:"i"`
}

func encodeCursor(m *hlsd.Media) string {
	b, _ := json.Marshal(cursor{CreatedAt: formatTime(m.CreatedAt), ID: m.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil {
		_, err = parseTime(c.CreatedAt)
	}
	if err != nil || c.ID == "" {
		return cursor{}, hlsd.Errorf(hlsd.EINVALID, "the page cursor is not valid")
	}
	return c, nil
}

// likeEscaper escapes LIKE's wildcards so a search for "50%" means the text.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func listMedia(ctx context.Context, q querier, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = hlsd.DefaultListLimit
	}
	limit = min(limit, hlsd.MaxListLimit)
	var (
		where []string
		args  []any
	)
	if f.Query != "" {
		where = append(where, `title LIKE ? ESCAPE '\'`)
		args = append(args, "%"+likeEscaper.Replace(f.Query)+"%")
	}
	if f.Status != "" {
		if !validStatus(f.Status) {
			return nil, hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", f.Status)
		}
		where = append(where, `status = ?`)
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		where = append(where, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, c.CreatedAt, c.CreatedAt, c.ID)
	}
	query := `SELECT ` + mediaColumns + ` FROM media`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	defer rows.Close()
	page := &hlsd.MediaPage{Media: []*hlsd.Media{}}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("list media: %w", err)
		}
		page.Media = append(page.Media, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	if len(page.Media) > limit {
		page.Media = page.Media[:limit]
		page.NextCursor = encodeCursor(page.Media[limit-1])
	}
	return page, nil
}

func updateMedia(ctx context.Context, q querier, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	m, err := getMedia(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if len(upd.IfStatus) > 0 && !slices.Contains(upd.IfStatus, m.Status) {
		return nil, hlsd.Errorf(hlsd.ECONFLICT, "media %q is %s", id, m.Status)
	}
	if upd.Title != nil {
		m.Title = *upd.Title
	}
	if upd.Kind != nil {
		m.Kind = *upd.Kind
	}
	if upd.Status != nil {
		if !validStatus(*upd.Status) {
			return nil, hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", *upd.Status)
		}
		m.Status = *upd.Status
	}
	if upd.Progress != nil {
		m.Progress = min(max(*upd.Progress, 0), 1)
	}
	if upd.Error != nil {
		m.Error = *upd.Error
	}
	if upd.Duration != nil {
		m.Duration = *upd.Duration
	}
	if upd.Renditions != nil {
		m.Renditions = *upd.Renditions
		if m.Renditions == nil {
			m.Renditions = []hlsd.Rendition{}
		}
	}
	if upd.Visibility != nil {
		if !hlsd.ValidVisibility(*upd.Visibility) {
			return nil, hlsd.Errorf(hlsd.EINVALID, "unknown visibility %q: want public or signed", *upd.Visibility)
		}
		m.Visibility = *upd.Visibility
	}
	if upd.SkippedRungs != nil {
		m.SkippedRungs = *upd.SkippedRungs
	}
	m.UpdatedAt = now()
	renditions, err := json.Marshal(m.Renditions)
	if err != nil {
		return nil, fmt.Errorf("encode renditions: %w", err)
	}
	skipped, err := encodeRungs(m.SkippedRungs)
	if err != nil {
		return nil, err
	}
	_, err = q.ExecContext(ctx, `UPDATE media SET title = ?, kind = ?, status = ?, progress = ?, error = ?,
		duration = ?, renditions = ?, updated_at = ?, visibility = ?, skipped_rungs = ? WHERE id = ?`,
		m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		formatTime(m.UpdatedAt), m.Visibility, skipped, id)
	if err != nil {
		return nil, fmt.Errorf("update media %s: %w", id, err)
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
		return notFound(id)
	}
	return nil
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Files are
// named NNNN_description.sql; a malformed name is a build mistake.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and '_'", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
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
	ms, err := migrations()
	if err != nil {
		return err
	}
	var current int
	if err := d.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if len(ms) > 0 && current > ms[len(ms)-1].version {
		return fmt.Errorf("database schema version %d is newer than this hlsd knows (%d)", current, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		err := d.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, formatTime(now()))
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
