// Package catalogsql holds what the SQL catalogs (internal/sqlite and
// internal/postgres) share above their SQL: the defaults and checks of a new
// media, how an update applies, page sizes and the keyset cursor. Keeping
// these in one place is what makes the two backends behave the same; the
// conformance suite (internal/catalogtest) checks that they do.
package catalogsql

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
)

// TimeFormat is how times appear in cursors (and SQLite's columns): UTC
// with fixed microsecond precision, so that comparing the text compares the
// times.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Now is the current time at the precision the catalog keeps.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// NotFound is the error of an unknown media id.
func NotFound(id string) error { return hlsd.Errorf(hlsd.ENOTFOUND, "media %q not found", id) }

// ValidStatus reports whether s is one of the media statuses.
func ValidStatus(s hlsd.Status) bool {
	switch s {
	case hlsd.StatusQueued, hlsd.StatusProcessing, hlsd.StatusReady, hlsd.StatusFailed:
		return true
	}
	return false
}

// PrepareCreate fills m's defaults for CreateMedia (id, status, times at
// catalog precision, empty renditions, public visibility) and checks it.
func PrepareCreate(m *hlsd.Media) error {
	if m.ID == "" {
		m.ID = hlsd.NewMediaID()
	}
	if m.Status == "" {
		m.Status = hlsd.StatusQueued
	}
	if !ValidStatus(m.Status) {
		return hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", m.Status)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = Now()
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
	return nil
}

// ApplyUpdate changes m (as read in the update's transaction) by upd and
// bumps UpdatedAt; a failed IfStatus is ECONFLICT, a bad value EINVALID.
func ApplyUpdate(m *hlsd.Media, upd hlsd.MediaUpdate) error {
	if len(upd.IfStatus) > 0 && !slices.Contains(upd.IfStatus, m.Status) {
		return hlsd.Errorf(hlsd.ECONFLICT, "media %q is %s", m.ID, m.Status)
	}
	if upd.Title != nil {
		m.Title = *upd.Title
	}
	if upd.Kind != nil {
		m.Kind = *upd.Kind
	}
	if upd.Status != nil {
		if !ValidStatus(*upd.Status) {
			return hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", *upd.Status)
		}
		m.Status = *upd.Status
	}
	if upd.Progress != nil {
		m.Progress = min(max(*upd.Progress, 0), 1)
	}
	if upd.Error != nil {
		m.Error = *upd.Error
	}
	if upd.ErrorCode != nil {
		m.ErrorCode = *upd.ErrorCode
	}
	if upd.SkippedRungs != nil {
		m.SkippedRungs = *upd.SkippedRungs
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
			return hlsd.Errorf(hlsd.EINVALID, "unknown visibility %q: want public or signed", *upd.Visibility)
		}
		m.Visibility = *upd.Visibility
	}
	m.UpdatedAt = Now()
	return nil
}

// List is a ListMedia filter checked and decoded.
type List struct {
	// Limit is the page size, within MaxListLimit.
	Limit int
	// Like is the LIKE pattern of the title search (escaped with '\'),
	// or "" for no search.
	Like string
	// After, when After.ID is set, is the position the page starts after.
	After Cursor
}

// CheckList checks f and decodes its cursor.
func CheckList(f hlsd.MediaFilter) (List, error) {
	l := List{Limit: f.Limit}
	if l.Limit <= 0 {
		l.Limit = hlsd.DefaultListLimit
	}
	l.Limit = min(l.Limit, hlsd.MaxListLimit)
	if f.Query != "" {
		l.Like = "%" + likeEscaper.Replace(f.Query) + "%"
	}
	if f.Status != "" && !ValidStatus(f.Status) {
		return l, hlsd.Errorf(hlsd.EINVALID, "unknown media status %q", f.Status)
	}
	if f.Cursor != "" {
		var err error
		if l.After, err = decodeCursor(f.Cursor); err != nil {
			return l, err
		}
	}
	return l, nil
}

