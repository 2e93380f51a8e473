//go:build !linux && !darwin && !freebsd && !windows

package updater

import "errors"

func freeBytes(string) (int64, error) { return 0, errors.ErrUnsupported }

func isNoSpace(error) bool { return false }
