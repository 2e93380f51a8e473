//go:build !windows

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "winnssm: a Windows program (the nssm.exe stand-in of the sample MSIs)")
	os.Exit(2)
}
