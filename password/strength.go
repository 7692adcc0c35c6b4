package password

import (
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go/adjacency"
	"github.com/ccojocar/zxcvbn-go/frequency"
	"github.com/ccojocar/zxcvbn-go/match"
	"github.com/ccojocar/zxcvbn-go/matching"
	"github.com/ccojocar/zxcvbn-go/scoring"
)

// maxEstimated is the number of characters of a password that the strength
// estimate looks at. zxcvbn's matching is superlinear in the length (every
// substring is looked up in every dictionary, and the cheapest cover is
// searched over all the matches), so estimating a 1,024-byte password would
// take seconds. A password's first 64 characters are estimated and the rest
// is ignored: a password whose first 64 characters are guessable is refused
// (fail closed), and one whose first 64 are not is strong whatever follows.
const maxEstimated = 64

// maxL33tVariants bounds the number of de-l33ted spellings of a password
// that are matched against the dictionaries. zxcvbn's table has three
// ambiguous characters ("1" and "|" for i or l, "7" for l or t), so there
// are at most 8; the bound only guards against a larger table.
const maxL33tVariants = 16

// Score is zxcvbn's 0–4 scale: the estimated time to guess the password at
// 10,000 guesses a second is under 10² s (0), 10⁴ s (1), 10⁶ s (2), 10⁸ s
// (3), or more (4).
const maxScore = 4

// strength is the outcome of estimateStrength.
type strength struct {
	// score is zxcvbn's 0–4 score.
	score int
	// warning says, for a person, what makes the password guessable; it
	// is fixed text and never contains the password. It is empty when no
	// pattern was found.
	warning string
	// l33t reports whether that pattern relied on l33t substitutions.
	l33t bool
}

// The warnings of the strength rule, after zxcvbn's feedback.
const (
	warnCommon        = "This is a very common password"
	warnSimilar       = "This is similar to a commonly used password"
	warnWord          = "A single word is easy to guess"
	warnWords         = "Common words and phrases are easy to guess"
	warnName          = "Names and surnames by themselves are easy to guess"
	warnNames         = "Common names and surnames are easy to guess"
	warnUser          = "This is similar to your username, name or email address"
	warnKeyboard      = "Keyboard patterns like qwerty are easy to guess"
	warnRepeat        = "Repeated characters and words are easy to guess"
	warnSequence      = "Sequences like abc or 6543 are easy to guess"
	warnDate          = "Dates and years are easy to guess"
	warnGuessable     = "This password is easy to guess"
	strengthSuggest   = "add another word or two. Uncommon words are better."
	substitutionsNote = " Predictable substitutions like @ for a do not help much."
)

// message is the message of the "strength" rule: the warning and what to
// do about it.
func (s strength) message() string {
	w := s.warning
	if w == "" {
		w = warnGuessable
	}
	m := w + "; " + strengthSuggest
	if s.l33t {
		m += substitutionsNote
	}
	return m
}

// estimateStrength estimates how hard password is to guess with zxcvbn
// (Dropbox's estimator, as ported to Go by github.com/ccojocar/zxcvbn-go):
// the cheapest way to build the password from common passwords, English
// words, names, the user's own words (see userInputs), keyboard patterns,
// repeats, sequences and dates, l33t substitutions included, the rest
// guessed character by character. Only the first maxEstimated characters
// are estimated.
func estimateStrength(password string, c Context) strength {
	pw := password
	if utf8.RuneCountInString(pw) > maxEstimated {
		r := []rune(pw)
		pw = string(r[:maxEstimated])
	}
	inputs := userInputs(c)
	// The port's own l33t matcher enumerates every combination of every
	// l33t character's spellings and matches each against every
	// dictionary: with many l33t characters it takes seconds on 64
	// characters. It is replaced by l33tMatches, which de-l33ts each
	// character one way (up to 8 ways in all).
	matches := matching.Omnimatch(pw, inputs, matching.FilterL33tMatcher)
	matches = append(matches, l33tMatches(pw, inputs)...)
	res := scoring.MinimumEntropyMatchSequence(pw, matches)
	s := strength{score: min(max(res.Score, 0), maxScore)}
	s.warning, s.l33t = warning(res.MatchSequence, utf8.RuneCountInString(pw))
	return s
}

// userInputs are the words of the user's own that the estimator treats as
// a dictionary of its own: the service's name, the username, the email
// address, its local part and the local part's words, the name and its
// words, each of at least 3 characters.
func userInputs(c Context) []string {
	var in []string
	add := func(w string) {
		w = strings.ToLower(strings.TrimSpace(w))
		if utf8.RuneCountInString(w) >= 3 && !slices.Contains(in, w) {
			in = append(in, w)
		}
	}
	words := func(s string) {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
		}
	}
	add(ServiceName)
	add(c.Username)
	words(c.Username)
	add(c.Email)
	local := c.Email
	if i := strings.LastIndexByte(c.Email, '@'); i >= 0 {
		local = c.Email[:i]
	}
	add(local)
	words(local)
	add(c.Name)
	words(c.Name)
	return in
}

