//go:build !windows

package platform

// windowsFolders gives Windows' usual folders off Windows: only the shape
// of the Windows paths is tested there (DetectOptions{GOOS: "windows"}).
func windowsFolders() (pf86, pf, pd string) {
	return `C:\Program Files (x86)`, `C:\Program Files`, `C:\ProgramData`
}
