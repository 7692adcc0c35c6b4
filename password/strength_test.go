package password

import (
	"slices"
	"strings"
	"testing"
)

// strengthMessages are all the messages the strength rule can give: fixed
// text, so the password can never be in one.
func strengthMessages() []string {
	var all []string
	for _, w := range []string{"", warnCommon, warnSimilar, warnWord, warnWords, warnName, warnNames, warnUser, warnKeyboard, warnRepeat, warnSequence, warnDate} {
		for _, l := range []bool{false, true} {
			all = append(all, strength{warning: w, l33t: l}.message())
		}
	}
	return all
}

func TestStrengthRefusesGuessable(t *testing.T) {
	similar := "This is similar to a commonly used password; add another word or two. Uncommon words are better."
	tests := []struct {
		pw   string
		want string // the message, or "" for any strength message
	}{
		// Issue 10: each passed every other rule.
		{"password1234", similar},
		{"Password1234", similar},
		{"Summer2024!!", similar},
		{"passwordpassword", similar},
		{"qwertyuiop123", similar},
		{"Welcome2024!", similar},
		{"letmein12345", similar},
		{"iloveyou2024!", similar},
		// l33t spellings, keyboard rows, names with dates.
		{"P@ssw0rd2024!", similar + " Predictable substitutions like @ for a do not help much."},
		{"asdfghjkl;'123", ""},
		{"john.smith1985", ""},
		{"Jennifer1990!", ""},
		{"monkey123456", ""},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			got := DefaultPolicy.Check(tt.pw)
			if len(got) != 1 || got[0].Rule != "strength" {
				t.Fatalf("Check(%q) = %v, want one strength violation", tt.pw, got)
			}
			if tt.want != "" && got[0].Message != tt.want {
				t.Errorf("message %q, want %q", got[0].Message, tt.want)
			}
			if !slices.Contains(strengthMessages(), got[0].Message) {
				t.Errorf("message %q is not one of the fixed messages", got[0].Message)
			}
			// Off at 0.
			p := DefaultPolicy
			p.MinStrength = 0
			if v := p.Check(tt.pw); v != nil {
				t.Errorf("MinStrength 0: Check(%q) = %v, want nil", tt.pw, v)
			}
		})
	}
}

func TestStrengthAcceptsPassphrases(t *testing.T) {
	alice := Context{Username: "alice", Email: "alice.smith@example.com", Name: "Alice Smith"}
	for _, pw := range []string{
		// NIST SP 800-63B: long passphrases of common words are good.
		// (xkcd's "correct horse battery staple" is itself known from
		// breaches: the breach check, when configured, refuses it.)
		"correct horse battery staple",
		"orbit velvet sandal crayon",
		"gravel tulip mosaic harbor",
		"lantern pickle orbit meadow",
		"tundra biscuit quiver lemon",
		"maple syrup pancake morning",
		"xK9#mP2$vL7q",
		"äöüßéèêëïîôû",
		"🔑🔒🔓🔐🔏🔔🔕🔖🔗🔘🔙🔚",
	} {
		if v := DefaultPolicy.CheckWith(pw, alice); v != nil {
			t.Errorf("CheckWith(%q) = %v, want nil", pw, v)
		}
		p := DefaultPolicy
		p.MinStrength = 4
		if v := p.CheckWith(pw, alice); v != nil {
			t.Errorf("MinStrength 4: CheckWith(%q) = %v, want nil", pw, v)
		}
	}
}

