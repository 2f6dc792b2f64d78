// Package postgres is hlsd's catalog on PostgreSQL, through pgx (v5) and its
// pool, for deployments where several hlsd processes share one library
// (docs/scale-out.md). It behaves as internal/sqlite does: both pass
// internal/catalogtest, and both take their rules from internal/catalogsql.
//
// River keeps its job tables in the same database (Queue, riverpgxv5), so a
// media row and its job are written in one transaction.
//
// The schema is versioned like SQLite's: migrations/NNNN_name.sql files are
// embedded and applied in order at Open, each in its own transaction with its
// row in schema_migrations. Nodes starting at once take turns: migrations run
// under a Postgres advisory lock.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/catalogsql"
	"github.com/hlsd/hlsd/internal/queue"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLock is the advisory lock key under which migrations run ("hlsd"
// in ASCII).
const migrateLock = 0x686c7364

// ConnectTimeout bounds the first connection at Open, so an unreachable
// server is reported at start rather than waited on.
const ConnectTimeout = 10 * time.Second

// DB is the catalog on one Postgres database. It implements hlsd.Database.
type DB struct {
	pool *pgxpool.Pool
}

var _ hlsd.Database = (*DB)(nil)
var _ hlsd.Catalog = (*Tx)(nil)

// IsURL reports whether s names a Postgres database (postgres:// or
// postgresql://) rather than an SQLite file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns rawURL without its password, for messages and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// Open connects to the database at rawURL (postgres://user:pass@host:port/db?...)
// and applies pending migrations. A server that cannot be reached is
// EUNAVAILABLE, naming the server.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "--db %s: not a valid Postgres URL: %v", Redact(rawURL), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = ConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "--db %s: %v", Redact(rawURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, hlsd.Errorf(hlsd.EUNAVAILABLE, "cannot reach Postgres at %s: %v", Redact(rawURL), pingCause(err))
	}
	d := &DB{pool: pool}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s: %w", Redact(rawURL), err)
	}
	return d, nil
}

// pingCause keeps the last, most specific part of a connection error
// ("connection refused"), since pgconn repeats the address.
func pingCause(err error) string {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		err = ce.Unwrap()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "dial") {
		msg = msg[i+2:]
	}
	return msg
}

// Close closes the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Pool returns the connection pool, for River's riverpgxv5 driver.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Queue returns the Opener of River on this database (riverpgxv5), whose
// jobs are inserted in the *Tx of DB.Tx.
func (d *DB) Queue() queue.Opener {
	return queue.New(riverpgxv5.New(d.pool), (*Tx).PGX)
}

// Shared reports true: several hlsd processes may use one Postgres database
// and work its queue, so a job found running may be another node's.
func (d *DB) Shared() bool { return true }

// Tx implements hlsd.Database: fn's tx is a *Tx.
func (d *DB) Tx(ctx context.Context, fn func(tx hlsd.Catalog) error) error {
	return d.tx(ctx, func(tx *Tx) error { return fn(tx) })
}