// Page cuts ms, fetched with one row more than l.Limit, to a page with the
// cursor of the next one.
func (l List) Page(ms []*hlsd.Media) *hlsd.MediaPage {
	page := &hlsd.MediaPage{Media: ms}
	if page.Media == nil {
		page.Media = []*hlsd.Media{}
	}
	if len(page.Media) > l.Limit {
		page.Media = page.Media[:l.Limit]
		page.NextCursor = encodeCursor(page.Media[l.Limit-1])
	}
	return page
}

// likeEscaper escapes LIKE's wildcards so a search for "50%" means the text.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Cursor is the position after the last media of a page: keyset pagination
// is stable while media are added or removed, unlike an offset.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// cursorJSON is a cursor as encoded in MediaPage.NextCursor.
type cursorJSON struct {
	CreatedAt string `json:"t"`
	ID        string `json:"i"`
}

func encodeCursor(m *hlsd.Media) string {
	b, _ := json.Marshal(cursorJSON{CreatedAt: m.CreatedAt.UTC().Format(TimeFormat), ID: m.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (Cursor, error) {
	var c cursorJSON
	var t time.Time
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil {
		t, err = time.Parse(TimeFormat, c.CreatedAt)
	}
	if err != nil || c.ID == "" {
		return Cursor{}, hlsd.Errorf(hlsd.EINVALID, "the page cursor is not valid")
	}
	return Cursor{CreatedAt: t, ID: c.ID}, nil
}

// Migration is one embedded schema change of a SQL catalog.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations in fsys's directory dir in version
// order. Files are named NNNN_description.sql; a malformed name is a build
// mistake.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and '_'", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Pending returns the migrations newer than current, the database's schema
// version; a database newer than every migration is an error (an older hlsd
// must not write to it).
func Pending(ms []Migration, current int) ([]Migration, error) {
	if len(ms) > 0 && current > ms[len(ms)-1].Version {
		return nil, fmt.Errorf("database schema version %d is newer than this hlsd knows (%d)", current, ms[len(ms)-1].Version)
	}
	i := 0
	for i < len(ms) && ms[i].Version <= current {
		i++
	}
	return ms[i:], nil
}

// MediaColumns are the media table's columns in the order the backends
// scan them.
const MediaColumns = `id, title, kind, status, progress, error, duration, renditions, source_name, source_size, created_at, updated_at, visibility, encrypted, error_code, skipped_rungs`

// Rows is what *sql.Rows and pgx.Rows share for reading a result.
type Rows interface {
	Next() bool
	Err() error
}

// Collect reads every row of a media query with scan; the caller closes
// rows.
func Collect[R Rows](rows R, scan func(R) (*hlsd.Media, error)) ([]*hlsd.Media, error) {
	var ms []*hlsd.Media
	for rows.Next() {
		m, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list media: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list media: %w", err)
	}
	return ms, nil
}

// DecodeRenditions reads the renditions column (JSON) of media id; none is
// an empty, non-nil slice (JSON [] rather than null in API answers).
func DecodeRenditions(id string, b []byte) ([]hlsd.Rendition, error) {
	var rs []hlsd.Rendition
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("decode renditions of %s: %w", id, err)
	}
	if rs == nil {
		rs = []hlsd.Rendition{}
	}
	return rs, nil
}

// EncodeRungs writes a media's skipped rungs as their JSON column.
func EncodeRungs(r []int) (string, error) {
	if r == nil {
		r = []int{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode skipped rungs: %w", err)
	}
	return string(b), nil
}

// DecodeRungs reads the skipped_rungs column of media id; none is nil.
func DecodeRungs(id string, b []byte) ([]int, error) {
	var r []int
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode skipped rungs of %s: %w", id, err)
	}
	if len(r) == 0 {
		return nil, nil
	}
	return r, nil
}

// ScanRows is Rows that can also scan a row's columns.
type ScanRows interface {
	Rows
	Scan(dest ...any) error
}

// JobCounts reads rows of (queue, state, count), River's jobs grouped by
// queue and state, into a map keyed by [queue, state]; the caller closes
// rows. Both backends run the same GROUP BY in their own dialect.
func JobCounts[R ScanRows](rows R) (map[[2]string]int, error) {
	n := map[[2]string]int{}
	for rows.Next() {
		var q, s string
		var c int
		if err := rows.Scan(&q, &s, &c); err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		n[[2]string{q, s}] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}
