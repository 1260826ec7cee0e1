// Package text checks the free text clients name things with: names, descriptions,
// keys. Lengths count characters (Unicode code points), never bytes, so a limit of 200
// means 200 "é" as well as 200 "e"; control characters (NUL, escape, ...) are refused
// everywhere, because a NUL cannot be stored by PostgreSQL and the others make names
// that print differently from what they are.
package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/billd/billd/internal/fault"
)

// MaxName is the longest name (of a service, package, account, partner, API key), in
// characters.
const MaxName = 200

// MaxDescription is the longest description, in characters.
const MaxDescription = 2000

// Name trims *s and refuses it (BAD_USER_INPUT on field) when it is empty, longer than
// max characters, or holds a control character.
func Name(field string, s *string, max int) error {
	*s = strings.TrimSpace(*s)
	if *s == "" {
		return fault.Invalidf(field, "must not be empty")
	}
	return check(field, *s, max, false)
}

// Description refuses *s when it is longer than MaxDescription characters or holds a
// control character other than a line break or a tab. Surrounding spaces are trimmed.
func Description(field string, s *string) error {
	if s == nil {
		return nil
	}
	*s = strings.TrimSpace(*s)
	return check(field, *s, MaxDescription, true)
}

// Plain refuses s when it is longer than max characters or holds a control
// character; unlike Name it neither trims nor requires a value.
func Plain(field, s string, max int) error {
	return check(field, s, max, false)
}

func check(field, s string, max int, lines bool) error {
	if !utf8.ValidString(s) {
		return fault.Invalidf(field, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fault.Invalidf(field, "is %d characters long, more than the %d allowed", n, max)
	}
	for i, r := range s {
		if !unicode.IsControl(r) || (lines && (r == '\n' || r == '\r' || r == '\t')) {
			continue
		}
		return fault.Invalidf(field, "holds the control character U+%04X at character %d: control characters are not allowed",
			r, utf8.RuneCountInString(s[:i])+1)
	}
	return nil
}
