package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// fakeFeed is a release feed of the bed's fake MSIs (local paths, each
// with its sha256 as the feed's digest).
type fakeFeed struct {
	pkgs map[string]string // version → package
	bad  map[string]bool   // versions whose published digest is wrong
}

func (f *fakeFeed) Location() string { return "https://feed.example.test/releases" }

func (f *fakeFeed) Releases(context.Context) ([]*updater.Release, error) {
	var rels []*updater.Release
	for v := range f.pkgs {
		pv, err := updater.ParseVersion(v)
		if err != nil {
			return nil, err
		}
		rels = append(rels, &updater.Release{Version: pv, Tag: "v" + v})
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version.GreaterThan(rels[j].Version) })
	return rels, nil
}

func (f *fakeFeed) Release(ctx context.Context, v string) (*updater.Release, error) {
	rels, _ := f.Releases(ctx)
	want, err := updater.ParseVersion(v)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if r.Version.Equal(want) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("release %s not found in feed %s: %w", v, f.Location(), updater.ErrReleaseNotFound)
}

func (f *fakeFeed) Artifact(rel *updater.Release, goos string) (updater.Artifact, error) {
	v := rel.Version.String()
	b, err := os.ReadFile(f.pkgs[v])
	if err != nil {
		return updater.Artifact{}, err
	}
	sum := sha256.Sum256(b)
	if f.bad[v] {
		sum = sha256.Sum256(append(b, 'x'))
	}
	return updater.Artifact{Name: "adldap-v" + v + ".msi", URL: f.pkgs[v], SHA256: hex.EncodeToString(sum[:]), Trust: updater.TrustDigest}, nil
}

// countingFetcher is the real Downloader, counting what it was asked
// for; crashAt makes the process "die" while fetching that artifact.
type countingFetcher struct {
	mu      sync.Mutex
	d       updater.Downloader
	fetched map[string]int
	crashAt string
}

func (c *countingFetcher) Fetch(ctx context.Context, a updater.Artifact, dir string, vo updater.VerifyOptions) (*updater.Result, error) {
	c.mu.Lock()
	c.fetched[a.Name]++
	crash := a.Name == c.crashAt
	c.mu.Unlock()
	if crash {
		panic(crashPanic{"fetch " + a.Name})
	}
	return c.d.Fetch(ctx, a, dir, vo)
}

func (c *countingFetcher) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetched[name]
}

// adopt installs v as an admin following the official docs does: the MSI
// by hand (no adldapctl, no record, no kept MSI), then the connector
// configured and its service started from the admin console; the bed's
// transactions then read releases from a feed of both versions.
func (b *winBed) adopt(v string) (*fakeFeed, *countingFetcher) {
	b.t.Helper()
	if err := b.msi.install(b.pkgs[v]); err != nil {
		b.t.Fatalf("msiexec /i %s: %v", v, err)
	}
	b.msi.runs = nil
	b.writeCustomer()
	if err := b.svc.Start(platform.WindowsServiceName); err != nil {
		b.t.Fatal(err)
	}
	b.svc.starts = 0
	b.adopted = v
	f := &countingFetcher{fetched: map[string]int{}}
	b.fetch = f
	return &fakeFeed{pkgs: b.pkgs, bad: map[string]bool{}}, f
}

func feedPlan(op Op, src updater.Source, v string) Plan {
	return Plan{Op: op, Source: src, Version: v}
}