// The user's own words, the service name's among them, count as guessable
// even where the context rule, which looks for whole context words, does
// not refuse them.
func TestStrengthUserInputs(t *testing.T) {
	c := Context{Username: "zq", Email: "xq@example.org", Name: "Wenzeslaus Quarkbottle"}
	for _, pw := range []string{
		"Quarkbottle1990!",  // surname and a year
		"wenz3slau5 2024!!", // l33t first name
		"Gat3h0use2024!",    // l33t service name: the context rule misses it
	} {
		if v := DefaultPolicy.CheckWith(pw, Context{}); pw != "Gat3h0use2024!" && v != nil {
			t.Errorf("without context CheckWith(%q) = %v, want nil", pw, v)
		}
		v := DefaultPolicy.CheckWith(pw, c)
		if len(v) != 1 || v[0].Rule != "strength" {
			t.Errorf("CheckWith(%q) = %v, want one strength violation", pw, v)
		}
	}
	if got, want := estimateStrength("Quarkbottle1990!", c).warning, warnUser; got != want {
		t.Errorf("warning %q, want %q", got, want)
	}
}

// Only the first maxEstimated characters are estimated: the cost is bounded
// whatever the length (a 1,024-byte password is not estimated in seconds),
// and a password that starts guessable is refused whatever follows.
func TestStrengthEstimatesPrefix(t *testing.T) {
	tail := strings.Repeat("x7#Qv", 300)
	for _, head := range []string{
		"Summer2024!!",
		"correct horse battery staple ",
		strings.Repeat("4@8({[<3&69!1|7+%$52", 4), // every l33t character
		strings.Repeat("qwertyuiopasdfghjkl", 4),
	} {
		pw := head + tail
		pw = pw[:1024]
		prefix := string([]rune(pw)[:maxEstimated])
		if got, want := estimateStrength(pw, Context{}), estimateStrength(prefix, Context{}); got != want {
			t.Errorf("estimate of %q… = %+v, of its first %d characters %+v", head, got, maxEstimated, want)
		}
	}
	weak := strings.Repeat("password", maxEstimated/8)
	v := DefaultPolicy.Check((weak + tail)[:1024])
	if len(v) != 1 || v[0].Rule != "strength" {
		t.Errorf("1,024 bytes starting with %q: %v, want one strength violation", weak, v)
	}
	if v := DefaultPolicy.Check(("Summer2024!!" + tail)[:1024]); v != nil {
		t.Errorf("1,024 bytes starting with Summer2024!!, then 52 random characters: %v, want nil", v)
	}
}

func TestL33tVariants(t *testing.T) {
	if got := l33tVariants("no subs here"); got != nil {
		t.Errorf("l33tVariants without l33t characters = %q", got)
	}
	got := l33tVariants("p@ssw0rd")
	if !slices.Equal(got, []string{"password"}) {
		t.Errorf("l33tVariants(p@ssw0rd) = %q", got)
	}
	// "1" is i or l, "7" l or t: four readings.
	got = l33tVariants("1i7")
	slices.Sort(got)
	if want := []string{"iil", "iit", "lil", "lit"}; !slices.Equal(got, want) {
		t.Errorf("l33tVariants(1i7) = %q, want %q", got, want)
	}
	all := l33tVariants("4@8({[<3&69!1|7+%$52")
	if len(all) > 8 {
		t.Errorf("every l33t character: %d variants, want at most 8", len(all))
	}
}

func TestStrengthMessagesNeverEmpty(t *testing.T) {
	for _, m := range strengthMessages() {
		if !strings.HasSuffix(m, ".") || strings.Contains(m, "; ;") {
			t.Errorf("message %q", m)
		}
	}
}

// BenchmarkStrength is the whole policy check of a new password, the
// strength estimate included (BenchmarkHash is what follows it).
func BenchmarkStrength(b *testing.B) {
	c := Context{Username: "alice", Email: "alice.smith@example.com", Name: "Alice Smith"}
	BlocklistSize() // load outside the loop
	for _, bb := range []struct{ name, pw string }{
		{"passphrase", "orbit velvet sandal crayon"},
		{"refused", "Summer2024!!"},
		{"l33t", "P@ssw0rd2024!"},
		{"random", "xK9#mP2$vL7q"},
		{"max-length", varied(1024)},
		{"max-length-l33t", (strings.Repeat("4@8({[<3&69!1|7+%$52", 4) + varied(1024))[:1024]},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				DefaultPolicy.CheckWith(bb.pw, c)
			}
		})
	}
}
