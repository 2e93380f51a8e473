package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// A connector installed with the official MSI (by hand, maybe updated with
// the official PowerShell updater) has no install record and no kept MSI.
// adldapctl adopts it: the product's DisplayVersion stands in for the
// record until the first transaction commits one, and an update first
// fetches and keeps the installed version's MSI so a failed health gate can
// reinstall it.

// Current returns what is installed as adldapctl sees it: the install
// record, or on Windows, when there is none, a record made from the
// connector's MSI product (adopted is then true; nothing is written until a
// transaction commits). It returns nil when nothing is installed.
//
// On Windows the MSI product is the truth: when the record names another
// version than the product's (the official updater or msiexec ran after
// adldapctl), the record is stale and the product is adopted as if there
// were none, so an update keeps the MSI of what is really installed for its
// rollback instead of going back to the record's older version.
func (in *Installer) Current() (rec *connector.InstallRecord, adopted bool, err error) {
	rec, err = in.Installed()
	if err != nil {
		return nil, false, err
	}
	prod, perr := in.adoptable()
	switch {
	case rec == nil:
		return prod, prod != nil, perr
	case perr != nil || prod == nil || sameVersion(prod.Version, rec.Version):
		return rec, false, nil
	}
	prod.LastResult = fmt.Sprintf("changed without adldapctl: its install record says %s, but the connector's MSI %s is installed; the next install or update records it", rec.Version, prod.Version)
	return prod, true, nil
}

// adoptable makes an install record of the connector's MSI product, or
// returns nil when no product with a version is registered (or off
// Windows).
func (in *Installer) adoptable() (*connector.InstallRecord, error) {
	if in.p.OS != "windows" {
		return nil, nil
	}
	prod, err := in.o.FindConnector()
	if errors.Is(err, platform.ErrNotSupported) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find the installed connector: %w", err)
	}
	if prod == nil || prod.DisplayVersion == "" {
		return nil, nil
	}
	v := strings.TrimPrefix(strings.TrimSpace(prod.DisplayVersion), "v")
	if _, err := updater.ParseVersion(v); err != nil || !keptMSIRe.MatchString("adldap-v"+v+".msi") {
		return nil, fmt.Errorf("the connector's MSI product %s has DisplayVersion %q, which is not a version adldapctl can take over: reinstall it with 'adldapctl install --version X.Y.Z'", prod.ProductCode, prod.DisplayVersion)
	}
	if prod.ProductCode != "" && !productCodeRe.MatchString(prod.ProductCode) {
		return nil, fmt.Errorf("find the installed connector: its uninstall entry has an invalid product code %q", prod.ProductCode)
	}
	return &connector.InstallRecord{Version: v, InstalledAt: in.o.Now().UTC(),
		LastResult: AdoptedResult(prod.ProductCode)}, nil
}

// AdoptedResult is the LastResult of a record made from an MSI product
// installed without adldapctl.
func AdoptedResult(productCode string) string {
	what := "the connector's MSI"
	if productCode != "" {
		what = "MSI product " + productCode
	}
	return "installed without adldapctl (" + what + "); no install record yet: the next install or update writes one"
}

// keepInstalled makes sure the MSI of the installed version, from, is kept
// in the MSI cache before anything is stopped or changed, so that a failed
// switch or health gate can reinstall it: when it is not kept (the
// connector was installed with the official MSI), that version's MSI is
// fetched from src and verified like any artifact. It returns the fetched
// artifact (nil when nothing had to be fetched). A source that cannot give
// it (--from, a feed without that version, a digest that does not match)
// refuses the transaction: nothing has been changed yet.
func (s *msiStep) keepInstalled(ctx context.Context, j *Journal, src updater.Source, vo updater.VerifyOptions, from string) (*updater.Artifact, *updater.Result, error) {
	in := s.in
	prod, err := s.find()
	if err != nil || prod == nil {
		return nil, nil, err // no product: nothing to put back
	}
	if from == "" {
		from = prod.DisplayVersion
	}
	if from == "" || sameVersion(from, j.ToVersion) || exists(keptMSI(in.p, from)) {
		return nil, nil, nil // noteOld decides (a repair needs no other MSI)
	}
	kept := keptMSI(in.p, from)
	if !keptMSIRe.MatchString(filepath.Base(kept)) {
		return nil, nil, fmt.Errorf("the installed version %q cannot name an MSI: reinstall it with 'adldapctl install --version X.Y.Z'", from)
	}
	refuse := func(why string, cause error) error {
		msg := fmt.Sprintf("the MSI of the installed version %s is not kept in %s and %s, so a failed %s could not be undone; nothing was changed. "+
			"Reinstall %s under adldapctl first with its official MSI: 'adldapctl install --from adldap-v%s.msi' (it keeps the customer files and keeps the MSI), then run this again",
			from, msiCacheDir(in.p), why, j.Op, from, from)
		if cause != nil {
			return fmt.Errorf("%s: %w", msg, cause)
		}
		return errors.New(msg)
	}
	if _, ok := src.(*updater.FileSource); ok {
		return nil, nil, refuse("--from names only the new version's MSI (leave out --from and adldapctl fetches "+from+"'s MSI from the feed)", nil)
	}
	in.logf("the MSI of the installed %s is not kept (the connector was installed without adldapctl): fetching it from %s for rollback", from, src.Location())
	rel, err := src.Release(ctx, from)
	if err != nil {
		return nil, nil, refuse("could not be found in "+src.Location(), err)
	}
	art, err := src.Artifact(rel, "windows")
	if err != nil {
		return nil, nil, refuse(src.Location()+" has no MSI of it", err)
	}
	art.Name = filepath.Base(kept) // the feed's name never collides with the new version's download
	// The admin's --sha256 is the new version's; --require-digest holds
	// for every artifact.
	got, err := in.fetch.Fetch(ctx, art, in.p.Paths.CacheDir, updater.VerifyOptions{RequireDigest: vo.RequireDigest})
	if err != nil {
		return nil, nil, refuse("fetching it from "+src.Location()+" failed", err)
	}
	if err := checkMSI(got.Path); err != nil {
		return nil, nil, refuse("what "+src.Location()+" serves as its MSI is not one", errors.Join(err, os.Remove(got.Path)))
	}
	if err := platform.EnsureOwnDir(msiCacheDir(in.p), 0o700); err != nil {
		return nil, nil, errors.Join(err, os.Remove(got.Path))
	}
	if err := os.Rename(got.Path, kept); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("keep %s in %s: %w", art.Name, msiCacheDir(in.p), err), os.Remove(got.Path))
	}
	got.Path = kept
	if got.Verified == updater.TrustNone {
		in.logf("%s has no published digest: the feed's HTTPS is the trust basis; its sha256 %s is recorded", art.Name, got.SHA256)
	}
	in.logf("kept the installed %s's MSI from %s for rollback (sha256 %s, %s)", from, redact.URL(art.URL), got.SHA256, got.Verified)
	return &art, got, nil
}
