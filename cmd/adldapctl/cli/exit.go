package cli

import (
	"context"
	"errors"

	"github.com/adldapctl/adldapctl/installer"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Exit codes. This is the one place they are decided; README lists them.
const (
	ExitOK              = 0   // success / all checks pass
	ExitFailed          = 1   // a check failed, or the operation failed (and was rolled back cleanly)
	ExitUsage           = 2   // usage error
	ExitNeedsElevation  = 3   // run as root / from an elevated prompt
	ExitVerification    = 4   // a download, archive or signature failed verification
	ExitUpdateAvailable = 10  // update --check: an update is available
	ExitInterrupted     = 130 // interrupted (SIGINT/SIGTERM)
)

// usageError marks a command-line mistake.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// exitError carries an exit code chosen by a command (e.g. 10) with an
// optional message.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// errorKind names an exit code's kind in the JSON error object.
func errorKind(code int) string {
	switch code {
	case ExitUsage:
		return "usage"
	case ExitNeedsElevation:
		return "elevation"
	case ExitVerification:
		return "verification"
	case ExitInterrupted:
		return "interrupted"
	default:
		return "failed"
	}
}

// jsonError is what a failing command prints on stdout under --json.
type jsonError struct {
	Error jsonErrorBody `json:"error"`
}

type jsonErrorBody struct {
	Code    int    `json:"code"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, platform.ErrNeedsElevation):
		return ExitNeedsElevation
	case errors.Is(err, updater.ErrVerification), errors.Is(err, installer.ErrUnsafeArchive):
		return ExitVerification
	default:
		return ExitFailed
	}
}
