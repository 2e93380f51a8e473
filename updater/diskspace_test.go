package updater

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFreeSpace(t *testing.T) {
	dir := t.TempDir()
	if err := CheckFreeSpace(dir, 1); err != nil {
		t.Fatalf("1 byte: %v", err)
	}
	if err := CheckFreeSpace(dir, 0); err != nil {
		t.Fatalf("0 bytes: %v", err)
	}
	err := CheckFreeSpace(dir, math.MaxInt64)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("MaxInt64 bytes: err = %v, want ErrNoSpace", err)
	}
	for _, s := range []string{dir, "need 9223372 TB", "have ", "free some space"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q should mention %q", err, s)
		}
	}
	err = CheckFreeSpace(filepath.Join(dir, "missing"), 1)
	if err == nil || errors.Is(err, ErrNoSpace) {
		t.Errorf("missing dir: err = %v, want an error that is not ErrNoSpace", err)
	}
}

// spaceRecorder stands in for CheckFreeSpace: it records what was asked
// and fails with ErrNoSpace above limit.
type spaceRecorder struct {
	limit int64
	needs []int64
}

func (s *spaceRecorder) check(dir string, need int64) error {
	s.needs = append(s.needs, need)
	if need > s.limit {
		return fmt.Errorf("%w: not enough space in %s: need %d, have %d", ErrNoSpace, dir, need, s.limit)
	}
	return nil
}

func TestFetchChecksFreeSpace(t *testing.T) {
	body := payload(100_000)

	t.Run("size from the feed, checked before any request", func(t *testing.T) {
		s, a := startFeed(t, body)
		a.Size = int64(len(body))
		rec := &spaceRecorder{limit: 100_000}
		dir := t.TempDir()
		_, err := (&Downloader{checkSpace: rec.check}).Fetch(context.Background(), a, dir, VerifyOptions{})
		if !errors.Is(err, ErrNoSpace) || errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), a.Name) {
			t.Fatalf("err = %v, want ErrNoSpace naming the artifact", err)
		}
		if fmt.Sprint(rec.needs) != "[110000]" || s.Requests(a.URL) != 0 {
			t.Errorf("asked for %v, %d requests; want 110000 (size + 10%%) and no request", rec.needs, s.Requests(a.URL))
		}
		assertEmpty(t, dir)
	})

	t.Run("size from Content-Length", func(t *testing.T) {
		_, a := startFeed(t, body)
		rec := &spaceRecorder{limit: math.MaxInt64}
		if _, err := (&Downloader{checkSpace: rec.check}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(rec.needs) != "[110000]" {
			t.Errorf("asked for %v, want [110000]", rec.needs)
		}
	})

	t.Run("resuming needs only the rest", func(t *testing.T) {
		s, a := startFeed(t, body)
		dir := t.TempDir()
		interrupt(t, s, a, dir, 60_000)
		a.Size = int64(len(body))
		rec := &spaceRecorder{limit: math.MaxInt64}
		if _, err := (&Downloader{checkSpace: rec.check}).Fetch(context.Background(), a, dir, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(rec.needs) != "[44000]" {
			t.Errorf("asked for %v, want [44000] (40000 left + 10%%)", rec.needs)
		}
	})

	t.Run("unknown free space does not block", func(t *testing.T) {
		_, a := startFeed(t, body)
		cannot := func(string, int64) error { return errors.New("statfs: not supported") }
		var logs logTo
		if _, err := (&Downloader{checkSpace: cannot, Logf: logs.logf}).Fetch(context.Background(), a, t.TempDir(), VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "cannot tell the free space") {
			t.Errorf("logs:\n%s", logs.String())
		}
	})
}
