package otp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LoadOrCreateKeyFile returns the SealKeySize-byte key stored in the file at
// path as 64 hexadecimal characters with an optional trailing newline. If
// the file does not exist it is created with a new key from crypto/rand and
// mode 0600, so there is never a default key (a publicly known default
// secret is a classic vulnerability); the directory must already exist.
//
// Creation is atomic and exclusive: the key is written to a temporary file
// in the same directory, synced, and then hard-linked to path, which fails
// if path already exists (unlike rename, which would silently replace it).
// So a reader never sees a half-written key, and when two processes start at
// the same time the loser discards its key and reads the winner's; both end
// up with the same key. A temporary file named ".<name>.tmp-*" can be left
// behind only if the process dies between writing and cleaning up.
//
// An existing file is refused, with an error that says why, if it is not a
// regular file, if group or other has any permission on it (the error names
// which ones; fix with chmod 600), or if its content is not exactly 64 hex
// characters plus an optional newline. The permission check is skipped on
// Windows, which does not have Unix modes.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}

	key = make([]byte, SealKeySize)
	rand.Read(key) // never returns an error
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*") // created with mode 0600
	if err != nil {
		return nil, fmt.Errorf("otp: creating key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after Link, path is a second name for the file
	data := hex.EncodeToString(key) + "\n"
	_, err = tmp.WriteString(data)
	if err == nil {
		err = tmp.Chmod(0o600) // in case the platform's CreateTemp differs
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("otp: writing key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created the key first; use theirs.
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("otp: creating key file: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// syncDir makes the new directory entry durable, best effort: not every
// platform or file system supports syncing a directory, and the key is
// already usable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readKeyFile reads and checks an existing key file. It returns an error
// satisfying errors.Is(err, fs.ErrNotExist) if there is no file.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("otp: opening key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("otp: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("otp: key file %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if runtime.GOOS != "windows" {
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("otp: key file %s has mode %04o, giving %s; it must be readable by its owner only (chmod 600 %s)",
				path, perm, describeAccess(perm), path)
		}
	}
	// Read one byte more than the longest valid content, to detect a file
	// that is too long without reading all of it.
	const want = 2 * SealKeySize
	data, err := io.ReadAll(io.LimitReader(f, want+3))
	if err != nil {
		return nil, fmt.Errorf("otp: reading key file: %w", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) != want {
		n := fmt.Sprint(len(data))
		if len(data) > want {
			n = "more than " + fmt.Sprint(want)
		}
		return nil, fmt.Errorf("otp: key file %s holds %s characters; want %d hex digits (a %d-byte key) and an optional newline",
			path, n, want, SealKeySize)
	}
	key := make([]byte, SealKeySize)
	if _, err := hex.Decode(key, data); err != nil {
		return nil, fmt.Errorf("otp: key file %s is not hex: %v", path, err)
	}
	return key, nil
}

// describeAccess names the group and other permission bits set in perm, for
// example "group read, other read and write".
func describeAccess(perm fs.FileMode) string {
	var parts []string
	for _, who := range []struct {
		name  string
		shift uint
	}{{"group", 3}, {"other", 0}} {
		var rights []string
		for _, r := range []struct {
			bit  fs.FileMode
			name string
		}{{4, "read"}, {2, "write"}, {1, "execute"}} {
			if perm>>who.shift&r.bit != 0 {
				rights = append(rights, r.name)
			}
		}
		if len(rights) > 0 {
			parts = append(parts, who.name+" "+strings.Join(rights, " and "))
		}
	}
	return strings.Join(parts, ", ")
}
