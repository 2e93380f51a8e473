//go:build windows

package installer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// msiexecPath is System32's msiexec.exe, not whatever PATH finds first.
func msiexecPath() string {
	if dir, err := windows.GetSystemDirectory(); err == nil && dir != "" {
		return filepath.Join(dir, "msiexec.exe")
	}
	return "msiexec.exe"
}

// waitProcess waits until process pid has exited or ctx ends. A pid that
// no longer exists, or that now names something other than msiexec.exe
// (reused), counts as exited.
func waitProcess(ctx context.Context, pid int) error {
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return nil // gone
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err == nil {
		if name := strings.ToLower(filepath.Base(windows.UTF16ToString(buf[:n]))); name != "msiexec.exe" {
			return nil
		}
	}
	for {
		ev, err := windows.WaitForSingleObject(h, 250)
		if err != nil {
			return err
		}
		if ev == windows.WAIT_OBJECT_0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(0):
		}
	}
}

// restrictDir gives dir a protected ACL: full control for SYSTEM and
// Administrators, inherited by what is created in it, nothing for anyone
// else (ProgramData's own ACL lets every user read).
func restrictDir(dir string) error { return restrict(dir, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)") }

// makePrivate gives a customer file (config.json) or folder (certs) the
// ACL the connector's secrets need: SYSTEM (the service's account) and
// Administrators only.
func makePrivate(path string, dir bool) error {
	if dir {
		return restrictDir(path)
	}
	return restrict(path, "D:P(A;;FA;;;SY)(A;;FA;;;BA)")
}

func restrict(path, sddl string) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED) {
		return nil // Wine without ACL support
	}
	return err
}
