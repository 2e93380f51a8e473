//go:build !windows

package installer

import "context"

// msiexecPath names msiexec off Windows, where only a fake runner can run
// it (tests).
func msiexecPath() string { return "msiexec" }

// waitProcess has nothing to wait for off Windows: no msiexec runs there.
func waitProcess(context.Context, int) error { return nil }

// restrictDir: the folder's mode (0700) already keeps others out.
func restrictDir(string) error { return nil }

// makePrivate: modes (0600, carried from the backup) already do it.
func makePrivate(string, bool) error { return nil }
