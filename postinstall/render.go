package postinstall

import (
	"fmt"
	"io"
)

// Glyphs per status for the human view.
var glyphs = map[Status]string{Pass: "✓", Warn: "!", Fail: "✗", Skip: "-"}

// Colors per status (ANSI), used only when the caller says colour is on.
var colors = map[Status]string{Pass: "32", Warn: "33", Fail: "31", Skip: "90"}

// WriteText renders rep for people: one line per check with a glyph and
// its title, then the diagnosis and remediation of every non-pass, then a
// summary line.
func WriteText(w io.Writer, rep *Report, color bool) {
	paint := func(st Status, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + colors[st] + "m" + s + "\x1b[0m"
	}
	for _, r := range rep.Checks {
		fmt.Fprintf(w, "%s %-18s %s\n", paint(r.Status, glyphs[r.Status]), r.ID, r.Title)
	}
	first := true
	for _, r := range rep.Checks {
		if r.Status == Pass {
			continue
		}
		if first {
			fmt.Fprintln(w)
			first = false
		}
		fmt.Fprintf(w, "%s %s: %s\n", paint(r.Status, glyphs[r.Status]), r.ID, r.Diagnosis)
		if r.Remediation != "" {
			fmt.Fprintf(w, "    fix: %s\n", r.Remediation)
		}
	}
	s := rep.Summary
	fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed, %d skipped\n", s.Pass, s.Warn, s.Fail, s.Skip)
}
