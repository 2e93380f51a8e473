//go:build !linux

// Command demo is `make demo`; it boots a systemd-nspawn container and so
// runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "make demo runs on Linux only: it boots a throwaway Debian container with systemd-nspawn")
	os.Exit(1)
}
