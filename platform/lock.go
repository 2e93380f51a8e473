package platform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrLocked is wrapped by Lock when another adldapctl holds the lock.
var ErrLocked = errors.New("another adldapctl is running")

// FileLock is an exclusive lock held for the life of a mutating command.
type FileLock struct {
	f    *os.File
	path string
}

// Lock takes the exclusive lock at path without waiting. When another
// process holds it, the error wraps ErrLocked and names that process's pid.
func Lock(path string) (*FileLock, error) {
	if err := EnsureOwnDir(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := OpenOwnFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := tryLock(f); err != nil {
		holder := "unknown"
		b := make([]byte, 32)
		if n, rerr := f.ReadAt(b, 0); n > 0 && (rerr == nil || errors.Is(rerr, io.EOF)) {
			if pid := strings.TrimSpace(string(b[:n])); pid != "" {
				holder = pid
			}
		}
		f.Close()
		return nil, fmt.Errorf("%w (pid %s holds %s); wait for it to finish and try again", ErrLocked, holder, path)
	}
	if err := f.Truncate(0); err == nil {
		// The pid is a courtesy for the next waiter's message; the lock
		// itself is the flock.
		if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err == nil {
			_ = f.Sync()
		}
	}
	return &FileLock{f: f, path: path}, nil
}

// Unlock releases the lock.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	terr := l.f.Truncate(0)
	uerr := unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return errors.Join(terr, uerr, err)
}
