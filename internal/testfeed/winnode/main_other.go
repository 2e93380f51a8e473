//go:build !windows

package main

import (
	"fmt"
	"os"
)

// main runs the stand-in in the foreground (nssm's child mode) off
// Windows too, for unit tests; --service needs Windows.
func main() {
	if len(os.Args) != 2 || os.Args[1] == "--service" {
		fmt.Fprintln(os.Stderr, `usage: node.exe server.js|admin/server.js (--service NAME needs Windows)`)
		os.Exit(2)
	}
	os.Exit(console(os.Args[1]))
}
