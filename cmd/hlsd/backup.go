package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/disk"
	"github.com/hlsd/hlsd/internal/postgres"
	"github.com/hlsd/hlsd/internal/sqlite"
)

// backupManifest is the file that marks a folder as an hlsd backup.
const backupManifest = "hlsd-backup.json"

// dbFile is the catalog's file name in the data dir (disk.Layout.DB).
const dbFile = "hlsd.db"

// manifest is what a backup records about itself.
type manifest struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"hlsd_version"`
	Data      string    `json:"data"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
}

// skipLive leaves out of a backup what belongs to a running process: the
// database (copied by sqlite.Backup instead) with its WAL, the lock, the
// tmp folder (uploads in progress) and files ffmpeg is still writing.
func skipLive(rel string, d fs.DirEntry) bool {
	switch rel {
	case dbFile, dbFile + "-wal", dbFile + "-shm", dbFile + "-journal", "hlsd.lock", "tmp", backupManifest:
		return true
	}
	return !d.IsDir() && (strings.HasSuffix(rel, ".tmp") || strings.HasSuffix(rel, ".part"))
}

// dataCommand parses the flags of backup and restore: --data (also from
// serve's config file) and one positional argument.
func (m *Main) dataCommand(name, arg, dataHelp string, args []string) (data, pos, db string, err error) {
	fs := m.newFlagSet(name, "[flags] "+arg)
	d := fs.String("data", "./data", dataHelp)
	dbURL := fs.String("db", "", "serve's --db: empty or an SQLite path is backed up here; a postgres:// URL is the operator's to back up (the command says what)")
	fs.String(configFlag, "", "serve's config `file` (also HLSD_CONFIG), for its data and db keys")
	if _, err := m.parseFlagsFrom(fs, args, false); err != nil {
		return "", "", "", err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return "", "", "", errUsage
	}
	return *d, fs.Arg(0), *dbURL, nil
}

// postgresBackupNote tells the operator of a library whose catalog is on
// Postgres what this copy lacks: hlsd cannot take a consistent snapshot of
// a database it does not own, so the dump is theirs, taken after this copy
// (every row then names files the copy has; files of newer rows are
// re-made by reprocessing).
func postgresBackupNote(db string) string {
	return fmt.Sprintf("the catalog and job queue are in Postgres (%s), not in this copy: back them up after it, e.g. "+
		"pg_dump --format=custom --file hlsd.dump '%s' (tables media, river_job and the rest of the database), and restore both together", postgres.Redact(db), postgres.Redact(db))
}

// buildDir fills a fresh hidden folder beside target with fill, then
// renames it to target (which must be missing or an empty folder), so
// target appears only complete; on failure the folder is removed.
func buildDir(target string, fill func(dir string) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(target), ".hlsd-"+filepath.Base(target)+"-*")
	if err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot create %s: %v", target, unwrapPath(err))
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.Remove(target) // an empty folder: the rename replaces it
	if err := errors.Join(os.Chmod(tmp, 0o750), os.Rename(tmp, target)); err != nil {
		os.RemoveAll(tmp)
		return hlsd.Errorf(hlsd.EINVALID, "cannot create %s: %v", target, unwrapPath(err))
	}
	return nil
}