// TestMSIAdoptFetchesInstalledMSI: a connector installed with the official
// MSI (no record, no kept MSI) is reported as installed; update fetches the
// installed 6.4.1's MSI from the feed, keeps it, updates, writes the record
// and keeps 6.4.1 for rollback, which then reinstalls the fetched MSI.
func TestMSIAdoptFetchesInstalledMSI(t *testing.T) {
	b := newWinBed(t)
	feed, f := b.adopt("6.4.1")
	in := b.installer(nil)
	if rec, _ := in.Installed(); rec != nil {
		t.Fatalf("an install record before adldapctl ran: %+v", rec)
	}
	cur, adopted, err := in.Current()
	if err != nil || !adopted || cur.Version != "6.4.1" || !strings.Contains(cur.LastResult, "without adldapctl") {
		t.Fatalf("Current() = %+v, %v, %v; want 6.4.1 adopted", cur, adopted, err)
	}
	dry := feedPlan(OpUpdate, feed, "6.5.0")
	dry.DryRun = true
	res, err := in.Run(context.Background(), dry)
	if err != nil || !strings.Contains(strings.Join(res.Notes, "\n"), "its MSI would be fetched from "+feed.Location()) || f.count("adldap-v6.4.1.msi") != 0 {
		t.Fatalf("update --dry-run of the adopted 6.4.1: %+v, %v; want a note that its MSI would be fetched, and no fetch", res, err)
	}
	res, err = in.Run(context.Background(), feedPlan(OpUpdate, feed, "6.5.0"))
	if err != nil {
		t.Fatalf("update of the adopted 6.4.1: %v", err)
	}
	if n := f.count("adldap-v6.4.1.msi"); n != 1 {
		t.Errorf("the installed 6.4.1's MSI was fetched %d times, want once", n)
	}
	if res.PreviousVersion != "6.4.1" || res.Version != "6.5.0" || !strings.Contains(strings.Join(res.Notes, "\n"), "kept the installed 6.4.1's MSI from "+b.pkgs["6.4.1"]) {
		t.Errorf("result %+v; want 6.4.1 → 6.5.0 with a note that 6.4.1's MSI was kept", res)
	}
	if got := strings.Join(b.msi.runs, ", "); !strings.HasSuffix(got, "install 6.5.0") || strings.Contains(got, "6.4.1") {
		t.Errorf("msiexec runs %q", got)
	}
	b.check("6.5.0")
	want, _ := os.ReadFile(b.pkgs["6.4.1"])
	if got, err := os.ReadFile(keptMSI(b.plat, "6.4.1")); err != nil || string(got) != string(want) {
		t.Errorf("kept MSI of 6.4.1: %v; want the feed's package byte for byte", err)
	}
	prev, err := b.installer(nil).PreviousVersion()
	if err != nil || prev == nil || prev.Version != "6.4.1" || prev.Verified != string(updater.TrustDigest) || prev.SHA256 == "" {
		t.Errorf("previous version %+v, %v; want 6.4.1 kept, its fetched MSI's digest recorded", prev, err)
	}
	// rollback reinstalls the fetched MSI, without fetching it again.
	b.msi.runs = nil
	if _, err := b.installer(nil).Run(context.Background(), b.plan(OpRollback, "")); err != nil {
		t.Fatalf("rollback to the fetched 6.4.1: %v", err)
	}
	b.check("6.4.1")
	if got := strings.Join(b.msi.runs, ", "); !strings.HasSuffix(got, "install 6.4.1") {
		t.Errorf("rollback ran %q; want the kept 6.4.1 reinstalled", got)
	}
	if n := f.count("adldap-v6.4.1.msi"); n != 1 {
		t.Errorf("6.4.1's MSI fetched %d times in all, want once", n)
	}
}

// TestMSIAdoptFailedHealthGateRollsBack: the update of an adopted 6.4.1 to
// a release whose service crashes reinstalls the 6.4.1 MSI fetched before
// the switch, customer files intact; nothing is recorded (the install is
// as the admin left it).
func TestMSIAdoptFailedHealthGateRollsBack(t *testing.T) {
	b := newWinBed(t)
	b.pkgs["6.5.0"] = writeFakeMSI(t, filepath.Join(b.root, "crashing"), "6.5.0", true)
	feed, f := b.adopt("6.4.1")
	_, err := b.installer(nil).Run(context.Background(), feedPlan(OpUpdate, feed, "6.5.0"))
	var rb *RolledBackError
	if !errors.As(err, &rb) || rb.To != "6.4.1" || !errors.Is(err, platform.ErrServiceUnhealthy) {
		t.Fatalf("update to a crashing release: %v; want a rollback to 6.4.1", err)
	}
	if f.count("adldap-v6.4.1.msi") != 1 {
		t.Errorf("6.4.1's MSI fetched %d times, want once", f.count("adldap-v6.4.1.msi"))
	}
	if got := strings.Join(b.msi.runs, ", "); !strings.Contains(got, "install 6.5.0") || !strings.HasSuffix(got, "install 6.4.1") {
		t.Errorf("msiexec runs %q; want 6.5.0 installed, then the fetched 6.4.1 reinstalled", got)
	}
	b.check("6.4.1")
	if rec, _ := b.installer(nil).Installed(); rec != nil {
		t.Errorf("a failed update of an adopted install wrote a record: %+v", rec)
	}
}

