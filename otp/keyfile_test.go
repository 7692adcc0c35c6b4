package otp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKeyFileCreatesAndReuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seal.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != SealKeySize || bytes.Equal(k1, make([]byte, SealKeySize)) {
		t.Fatalf("bad key %x", k1)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != hex.EncodeToString(k1)+"\n" {
		t.Errorf("file content %q", data)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reuse: %x, %v; want %x", k2, err, k1)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v", names)
	}
	// A key created by another tool, without newline or with CRLF, in upper
	// case, is read as well.
	want := bytes.Repeat([]byte{0xab}, SealKeySize)
	for _, content := range []string{
		hex.EncodeToString(want),
		strings.ToUpper(hex.EncodeToString(want)) + "\n",
		hex.EncodeToString(want) + "\r\n",
	} {
		p := filepath.Join(dir, "other.key")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadOrCreateKeyFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("content %q: %x, %v", content, got, err)
		}
	}
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	for round := 0; round < 50; round++ {
		path := filepath.Join(t.TempDir(), "seal.key")
		var wg sync.WaitGroup
		start := make(chan struct{})
		keys := make([][]byte, 2)
		errs := make([]error, 2)
		for i := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				keys[i], errs[i] = LoadOrCreateKeyFile(path)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d goroutine %d: %v", round, i, err)
			}
		}
		if !bytes.Equal(keys[0], keys[1]) {
			t.Fatalf("round %d: goroutines got different keys %x and %x", round, keys[0], keys[1])
		}
		onDisk, err := LoadOrCreateKeyFile(path)
		if err != nil || !bytes.Equal(onDisk, keys[0]) {
			t.Fatalf("round %d: file holds %x, goroutines got %x", round, onDisk, keys[0])
		}
	}
}

func TestLoadOrCreateKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	content := []byte(hex.EncodeToString(bytes.Repeat([]byte{1}, SealKeySize)) + "\n")
	for mode, want := range map[fs.FileMode]string{
		0o640: "group read",
		0o604: "other read",
		0o620: "group write",
		0o666: "group read and write, other read and write",
		0o701: "other execute",
		0o677: "group read and write and execute, other read and write and execute",
	} {
		path := filepath.Join(t.TempDir(), "seal.key")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // not subject to umask
			t.Fatal(err)
		}
		_, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Errorf("mode %04o accepted", mode)
			continue
		}
		if !strings.Contains(err.Error(), "giving "+want+";") || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: error %q does not say %q", mode, err, want)
		}
		// The file is left alone, not replaced by a new key.
		if data, _ := os.ReadFile(path); !bytes.Equal(data, content) {
			t.Errorf("mode %04o: file was changed", mode)
		}
	}
	// 0400 (read-only for the owner) is fine.
	path := filepath.Join(t.TempDir(), "seal.key")
	os.WriteFile(path, content, 0o400)
	if _, err := LoadOrCreateKeyFile(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestLoadOrCreateKeyFileBadContent(t *testing.T) {
	good := hex.EncodeToString(bytes.Repeat([]byte{7}, SealKeySize))
	for name, c := range map[string]struct{ content, want string }{
		"empty":       {"", "holds 0 characters"},
		"newline":     {"\n", "holds 0 characters"},
		"short":       {good[:62], "holds 62 characters"},
		"long":        {good + "00", "holds more than 64 characters"},
		"two newline": {good + "\n\n", "holds more than 64 characters"},
		"space":       {good + " ", "holds more than 64 characters"},
		"huge":        {strings.Repeat(good, 1000), "holds more than 64 characters"},
		"not hex":     {good[:63] + "g", "is not hex"},
		"base64":      {strings.Repeat("QUJD", 16), "is not hex"},
	} {
		path := filepath.Join(t.TempDir(), "seal.key")
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
	}
	// A directory in the way is refused, as is a missing parent directory.
	dir := t.TempDir()
	if _, err := LoadOrCreateKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := LoadOrCreateKeyFile(filepath.Join(dir, "missing", "seal.key")); err == nil {
		t.Error("missing directory: no error")
	} else if errors.Is(err, fs.ErrExist) {
		t.Errorf("missing directory: %v", err)
	}
}
