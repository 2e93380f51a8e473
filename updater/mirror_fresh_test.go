package updater

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"
)

// mtMeta signs a one-release metadata with counter and expires into a new
// folder, and returns the folder.
func mtMeta(t *testing.T, priv minisign.PrivateKey, counter uint64, expires time.Time, version string) string {
	t.Helper()
	dir := t.TempDir()
	mtSignMeta(t, dir, priv, map[string]any{
		"schema": 1, "counter": counter, "expires": expires,
		"releases": []any{map[string]any{"version": version, "artifacts": []any{
			map[string]any{"platform": "linux", "file": "ad-ldap-connector-v" + version + ".tar.gz", "size": 1, "sha256": mtSum("x")},
		}}},
	})
	return dir
}

// A counter already accepted must come with the very metadata accepted
// with it: the same counter with other content is refused.
func TestMirrorFeedSameCounterOtherContent(t *testing.T) {
	pub, priv := mtKeys(t)
	ctx := context.Background()
	counters := filepath.Join(t.TempDir(), "state", "mirror-counters.json")
	load := func(dir string) error {
		_, err := Latest(ctx, &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock, CounterFile: counters}, "")
		return err
	}
	exp := mtNow.Add(30 * 24 * time.Hour)
	first := mtMeta(t, priv, 5, exp, "6.4.1")
	if err := load(first); err != nil {
		t.Fatal(err)
	}
	if err := load(first); err != nil {
		t.Fatalf("the same metadata again: %v", err)
	}
	// Another mirror serving byte-identical metadata is fine too.
	if err := load(mtMeta(t, priv, 5, exp, "6.4.1")); err != nil {
		t.Fatalf("identical metadata elsewhere: %v", err)
	}
	err := load(mtMeta(t, priv, 5, exp, "6.5.0"))
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "metadata counter 5 was already accepted with other content") {
		t.Fatalf("same counter, other content: %v, want ErrVerification", err)
	}
	// Raising the counter is how a mirror publishes.
	if err := load(mtMeta(t, priv, 6, exp, "6.5.0")); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(counters); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("counter file: %v, mode %v; want 0600", err, fi.Mode())
		}
	}
}

// A counter file written before digests were kept still loads; the digest
// is recorded on the next load of the same counter, and holds from then.
func TestMirrorFeedCounterFileOldFormat(t *testing.T) {
	pub, priv := mtKeys(t)
	ctx := context.Background()
	counters := filepath.Join(t.TempDir(), "mirror-counters.json")
	id := keyIDHex(pub.ID())
	if err := os.WriteFile(counters, []byte(`{"`+id+`": 5, "0123456789ABCDEF": 3}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(dir string) error {
		_, err := Latest(ctx, &MirrorFeed{Base: dir, PublicKey: pub, Now: mtClock, CounterFile: counters}, "")
		return err
	}
	exp := mtNow.Add(30 * 24 * time.Hour)
	if err := load(mtMeta(t, priv, 4, exp, "6.4.1")); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "lower than 5") {
		t.Fatalf("counter 4 after an old-format 5: %v", err)
	}
	if err := load(mtMeta(t, priv, 5, exp, "6.4.1")); err != nil {
		t.Fatalf("counter 5 after an old-format 5: %v", err)
	}
	got, err := readCounters(counters)
	if err != nil || got[id].Counter != 5 || len(got[id].SHA256) != 64 || got["0123456789ABCDEF"].Counter != 3 {
		t.Fatalf("counters = %+v, %v; want 5 with its digest, and the other key kept", got, err)
	}
	if err := load(mtMeta(t, priv, 5, exp, "6.5.0")); !errors.Is(err, ErrVerification) {
		t.Fatalf("same counter, other content after the upgrade: %v", err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(counters); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("counter file: %v, mode %v; want 0600 (was 0644)", err, fi.Mode())
		}
	}
}

// The counter file is adldapctl's own: a link there is not followed.
func TestMirrorFeedCounterFileLink(t *testing.T) {
	pub, priv := mtKeys(t)
	victim := filepath.Join(t.TempDir(), "victim")
	mtWrite(t, victim, "{}")
	counters := filepath.Join(t.TempDir(), "mirror-counters.json")
	symlinkOrSkip(t, victim, counters)
	f := &MirrorFeed{Base: mtMeta(t, priv, 1, mtNow.Add(time.Hour), "6.4.1"), PublicKey: pub, Now: mtClock, CounterFile: counters}
	if _, err := Latest(context.Background(), f, ""); err == nil || !strings.Contains(err.Error(), counters) {
		t.Errorf("counter file is a link: %v, want a refusal naming it", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "{}" {
		t.Errorf("link target changed: %q", b)
	}
}

// An expiry further ahead than MaxMirrorValidity is refused: it would
// switch the freeze protection off.
func TestMirrorFeedRefusesFarExpiry(t *testing.T) {
	pub, priv := mtKeys(t)
	for _, tc := range []struct {
		ahead time.Duration
		ok    bool
	}{
		{MaxMirrorValidity, true},
		{MaxMirrorValidity + time.Second, false},
		{100 * 365 * 24 * time.Hour, false},
	} {
		f := &MirrorFeed{Base: mtMeta(t, priv, 1, mtNow.Add(tc.ahead), "6.4.1"), PublicKey: pub, Now: mtClock,
			CounterFile: filepath.Join(t.TempDir(), "c.json")}
		_, err := Latest(context.Background(), f, "")
		if tc.ok {
			if err != nil {
				t.Errorf("expiry %s ahead: %v", tc.ahead, err)
			}
			continue
		}
		if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "more than 400 days ahead") {
			t.Errorf("expiry %s ahead: %v, want ErrVerification", tc.ahead, err)
		}
		if _, err := os.Stat(f.CounterFile); !os.IsNotExist(err) {
			t.Errorf("counter recorded from refused metadata (stat: %v)", err)
		}
	}
	// mirror build does not write what clients would refuse.
	_, err := BuildMirror(t.TempDir(), priv, BuildOptions{Now: mtClock, Expires: mtNow.Add(MaxMirrorValidity + time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "more than 400 days ahead") {
		t.Errorf("BuildMirror with a far expiry: %v", err)
	}
}