// TestMSIAdoptRefusedWithoutPrevious: when the installed 6.4.1's MSI
// cannot be had (the feed lacks it, its digest does not match, or the
// update is --from a file), the update is refused before anything is
// stopped or run, naming the version and what to do.
func TestMSIAdoptRefusedWithoutPrevious(t *testing.T) {
	for _, c := range []struct {
		name string
		plan func(b *winBed, feed *fakeFeed) Plan
		is   error
		want []string
	}{
		{"feed lacks it", func(b *winBed, feed *fakeFeed) Plan {
			delete(feed.pkgs, "6.4.1")
			return feedPlan(OpUpdate, feed, "6.5.0")
		}, updater.ErrReleaseNotFound, []string{"6.4.1", "could not be found in " + (&fakeFeed{}).Location(), "adldapctl install --from adldap-v6.4.1.msi"}},
		{"digest mismatch", func(b *winBed, feed *fakeFeed) Plan {
			feed.bad["6.4.1"] = true
			return feedPlan(OpUpdate, feed, "6.5.0")
		}, updater.ErrVerification, []string{"6.4.1", "adldapctl install --from adldap-v6.4.1.msi"}},
		{"--from", func(b *winBed, feed *fakeFeed) Plan { return b.plan(OpUpdate, "6.5.0") },
			nil, []string{"6.4.1", "--from names only the new version's MSI", "leave out --from", "adldapctl install --from adldap-v6.4.1.msi"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newWinBed(t)
			feed, _ := b.adopt("6.4.1")
			feed.pkgs = map[string]string{"6.4.1": b.pkgs["6.4.1"], "6.5.0": b.pkgs["6.5.0"]}
			_, err := b.installer(nil).Run(context.Background(), c.plan(b, feed))
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("err = %v; want a refusal (%v)", err, c.is)
			}
			for _, w := range append(c.want, "nothing was changed") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if b.svc.stops != 0 || len(b.msi.runs) != 0 || exists(journalPath(b.plat)) || exists(keptMSI(b.plat, "6.4.1")) {
				t.Errorf("refused, but %d stops, msiexec runs %q, journal left %v, 6.4.1 kept %v", b.svc.stops, b.msi.runs, exists(journalPath(b.plat)), exists(keptMSI(b.plat, "6.4.1")))
			}
			b.check("6.4.1")
		})
	}
}

// TestMSIAdoptCrashWhileFetchingPrevious: adldapctl dying while it fetches
// the installed version's MSI has changed nothing; the next command's
// recovery says so and the connector runs as before.
func TestMSIAdoptCrashWhileFetchingPrevious(t *testing.T) {
	b := newWinBed(t)
	feed, f := b.adopt("6.4.1")
	f.crashAt = "adldap-v6.4.1.msi"
	if _, crashed := runCrashable(func() error {
		_, err := b.installer(nil).Run(context.Background(), feedPlan(OpUpdate, feed, "6.5.0"))
		return err
	}); !crashed {
		t.Fatal("the fetch of 6.4.1's MSI was not reached")
	}
	if !exists(journalPath(b.plat)) {
		t.Fatal("no journal after the crash")
	}
	msg, err := b.installer(nil).Recover(context.Background())
	if err != nil || !strings.Contains(msg, "nothing had been changed") {
		t.Fatalf("recover: %q, %v", msg, err)
	}
	if b.svc.stops != 0 || len(b.msi.runs) != 0 {
		t.Errorf("crash before the stop phase, yet %d stops and msiexec runs %q", b.svc.stops, b.msi.runs)
	}
	b.check("6.4.1")
	// The next update fetches it again and goes through.
	f.crashAt = ""
	if _, err := b.installer(nil).Run(context.Background(), feedPlan(OpUpdate, feed, "6.5.0")); err != nil {
		t.Fatalf("update after the recovery: %v", err)
	}
	b.check("6.5.0")
}