// l33t maps each l33t character to the letters it may stand for, sorted.
var l33t = sync.OnceValue(func() map[rune][]rune {
	m := map[rune][]rune{}
	for letter, subs := range adjacency.GraphMap["l33t"].Graph {
		l, _ := utf8.DecodeRuneInString(letter)
		for _, s := range subs {
			r, _ := utf8.DecodeRuneInString(s)
			m[r] = append(m[r], l)
		}
	}
	for _, letters := range m {
		slices.Sort(letters)
	}
	return m
})

// l33tVariants returns the spellings of pw with every l33t character
// replaced by a letter it stands for ("p@ssw0rd" becomes "password"): one
// for each way of reading the ambiguous characters, at most
// maxL33tVariants, or none when pw has no l33t character.
func l33tVariants(pw string) []string {
	table := l33t()
	var present []rune
	n := 1
	for _, r := range pw {
		if letters, ok := table[r]; ok && !slices.Contains(present, r) {
			present = append(present, r)
			n *= len(letters)
		}
	}
	if len(present) == 0 {
		return nil
	}
	n = min(n, maxL33tVariants)
	variants := make([]string, 0, n)
	for k := range n {
		choice := make(map[rune]rune, len(present))
		x := k
		for _, r := range present {
			letters := table[r]
			choice[r] = letters[x%len(letters)]
			x /= len(letters)
		}
		variants = append(variants, strings.Map(func(r rune) rune {
			if l, ok := choice[r]; ok {
				return l
			}
			return r
		}, pw))
	}
	return variants
}

// l33tSuffix marks the dictionary matches found by de-l33ting.
const l33tSuffix = "_l33t"

// l33tMatches returns the dictionary words found in the de-l33ted spellings
// of pw that contain a substitution, with the token as typed and the extra
// entropy of the substitutions (zxcvbn's extra_l33t_entropy).
func l33tMatches(pw string, inputs []string) []match.Match {
	variants := l33tVariants(pw)
	if len(variants) == 0 {
		return nil
	}
	onlyDictionaries := func(m match.Matcher) bool {
		_, isDictionary := frequency.Lists[m.ID]
		return !isDictionary
	}
	orig := []rune(pw)
	var out []match.Match
	for _, v := range variants {
		sub := []rune(v)
		for _, m := range matching.Omnimatch(v, inputs, onlyDictionaries) {
			if m.Pattern != "dictionary" || m.I < 0 || m.J >= len(orig) || m.I > m.J {
				continue
			}
			typed, read := orig[m.I:m.J+1], sub[m.I:m.J+1]
			if slices.Equal(typed, read) {
				continue // found without de-l33ting
			}
			m.Token = string(typed)
			m.DictionaryName += l33tSuffix
			m.Entropy += l33tEntropy(typed, read)
			out = append(out, m)
		}
	}
	return out
}

// l33tEntropy is the number of bits a guesser spends on the substitutions
// that turn read into typed: for each substitution, which of the letters it
// could apply to were substituted (at least 1 bit in all).
func l33tEntropy(typed, read []rune) float64 {
	type sub struct{ from, to rune }
	var subs []sub
	for i := range typed {
		if typed[i] != read[i] {
			s := sub{read[i], typed[i]}
			if !slices.Contains(subs, s) {
				subs = append(subs, s)
			}
		}
	}
	possibilities := 0.0
	for _, s := range subs {
		var subbed, unsubbed int
		for i := range typed {
			switch {
			case typed[i] == s.to && read[i] == s.from:
				subbed++
			case unicode.ToLower(typed[i]) == s.from:
				unsubbed++
			}
		}
		for i := 0; i <= min(subbed, unsubbed); i++ {
			possibilities += binomial(subbed+unsubbed, i)
		}
	}
	if possibilities <= 1 {
		return 1
	}
	return math.Log2(possibilities)
}

// binomial is n choose k.
func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// warning explains the longest pattern of the estimate's match sequence, as
// zxcvbn's feedback does, and reports whether it was found by de-l33ting.
// n is the number of characters estimated.
func warning(seq []match.Match, n int) (string, bool) {
	var longest *match.Match
	for i := range seq {
		m := &seq[i]
		if m.Pattern == "bruteforce" || m.Pattern == "" {
			continue
		}
		if longest == nil || m.J-m.I > longest.J-longest.I {
			longest = m
		}
	}
	if longest == nil {
		return "", false
	}
	whole := longest.I == 0 && longest.J == n-1
	switch longest.Pattern {
	case "dictionary":
		dict, isL33t := strings.CutSuffix(longest.DictionaryName, l33tSuffix)
		switch dict {
		case "Passwords":
			if whole && !isL33t {
				return warnCommon, false
			}
			return warnSimilar, isL33t
		case "English":
			if whole {
				return warnWord, isL33t
			}
			return warnWords, isL33t
		case "MaleNames", "FemaleNames", "Surname":
			if whole {
				return warnName, isL33t
			}
			return warnNames, isL33t
		case "user_inputs":
			return warnUser, isL33t
		}
		return warnWords, isL33t
	case "spatial":
		return warnKeyboard, false
	case "repeat":
		return warnRepeat, false
	case "sequence":
		return warnSequence, false
	case "date":
		return warnDate, false
	}
	return "", false
}
