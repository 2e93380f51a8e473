package installer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/adldapctl/adldapctl/platform"
)

// msiMagic opens every Windows Installer package: an OLE compound file.
var msiMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// ErrNotMSI is wrapped when a Windows artifact is not a Windows Installer
// package.
var ErrNotMSI = errors.New("not a Windows Installer package")

// checkMSI refuses a file that does not start as an MSI does.
func checkMSI(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(msiMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, msiMagic) {
		return fmt.Errorf("%w: %w: %s does not start with the OLE compound file signature; on Windows the release is the adldap-vX.Y.Z.msi asset", ErrUnsafeArchive, ErrNotMSI, path)
	}
	return nil
}

// Errors an msiexec exit code is classed under (see MSIError).
var (
	// ErrMSIFailed: the installation failed (1603 and any code without a
	// class of its own).
	ErrMSIFailed = errors.New("msiexec failed")
	// ErrMSIBusy: another installation was in progress for longer than
	// Options.MSIBusyWait (1618).
	ErrMSIBusy = errors.New("another installation is in progress")
	// ErrMSIPackage: the package could not be opened (1619, 1620).
	ErrMSIPackage = errors.New("the package could not be opened")
	// ErrMSIOtherVersion: another version of the product is installed
	// (1638).
	ErrMSIOtherVersion = errors.New("another version of the connector is installed")
	// ErrMSICancelled: the installation was cancelled (1602).
	ErrMSICancelled = errors.New("the installation was cancelled")
)

// Exit codes of msiexec (Windows Installer error codes) the step acts on.
const (
	msiOK            = 0
	msiCancelled     = 1602
	msiFatal         = 1603
	msiUnknownProd   = 1605
	msiBusy          = 1618
	msiOpenFailed    = 1619
	msiInvalidPkg    = 1620
	msiOtherVersion  = 1638
	msiRebootStarted = 1641
	msiRebootNeeded  = 3010
	msiNoPrivilege   = 1925
)

// msiMessages say what an exit code means and what to do.
var msiMessages = map[int]string{
	1601:            "the Windows Installer service could not be accessed: start the 'Windows Installer' service (msiserver) and run again",
	msiCancelled:    "the installation was cancelled (by a user or a shutdown)",
	msiFatal:        "fatal error during installation",
	1604:            "the installation was suspended, incomplete",
	msiUnknownProd:  "this product is not installed",
	msiBusy:         "another installation is already in progress: let it finish (or end it in Task Manager) and run again",
	msiOpenFailed:   "the package could not be opened: check that the file exists and that SYSTEM can read it",
	msiInvalidPkg:   "the package could not be opened: it is not a valid Windows Installer package (a damaged download?)",
	1624:            "a transform could not be applied",
	1625:            "system policy prohibits this installation: ask the domain administrator",
	1633:            "this package is not supported on this processor type",
	msiOtherVersion: "another version of this product is already installed: remove it first (adldapctl uninstall keeps the customer files) or use adldapctl update",
	1639:            "invalid command line",
	msiNoPrivilege:  "insufficient privileges to install for all users of the machine",
}

// MSIError is an msiexec run that failed: what it did, its exit code and
// the verbose log to read.
type MSIError struct {
	Op      string // install, remove
	Package string // the .msi or the product code
	Code    int
	Log     string
}

func (e *MSIError) Error() string {
	msg, ok := msiMessages[e.Code]
	if !ok {
		msg = "Windows Installer error"
	}
	s := fmt.Sprintf("msiexec %s %s: exit code %d: %s", e.Op, e.Package, e.Code, msg)
	switch e.Code {
	case msiNoPrivilege:
		s += "; run adldapctl from an elevated prompt (Run as administrator)"
	case msiBusy:
	default:
		s += "; the verbose log is " + e.Log + " (search it for \"Return value 3\")"
	}
	return s
}

// Unwrap classes the exit code.
func (e *MSIError) Unwrap() error {
	switch e.Code {
	case msiBusy:
		return ErrMSIBusy
	case msiOpenFailed, msiInvalidPkg:
		return ErrMSIPackage
	case msiOtherVersion:
		return ErrMSIOtherVersion
	case msiCancelled:
		return ErrMSICancelled
	case msiNoPrivilege:
		return platform.ErrNeedsElevation
	}
	return ErrMSIFailed
}

// msiOutcome maps an msiexec exit code to success (with a note when a
// reboot is needed) or an *MSIError.
func msiOutcome(op, pkg string, code int, log string) (note string, err error) {
	switch code {
	case msiOK:
		return "", nil
	case msiRebootNeeded, msiRebootStarted:
		return fmt.Sprintf("msiexec %s %s succeeded and asks for a reboot (exit code %d): restart Windows at a convenient time", op, pkg, code), nil
	case msiUnknownProd:
		if op == "remove" {
			return "", nil // already gone
		}
	}
	return "", &MSIError{Op: op, Package: pkg, Code: code, Log: log}
}
