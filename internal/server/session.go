package server

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SessionsFile is the file in the data directory that lists the web UI
// sessions still signed in, so that signing out revokes a session for good,
// across restarts. It is private to hlsd's user (0600).
const SessionsFile = "sessions"

// maxSessions bounds the sessions kept: past it, the ones ending soonest go.
const maxSessions = 10_000

// sessionID is the random identity of one signed-in browser.
type sessionID [16]byte

// sessionStore is the server-side list of live sessions: a session cookie
// is valid only while its id is here, so signing out (remove) ends it even
// for a copy of the cookie kept elsewhere. Each change rewrites the file
// whole (sign-ins are rate-limited and rare), atomically.
type sessionStore struct {
	path string // "" keeps sessions in memory only
	mu   sync.Mutex
	live map[sessionID]int64 // id → expiry, unix seconds
}

// openSessions loads path (a missing file is an empty list).
func openSessions(path string) (*sessionStore, error) {
	st := &sessionStore{path: path, live: map[sessionID]int64{}}
	if path == "" {
		return st, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, e, ok := strings.Cut(sc.Text(), " ")
		exp, err := strconv.ParseInt(e, 10, 64)
		var id sessionID
		if n, herr := hex.Decode(id[:], []byte(h)); !ok || err != nil || herr != nil || n != len(id) {
			continue // a damaged line only signs that browser out
		}
		st.live[id] = exp
	}
	return st, sc.Err()
}

// add makes a new live session ending at expiry.
func (st *sessionStore) add(expiry time.Time) (sessionID, error) {
	var id sessionID
	rand.Read(id[:])
	st.mu.Lock()
	defer st.mu.Unlock()
	st.prune(time.Now())
	st.live[id] = expiry.Unix()
	return id, st.save()
}

// remove ends a session (sign-out).
func (st *sessionStore) remove(id sessionID) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.live[id]; !ok {
		return nil
	}
	delete(st.live, id)
	return st.save()
}

// valid reports whether id is a live session at now.
func (st *sessionStore) valid(id sessionID, now time.Time) bool {
	st.mu.Lock()
	exp, ok := st.live[id]
	st.mu.Unlock()
	return ok && now.Unix() < exp
}

// prune drops expired sessions, then the soonest-ending ones past
// maxSessions-1 (room for one more).
func (st *sessionStore) prune(now time.Time) {
	for id, exp := range st.live {
		if exp <= now.Unix() {
			delete(st.live, id)
		}
	}
	if over := len(st.live) - (maxSessions - 1); over > 0 {
		ids := make([]sessionID, 0, len(st.live))
		for id := range st.live {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b sessionID) int { return cmp.Compare(st.live[a], st.live[b]) })
		for _, id := range ids[:over] {
			delete(st.live, id)
		}
	}
}

// save writes the list to a temporary file beside path and renames it in
// place, so a crash leaves the old list or the new one, never half.
func (st *sessionStore) save() error {
	if st.path == "" {
		return nil
	}
	var b strings.Builder
	for id, exp := range st.live {
		b.WriteString(hex.EncodeToString(id[:]) + " " + strconv.FormatInt(exp, 10) + "\n")
	}
	f, err := os.CreateTemp(filepath.Dir(st.path), ".sessions-*")
	if err != nil {
		return fmt.Errorf("save sessions: %w", err)
	}
	_, err = f.WriteString(b.String()) // CreateTemp makes it 0600
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), st.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save sessions: %w", err)
	}
	return nil
}
