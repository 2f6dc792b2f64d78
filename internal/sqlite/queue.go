package sqlite

import (
	"github.com/hlsd/hlsd/internal/queue"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// Queue returns the Opener of River on this database (riversqlite): its job
// tables live in the same file, and jobs are inserted in the *Tx of DB.Tx.
func (d *DB) Queue() queue.Opener {
	return queue.New(riversqlite.New(d.db), (*Tx).SQL)
}

// Shared reports false: an SQLite file serves one hlsd process (which locks
// its data directory), so jobs found running at start were left by a dead
// process.
func (d *DB) Shared() bool { return false }