func (d *DB) tx(ctx context.Context, fn func(tx *Tx) error) error {
	pgTx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx)) // no-op after Commit
	if err := fn(&Tx{tx: pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Tx is the catalog inside one transaction (see DB.Tx). It implements
// hlsd.Catalog.
type Tx struct {
	tx pgx.Tx
}

// PGX returns the transaction, for River's InsertTx.
func (t *Tx) PGX() pgx.Tx { return t.tx }

// WrapTx returns the catalog inside a transaction begun on DB.Pool()
// elsewhere; the caller commits or rolls it back.
func WrapTx(tx pgx.Tx) *Tx { return &Tx{tx: tx} }

// querier is what *pgxpool.Pool and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateMedia implements hlsd.Catalog.
func (d *DB) CreateMedia(ctx context.Context, m *hlsd.Media) error {
	return createMedia(ctx, d.pool, m)
}

// GetMedia implements hlsd.Catalog.
func (d *DB) GetMedia(ctx context.Context, id string) (*hlsd.Media, error) {
	return getMedia(ctx, d.pool, id, false)
}

// ListMedia implements hlsd.Catalog.
func (d *DB) ListMedia(ctx context.Context, f hlsd.MediaFilter) (*hlsd.MediaPage, error) {
	return listMedia(ctx, d.pool, f)
}

// UpdateMedia implements hlsd.Catalog. It runs in its own transaction, with
// the row locked, so a conditional update (IfStatus) reads and writes
// atomically.
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
func (d *DB) DeleteMedia(ctx context.Context, id string) error { return deleteMedia(ctx, d.pool, id) }

// CreateMedia implements hlsd.Catalog.
func (t *Tx) CreateMedia(ctx context.Context, m *hlsd.Media) error { return createMedia(ctx, t.tx, m) }

// GetMedia implements hlsd.Catalog.
func (t *Tx) GetMedia(ctx context.Context, id string) (*hlsd.Media, error) {
	return getMedia(ctx, t.tx, id, false)
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
func (t *Tx) DeleteMedia(ctx context.Context, id string) error { return deleteMedia(ctx, t.tx, id) }

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
	_, err = q.Exec(ctx, `INSERT INTO media
		(id, title, kind, status, progress, error, duration, renditions, source_name, source_size, created_at, updated_at,
		 visibility, encrypted, error_code, skipped_rungs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		m.ID, m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		m.SourceName, m.SourceSize, m.CreatedAt, m.UpdatedAt, m.Visibility, m.Encrypted, m.ErrorCode, skipped)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
			return hlsd.Errorf(hlsd.ECONFLICT, "media %q already exists", m.ID)
		}
		return fmt.Errorf("insert media %s: %w", m.ID, err)
	}
	return nil
}

const mediaColumns = catalogsql.MediaColumns

func scanMedia(row pgx.Row) (*hlsd.Media, error) {
	var (
		m            hlsd.Media
		kind, status string
		renditions   []byte
		skipped      []byte
	)
	if err := row.Scan(&m.ID, &m.Title, &kind, &status, &m.Progress, &m.Error, &m.Duration, &renditions,
		&m.SourceName, &m.SourceSize, &m.CreatedAt, &m.UpdatedAt, &m.Visibility, &m.Encrypted, &m.ErrorCode, &skipped); err != nil {
		return nil, err
	}
	var err error
	if m.SkippedRungs, err = catalogsql.DecodeRungs(m.ID, skipped); err != nil {
		return nil, err
	}
	m.Kind, m.Status = hlsd.Kind(kind), hlsd.Status(status)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	if m.Renditions, err = catalogsql.DecodeRenditions(m.ID, renditions); err != nil {
		return nil, err
	}
	return &m, nil
}

func getMedia(ctx context.Context, q querier, id string, forUpdate bool) (*hlsd.Media, error) {
	query := `SELECT ` + mediaColumns + ` FROM media WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	m, err := scanMedia(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, catalogsql.NotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("get media %s: %w", id, err)
	}
	return m, nil
}

// foldASCII lowers ASCII letters only, as the title search does (SQLite's
// LIKE): Postgres's ILIKE would also fold other letters by locale.
const (
	upperASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerASCII = "abcdefghijklmnopqrstuvwxyz"
)

func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
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
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if l.Like != "" {
		where = append(where, `translate(title, '`+upperASCII+`', '`+lowerASCII+`') LIKE `+arg(foldASCII(l.Like))+` ESCAPE '\'`)
	}
	if f.Status != "" {
		where = append(where, `status = `+arg(string(f.Status)))
	}
	if c := l.After; c.ID != "" {
		where = append(where, `(created_at, id) < (`+arg(c.CreatedAt)+`, `+arg(c.ID)+`)`)
	}
	query := `SELECT ` + mediaColumns + ` FROM media`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(l.Limit+1)
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	defer rows.Close()
	ms, err := catalogsql.Collect(rows, func(r pgx.Rows) (*hlsd.Media, error) { return scanMedia(r) })
	if err != nil {
		return nil, err
	}
	return l.Page(ms), nil
}

func updateMedia(ctx context.Context, q querier, id string, upd hlsd.MediaUpdate) (*hlsd.Media, error) {
	m, err := getMedia(ctx, q, id, true)
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
	_, err = q.Exec(ctx, `UPDATE media SET title = $1, kind = $2, status = $3, progress = $4, error = $5,
		duration = $6, renditions = $7, updated_at = $8, visibility = $9, error_code = $10, skipped_rungs = $11 WHERE id = $12`,
		m.Title, string(m.Kind), string(m.Status), m.Progress, m.Error, m.Duration, string(renditions),
		m.UpdatedAt, m.Visibility, m.ErrorCode, skipped, id)
	if err != nil {
		return nil, fmt.Errorf("update media %s: %w", id, err)
	}
	return m, nil
}

func deleteMedia(ctx context.Context, q querier, id string) error {
	tag, err := q.Exec(ctx, `DELETE FROM media WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return catalogsql.NotFound(id)
	}
	return nil
}

// migrate applies the migrations newer than the database's version, holding
// an advisory lock so that nodes starting together do not race.
func (d *DB) migrate(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return err
	}
	ms, err := catalogsql.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	pending, err := catalogsql.Pending(ms, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, catalogsql.Now())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion returns the version of the last applied migration.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) { return schemaVersion(ctx, d.pool) }

func schemaVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
