//go:build windows

package platform

import "golang.org/x/sys/windows"

// windowsFolders returns Program Files (x86), Program Files and
// ProgramData from the shell's known folders (never a hard-coded drive
// letter); a folder the shell cannot name falls back to its usual place.
func windowsFolders() (pf86, pf, pd string) {
	get := func(id *windows.KNOWNFOLDERID, def string) string {
		if v, err := windows.KnownFolderPath(id, 0); err == nil && v != "" {
			return v
		}
		return def
	}
	return get(windows.FOLDERID_ProgramFilesX86, `C:\Program Files (x86)`),
		get(windows.FOLDERID_ProgramFiles, `C:\Program Files`),
		get(windows.FOLDERID_ProgramData, `C:\ProgramData`)
}
