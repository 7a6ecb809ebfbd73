package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
)

// The display-name rule. web/app/names.js mirrors it for the browser's name
// field (web's TestBrowserNameRule checks that both agree): change both.

// MaxCombiningMarks is how many combining marks may follow one another in a
// name: enough for any script, too few to stack marks over other text.
const MaxCombiningMarks = 3

// invisibleLetters are characters that are letters or symbols by category
// but draw nothing: a name made of them looks blank, or hides a space.
var invisibleLetters = map[rune]bool{
	0x115F: true, // HANGUL CHOSEONG FILLER
	0x1160: true, // HANGUL JUNGSEONG FILLER
	0x3164: true, // HANGUL FILLER
	0xFFA0: true, // HALFWIDTH HANGUL FILLER
	0x2800: true, // BRAILLE PATTERN BLANK
	0x034F: true, // COMBINING GRAPHEME JOINER
	0x17B4: true, // KHMER VOWEL INHERENT AQ
	0x17B5: true, // KHMER VOWEL INHERENT AA
}

// CleanName trims a display name and checks it: 1 to max characters, valid
// UTF-8, something visible; no control, format (zero-width, bidi),
// separator-line, private-use or invisible characters, and no stack of more
// than MaxCombiningMarks combining marks.
func CleanName(name string, max int) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", chatr.Errorf(chatr.EINVALID, "name must not be empty")
	}
	if !utf8.ValidString(name) {
		return "", chatr.Errorf(chatr.EINVALID, "name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > max {
		return "", chatr.Errorf(chatr.EINVALID, "name must be at most %d characters", max)
	}
	marks, visible := 0, false
	for i, r := range name {
		switch {
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			return "", chatr.Errorf(chatr.EINVALID, "name must not contain control, zero-width or text-direction characters")
		case unicode.Is(unicode.Co, r) || invisibleLetters[r]:
			return "", chatr.Errorf(chatr.EINVALID, "name must not contain invisible characters")
		case unicode.Is(unicode.M, r):
			if i == 0 {
				return "", chatr.Errorf(chatr.EINVALID, "name must not begin with a combining mark")
			}
			if marks++; marks > MaxCombiningMarks {
				return "", chatr.Errorf(chatr.EINVALID, "name must not stack more than %d combining marks", MaxCombiningMarks)
			}
		default:
			marks = 0
			if !unicode.Is(unicode.Zs, r) {
				visible = true
			}
		}
	}
	if !visible {
		return "", chatr.Errorf(chatr.EINVALID, "name must not be blank")
	}
	return name, nil
}
