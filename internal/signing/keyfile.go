package signing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeyFileName is the file in the data directory that keeps the generated
// signing keys when none is given on the command line.
const KeyFileName = "signing-keys"

// ReadKeyFile reads a key file: one "kid:secret" per line, the first one
// signing; blank lines and lines starting with '#' are skipped.
func ReadKeyFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, err := ParseKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", filepath.Base(path), n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no key", filepath.Base(path))
	}
	return keys, nil
}

// LoadOrCreate returns the keys of the key file at path, creating it with
// one new random key (mode 0600, written then synced) when it does not
// exist. created reports whether it did.
func LoadOrCreate(path string, now time.Time) (keys []Key, created bool, err error) {
	keys, err = ReadKeyFile(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return keys, false, err
	}
	k := NewKey(now)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	_, werr := fmt.Fprintf(f, "# hlsd playback signing keys: kid:secret, the first signs, all verify.\n%s\n", k)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return []Key{k}, true, nil
}
