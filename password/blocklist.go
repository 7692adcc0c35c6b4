package password

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ccojocar/zxcvbn-go/data"
)

// blocklistAssets are the frequency lists of zxcvbn (Dropbox's password
// strength estimator, MIT licence), as embedded, gzipped, in the Go port
// github.com/ccojocar/zxcvbn-go (MIT licence) by its data package.
//
// zxcvbn's "Passwords" list began as the 10,000 most common passwords, but
// its build script (filter_dup in build_frequency_lists.py) made the lists
// disjoint: a word that ranks better in the English, first-name or surname
// list than among the passwords was moved there. "Passwords" alone therefore
// has only 7,141 entries and lacks common passwords such as "michael" or
// "jessica". Their union holds every one of the original 10,000, plus
// dictionary words and names, which NIST SP 800-63B also asks verifiers to
// refuse as a whole password.
var blocklistAssets = []string{
	"data/Passwords.json",
	"data/English.json",
	"data/FemaleNames.json",
	"data/MaleNames.json",
	"data/Surnames.json",
}

// blocklist is loaded on first use: decompressing and parsing the lists
// takes tens of milliseconds and a few megabytes that programs which never
// check a new password need not spend.
var blocklist struct {
	once  sync.Once
	words []string // lower-case, sorted, without duplicates
}

// blocklistWords returns the blocklist, loading it on first use. The lists
// are compiled into the program, so failing to read them is a build defect
// and panics.
func blocklistWords() []string {
	blocklist.once.Do(func() {
		words, err := loadBlocklist()
		if err != nil {
			panic(err)
		}
		blocklist.words = words
	})
	return blocklist.words
}

func loadBlocklist() ([]string, error) {
	var all []string
	for _, name := range blocklistAssets {
		raw, err := data.Asset(name)
		if err != nil {
			return nil, fmt.Errorf("password: blocklist %s: %w", name, err)
		}
		var list struct{ List []string }
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("password: blocklist %s: %w", name, err)
		}
		if len(list.List) == 0 {
			return nil, fmt.Errorf("password: blocklist %s is empty", name)
		}
		all = append(all, list.List...)
	}
	// Copy the words into one string, so the list costs one allocation
	// instead of one per word.
	var b strings.Builder
	for _, w := range all {
		b.WriteString(strings.ToLower(w))
	}
	joined := b.String()
	words := make([]string, 0, len(all))
	off := 0
	for _, w := range all {
		n := len(strings.ToLower(w))
		words = append(words, joined[off:off+n])
		off += n
	}
	slices.Sort(words)
	return slices.Compact(words), nil
}

// isCommon reports whether password, compared case-insensitively, is on the
// blocklist.
func isCommon(password string) bool {
	_, found := slices.BinarySearch(blocklistWords(), strings.ToLower(password))
	return found
}