// TestMSIAdoptCurrentEdges: Current reports nothing for a server without a
// product, and a DisplayVersion that is not a version is an error, not an
// adoption.
func TestMSIAdoptCurrentEdges(t *testing.T) {
	b := newWinBed(t)
	if cur, adopted, err := b.installer(nil).Current(); cur != nil || adopted || err != nil {
		t.Errorf("nothing installed: Current() = %+v, %v, %v", cur, adopted, err)
	}
	b.adopt("6.4.1")
	b.msi.product.DisplayVersion = `..\..\evil`
	if cur, _, err := b.installer(nil).Current(); cur != nil || err == nil {
		t.Errorf("hostile DisplayVersion: Current() = %+v, %v; want an error", cur, err)
	}
}

// TestMSIAdoptDriftedRecord: adldapctl installed 6.4.1, then the official
// updater moved the connector to 6.5.0 behind its back. The MSI product is
// the truth: Current adopts 6.5.0 (the record is stale), and an update to a
// crashing 6.6.0 fetches and keeps 6.5.0's MSI and rolls back to 6.5.0, not
// to the record's 6.4.1. A good update then records the new version.
func TestMSIAdoptDriftedRecord(t *testing.T) {
	b := newWinBed(t)
	b.install("6.4.1")
	b.writeCustomer()
	if err := b.msi.install(b.pkgs["6.5.0"]); err != nil { // the official updater
		t.Fatalf("msiexec /i 6.5.0: %v", err)
	}
	b.writeCustomer() // it loses the profile mapper; the admin puts it back
	if err := b.svc.Start(platform.WindowsServiceName); err != nil {
		t.Fatal(err)
	}
	b.adopted = "6.5.0"
	f := &countingFetcher{fetched: map[string]int{}}
	b.fetch = f
	b.pkgs["6.6.0"] = writeFakeMSI(t, filepath.Join(b.root, "crashing"), "6.6.0", true)
	feed := &fakeFeed{pkgs: b.pkgs, bad: map[string]bool{}}

	cur, adopted, err := b.installer(nil).Current()
	if err != nil || !adopted || cur.Version != "6.5.0" || !strings.Contains(cur.LastResult, "record says 6.4.1") {
		t.Fatalf("Current() = %+v, %v, %v; want 6.5.0 adopted over the stale 6.4.1 record", cur, adopted, err)
	}
	b.msi.runs = nil
	_, err = b.installer(nil).Run(context.Background(), feedPlan(OpUpdate, feed, "6.6.0"))
	var rb *RolledBackError
	if !errors.As(err, &rb) || rb.To != "6.5.0" {
		t.Fatalf("update to a crashing 6.6.0: %v; want a rollback to the installed 6.5.0", err)
	}
	if n := f.count("adldap-v6.5.0.msi"); n != 1 {
		t.Errorf("6.5.0's MSI fetched %d times, want once", n)
	}
	if got := strings.Join(b.msi.runs, ", "); !strings.HasSuffix(got, "install 6.5.0") || strings.Contains(got, "6.4.1") {
		t.Errorf("msiexec runs %q; want 6.6.0 tried, then 6.5.0 reinstalled, never 6.4.1", got)
	}
	b.check("6.5.0")

	b.pkgs["6.6.0"] = writeFakeMSI(t, filepath.Join(b.root, "good"), "6.6.0", false)
	res, err := b.installer(nil).Run(context.Background(), feedPlan(OpUpdate, feed, "6.6.0"))
	if err != nil || res.PreviousVersion != "6.5.0" {
		t.Fatalf("update 6.5.0 → 6.6.0: %+v, %v", res, err)
	}
	b.check("6.6.0")
	if rec, _ := b.installer(nil).Installed(); rec == nil || rec.Version != "6.6.0" {
		t.Errorf("install record after the update: %+v; want 6.6.0", rec)
	}
}