// runBackup copies a data dir into a new folder, consistently while a
// server uses it: the database through SQLite's VACUUM INTO (one read
// transaction), then sources, presentations, keys and tokens as hard links
// where possible (they are never rewritten in place). The folder appears
// under its name only when complete.
func runBackup(ctx context.Context, m *Main, args []string) error {
	data, dest, db, err := m.dataCommand("backup", "DEST", "data `dir` to back up (serve's --data); the server may be running", args)
	if err != nil {
		return err
	}
	dest = filepath.Clean(dest)
	onPostgres := postgres.IsURL(db)
	if db != "" && !onPostgres && filepath.Clean(db) != filepath.Join(data, dbFile) {
		return hlsd.Errorf(hlsd.EINVALID, "--db %s: backup copies the SQLite catalog of the data dir only (DATA/%s)", db, dbFile)
	}
	if !onPostgres {
		if _, err := os.Stat(filepath.Join(data, dbFile)); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "%s is not an hlsd data dir: %s: %v", data, dbFile, unwrapPath(err))
		}
	} else if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
		return hlsd.Errorf(hlsd.EINVALID, "%s is not an hlsd data dir", data)
	}
	if _, err := os.Lstat(dest); err == nil {
		return hlsd.Errorf(hlsd.EINVALID, "%s exists: back up into a new folder", dest)
	}
	var st disk.TreeStats
	err = buildDir(dest, func(tmp string) error {
		// The database first: files of media it lists are published
		// before their rows say so, and never change afterwards.
		if !onPostgres {
			if err := sqlite.Backup(ctx, filepath.Join(data, dbFile), filepath.Join(tmp, dbFile)); err != nil {
				return err
			}
		}
		if st, err = disk.LinkTree(data, tmp, skipLive); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "back up %s: %v", data, err)
		}
		abs, _ := filepath.Abs(data)
		mf := manifest{Format: 1, CreatedAt: time.Now().UTC(), Version: versionInfo().Version, Data: abs, Files: st.Files + 1, Bytes: st.Bytes}
		b, _ := json.MarshalIndent(mf, "", "  ")
		return os.WriteFile(filepath.Join(tmp, backupManifest), append(b, '\n'), 0o600)
	})
	if err != nil {
		return err
	}
	if onPostgres {
		fmt.Fprintf(m.Stdout, "backed up %s to %s: %d files (%d hard links), %.1f MB; %s\n",
			data, dest, st.Files, st.Linked, float64(st.Bytes)/1e6, postgresBackupNote(db))
		return nil
	}
	fmt.Fprintf(m.Stdout, "backed up %s to %s: database and %d files (%d hard links), %.1f MB\n",
		data, dest, st.Files, st.Linked, float64(st.Bytes)/1e6)
	return nil
}

// runRestore puts a backup in place as a new data dir (missing or empty):
// the database is copied (the server writes to it), the other files hard
// linked where possible. The data dir appears only when complete.
func runRestore(ctx context.Context, m *Main, args []string) error {
	target, src, db, err := m.dataCommand("restore", "SRC", "data `dir` to create from the backup (missing or empty)", args)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(src, backupManifest)); err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "%s is not an hlsd backup (no %s)", src, backupManifest)
	}
	_, statErr := os.Stat(filepath.Join(src, dbFile))
	withDB := statErr == nil
	if !withDB && !postgres.IsURL(db) {
		return hlsd.Errorf(hlsd.EINVALID, "backup %s has no %s: it was taken from a library on Postgres; restore the database dump too and pass its --db", src, dbFile)
	}
	if withDB {
		if err := sqlite.Check(ctx, filepath.Join(src, dbFile)); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "backup %s is damaged: %v", src, err)
		}
	}
	target = filepath.Clean(target)
	if entries, err := os.ReadDir(target); err == nil && len(entries) > 0 {
		return hlsd.Errorf(hlsd.EINVALID, "%s is not empty: restore into a new data dir", target)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return hlsd.Errorf(hlsd.EINVALID, "%s: %v", target, unwrapPath(err))
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return hlsd.Errorf(hlsd.EINVALID, "cannot create %s: %v", target, unwrapPath(err))
	}
	var st disk.TreeStats
	err = buildDir(target, func(tmp string) error {
		if withDB {
			if err := disk.CopyFile(filepath.Join(src, dbFile), filepath.Join(tmp, dbFile)); err != nil {
				return err
			}
		}
		if st, err = disk.LinkTree(src, tmp, skipLive); err != nil {
			return hlsd.Errorf(hlsd.EINVALID, "restore %s: %v", src, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !withDB {
		fmt.Fprintf(m.Stdout, "restored %s into %s: %d files; restore the Postgres dump taken with it, then: hlsd serve --data %s --db '%s'\n", src, target, st.Files, target, postgres.Redact(db))
		return nil
	}
	fmt.Fprintf(m.Stdout, "restored %s into %s: database and %d files; start it with: hlsd serve --data %s\n", src, target, st.Files, target)
	return nil
}
