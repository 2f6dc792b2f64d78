package hlsd

import (
	"context"
	"crypto/rand"
)

// Catalog is the durable record of the library's media. It is the contract
// between the service (internal/library) and a database backend: SQLite
// (internal/sqlite) or Postgres (internal/postgres); both pass the shared
// conformance suite in internal/catalogtest, so callers never depend on one
// backend's quirks.
//
// Every method returns an *Error with code ENOTFOUND for an unknown id,
// EINVALID for a malformed argument (bad cursor, unknown status) and
// ECONFLICT when MediaUpdate.IfStatus does not match; other failures are
// plain errors (EINTERNAL at the edge). Times are UTC with microsecond
// precision, the common ground of SQLite text and Postgres timestamptz.
type Catalog interface {
	// CreateMedia stores m. An empty m.ID gets a new one (NewMediaID);
	// zero CreatedAt/UpdatedAt get the current time. m is updated in place
	// with what was stored. A duplicate id is ECONFLICT.
	CreateMedia(ctx context.Context, m *Media) error
	// GetMedia returns the media with the given id.
	GetMedia(ctx context.Context, id string) (*Media, error)
	// ListMedia returns one page of media, newest first.
	ListMedia(ctx context.Context, f MediaFilter) (*MediaPage, error)
	// UpdateMedia applies the non-nil fields of upd, bumps UpdatedAt and
	// returns the media as stored.
	UpdateMedia(ctx context.Context, id string, upd MediaUpdate) (*Media, error)
	// DeleteMedia removes the record; files are the caller's business.
	DeleteMedia(ctx context.Context, id string) error
}

// Database is a Catalog whose changes can be grouped in transactions. It is
// what the service (internal/library) holds: creating a media and inserting
// its transcode job, or marking it ready and inserting its webhook event,
// must happen together or not at all, so the job queue (River, on the same
// database; see internal/queue) inserts its jobs inside the transaction
// that Tx hands to fn.
type Database interface {
	Catalog
	// Tx runs fn in one transaction, committed when fn returns nil and
	// rolled back otherwise (fn's error is returned as is). Inside fn, use
	// only tx: the database may be the one connection tx holds.
	Tx(ctx context.Context, fn func(tx Catalog) error) error
}

// Page sizes of ListMedia: a zero MediaFilter.Limit means DefaultListLimit,
// and larger limits are cut to MaxListLimit so one request stays cheap.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// MediaFilter selects a page of ListMedia.
type MediaFilter struct {
	// Query, when set, keeps media whose title contains it (case-insensitive
	// for ASCII letters).
	Query string
	// Status, when set, keeps media in that status only.
	Status Status
	// Cursor is MediaPage.NextCursor of the previous page; empty for the first.
	// It is opaque: a cursor that was not made by the catalog is EINVALID.
	Cursor string
	// Limit is the page size (see DefaultListLimit and MaxListLimit).
	Limit int
}

// MediaPage is one page of ListMedia.
type MediaPage struct {
	Media []*Media
	// NextCursor fetches the next page; empty when this page is the last.
	NextCursor string
}

// MediaUpdate lists the fields UpdateMedia changes: nil means unchanged.
// Pointers (rather than a full Media) let a progress write and a title edit
// run at once without one erasing the other.
type MediaUpdate struct {
	Title      *string
	Kind       *Kind
	Status     *Status
	Progress   *float64
	Error      *string
	ErrorCode  *string
	Duration   *float64
	Renditions *[]Rendition
	Visibility *string
	// SkippedRungs replaces Media.SkippedRungs.
	SkippedRungs *[]int
	// IfStatus, when non-empty, makes the update conditional: it applies only
	// while the media is in one of these statuses, and is ECONFLICT otherwise.
	// It is how reprocess refuses media that is still being processed
	// without a read-then-write race.
	IfStatus []Status
}

// Ptr returns a pointer to v, for filling MediaUpdate.
func Ptr[T any](v T) *T { return &v }

// mediaIDAlphabet is lowercase letters and digits: ids are safe in URLs,
// file names and case-insensitive file systems without escaping.
const mediaIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// MediaIDLength is the length of ids made by NewMediaID (about 62 bits).
const MediaIDLength = 12

// NewMediaID returns a new random media id from crypto/rand. Ids are random
// rather than sequential so they cannot be guessed or enumerated: the id is
// the only secret of a public playback URL.
func NewMediaID() string {
	b := make([]byte, MediaIDLength)
	// 252 is the largest multiple of 36 below 256: rejecting bytes above it
	// keeps every character equally likely.
	for i := 0; i < len(b); {
		var r [16]byte
		rand.Read(r[:])
		for _, c := range r {
			if c < 252 && i < len(b) {
				b[i] = mediaIDAlphabet[c%36]
				i++
			}
		}
	}
	return string(b)
}

// ValidMediaID reports whether id has the shape NewMediaID makes. Handlers
// check it before touching the catalog or building a path, so a crafted id
// ("..", slashes) never reaches the file system.
func ValidMediaID(id string) bool {
	if len(id) != MediaIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
