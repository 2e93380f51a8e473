package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the command's streams: answers on Out, progress and
// diagnostics on ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrTTY is true when ErrOut is a terminal (progress bars).
	ErrTTY bool
	InTTY  bool
	OutTTY bool
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())), InTTY: term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd()))}
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.io.Out, format, args...) }

// logf writes a progress line to stderr.
func (a *app) logf(format string, args ...any) {
	if a.json && !a.verbose {
		return
	}
	fmt.Fprintf(a.io.ErrOut, "adldapctl: "+format+"\n", args...)
}

func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.io.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ANSI colours for human output.
const (
	colorRed    = "31"
	colorGreen  = "32"
	colorYellow = "33"
)

// colorOn reports whether human output may be coloured: only on a
// terminal, never with --no-color or NO_COLOR set, never under --json.
func (a *app) colorOn(tty bool) bool {
	return tty && !a.noColor && os.Getenv("NO_COLOR") == "" && !a.json && os.Getenv("TERM") != "dumb"
}

// paint colours s for stderr.
func (a *app) paint(color, s string) string {
	if !a.colorOn(a.io.ErrTTY) {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// paintOut colours s for stdout.
func (a *app) paintOut(color, s string) string {
	if !a.colorOn(a.io.OutTTY) {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}
