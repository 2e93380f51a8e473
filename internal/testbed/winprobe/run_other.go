//go:build !windows

package main

func run([]string) int {
	return fail("a Windows program: run it under Wine or on Windows (%s)", usage)
}
