package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// Op is what a transaction does.
type Op string

// Transaction kinds. OpInstall on a server where the connector is installed
// and no version is pinned is a repair of the installed version; OpUpdate
// refuses an older release, OpDowngrade allows it.
const (
	OpInstall   Op = "install"
	OpRepair    Op = "repair"
	OpUpdate    Op = "update"
	OpDowngrade Op = "downgrade"
	OpRollback  Op = "rollback"
)

// Plan is one transaction to run.
type Plan struct {
	Op Op
	// Source is where the release comes from: a feed, or the file the
	// admin brought (updater.FileSource). Not used by OpRollback.
	Source updater.Source
	// Version pins the release ("" means the newest on Channel, or the
	// installed version for a repair).
	Version string
	Channel updater.Channel
	Verify  updater.VerifyOptions
	Ticket  string // PROVISIONING_TICKET to write into config.json; never printed
	NoStart bool   // register the service, do not start it
	DryRun  bool   // resolve and report the plan; change nothing
}

// Result says what a transaction did (or, for a dry run, would do).
type Result struct {
	Op              string                `json:"op"` // install, update, rollback
	Version         string                `json:"version"`
	PreviousVersion string                `json:"previous_version,omitempty"`
	Changed         bool                  `json:"changed"`
	Repair          bool                  `json:"repair"`
	Downgrade       bool                  `json:"downgrade,omitempty"`
	InstallDir      string                `json:"install_dir"`
	ConfigWritten   bool                  `json:"config_written"`
	UnitChanged     bool                  `json:"unit_changed"`
	Started         bool                  `json:"started"`
	Service         platform.ServiceState `json:"service"`
	Artifact        string                `json:"artifact,omitempty"` // where it came from, credentials redacted
	SHA256          string                `json:"sha256,omitempty"`
	Verified        string                `json:"verified,omitempty"` // the trust basis: digest, user-sha256, signature, none
	DryRun          bool                  `json:"dry_run,omitempty"`
	Notes           []string              `json:"notes,omitempty"`
}

// ErrNotInstalled is returned by an update with nothing installed.
var ErrNotInstalled = errors.New("the connector is not installed")

// ErrDowngrade is returned by OpUpdate for a release older than the
// installed one.
var ErrDowngrade = errors.New("refusing to downgrade")

// ErrNoPrevious is returned by a rollback when no previous version is kept.
var ErrNoPrevious = errors.New("no previous version to roll back to")

// Run runs plan as one transaction.
func (in *Installer) Run(ctx context.Context, plan Plan) (*Result, error) {
	if err := in.supported(); err != nil {
		return nil, err
	}
	if err := in.checkCustomerPaths(); err != nil {
		return nil, err
	}
	switch plan.Op {
	case OpRollback:
		return in.rollback(ctx, plan)
	case OpInstall, OpRepair, OpUpdate, OpDowngrade:
	default:
		return nil, fmt.Errorf("unknown operation %q", plan.Op)
	}
	if plan.Source == nil {
		return nil, errors.New("no release source given")
	}
	cur, adopted, err := in.Current()
	if err != nil {
		return nil, err
	}
	if adopted {
		in.logf("the connector %s was installed without adldapctl (no install record in %s): adopting it", cur.Version, in.p.Paths.StateDir)
	}
	op := plan.Op
	switch {
	case (op == OpUpdate || op == OpDowngrade) && cur == nil:
		return nil, fmt.Errorf("%w (no install record in %s): run adldapctl install first", ErrNotInstalled, in.p.Paths.StateDir)
	case op == OpRepair && cur == nil:
		return nil, fmt.Errorf("%w: nothing to repair; run adldapctl install", ErrNotInstalled)
	case (op == OpInstall || op == OpRepair) && cur != nil && plan.Version == "":
		// install on an installed server repairs the installed version;
		// moving to a newer one is update's job.
		op, plan.Version = OpRepair, cur.Version
		in.logf("repairing the installed version %s (use adldapctl update for a newer one)", cur.Version)
	}
	kind := OpInstall
	if op == OpUpdate || op == OpDowngrade {
		kind = OpUpdate
	}

	var j *Journal
	if !plan.DryRun {
		if j, err = in.begin(kind); err != nil {
			return nil, err
		}
	}
	abort := func(err error) (*Result, error) {
		if j != nil {
			if cerr := j.clear(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		return nil, err
	}

	rel, err := in.resolve(ctx, plan)
	if err != nil {
		return abort(err)
	}
	art, offered, err := in.artifact(ctx, plan.Source, rel)
	if err != nil {
		return abort(err)
	}
	res := &Result{Op: string(kind), Version: rel.Version.String(), InstallDir: in.p.Paths.InstallDir,
		Artifact: redact.URL(art.URL), Changed: true, DryRun: plan.DryRun}
	if cur != nil {
		res.PreviousVersion = cur.Version
		iv, err := updater.ParseVersion(cur.Version)
		if err != nil {
			return abort(fmt.Errorf("install record %s: version %q: %w", in.recordPath(), cur.Version, err))
		}
		switch {
		case rel.Version.Equal(iv) && kind == OpUpdate:
			res.Changed = false
			return res, errors.Join(nil, clearJournal(j))
		case rel.Version.Equal(iv):
			res.Repair = true
		case rel.Version.LessThan(iv) && op != OpDowngrade:
			if kind == OpUpdate {
				return abort(fmt.Errorf("%w: %s is older than the installed %s; pass --allow-downgrade to do it anyway", ErrDowngrade, rel.Version, cur.Version))
			}
			return abort(fmt.Errorf("%w: %s is older than the installed %s; use adldapctl update --version %s --allow-downgrade", ErrDowngrade, rel.Version, cur.Version, rel.Version))
		case rel.Version.LessThan(iv):
			res.Downgrade = true
		}
	}
	if plan.DryRun {
		res.SHA256 = art.SHA256
		if adopted && cur != nil && !in.step.Kept(cur.Version) {
			res.Notes = append(res.Notes, fmt.Sprintf("the installed %s was installed without adldapctl: its MSI would be fetched from %s and kept for rollback first", cur.Version, redact.URL(plan.Source.Location())))
		}
		return res, nil
	}

	if err := in.enter(j, PhaseDownload); err != nil {
		return abort(err)
	}
	if err := platform.EnsureOwnDir(in.p.Paths.CacheDir, 0o700); err != nil {
		return abort(err)
	}
	got, err := in.fetch.Fetch(ctx, art, in.p.Paths.CacheDir, plan.Verify)
	if err != nil {
		return abort(err)
	}
	if err := in.enter(j, PhaseVerify); err != nil {
		return abort(errors.Join(err, os.Remove(got.Path)))
	}
	if got.Verified == updater.TrustNone {
		in.logf("%s has no published digest (GitHub source tarballs have none): the feed's HTTPS is the trust basis; its sha256 %s is recorded. Pass --sha256 or --require-digest to insist on one", art.Name, got.SHA256)
	}
	bundle, manifest, err := in.checkBundle(ctx, got.Path, rel)
	if err != nil {
		return abort(errors.Join(err, os.Remove(got.Path)))
	}
	if offered != nil && bundle == nil {
		return abort(errors.Join(fmt.Errorf("%w: %s is listed as a bundle but holds no %s", ErrUnsafeArchive, art.Name, updater.BundleManifestFile), os.Remove(got.Path)))
	}
	if bundle != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("installed from the bundle %s (built for %s with %s): npm was not run", art.Name, bundle.Target(), bundle.NodeVersion))
	}
	if err := in.checkStagingSpace(got.Path); err != nil {
		return abort(err)
	}
	res.SHA256, res.Verified = got.SHA256, string(got.Verified)
	rec := &connector.InstallRecord{
		Version: res.Version, Tag: rel.Tag, Source: res.Artifact, SHA256: got.SHA256, Verified: res.Verified,
		InstalledAt: in.o.Now().UTC(), LastResult: string(kind) + " ok",
	}
	if cur != nil && !res.Repair {
		rec.Previous = cur.Version
	} else if cur != nil {
		rec.Previous = cur.Previous
	}
	fresh := !in.step.Live()
	j.ToVersion, j.Fresh = res.Version, fresh
	if cur != nil {
		j.FromVersion = cur.Version
		j.Adopted = adopted
	}
	if ms, ok := in.step.(*msiStep); ok && !fresh {
		// Before anything is stopped: the installed version's MSI must be
		// kept for a failed switch or health gate to reinstall it.
		from := ""
		if cur != nil {
			from = cur.Version
		}
		oldArt, oldGot, err := ms.keepInstalled(ctx, j, plan.Source, plan.Verify, from)
		if err != nil {
			return abort(errors.Join(err, os.Remove(got.Path)))
		}
		if oldGot != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("kept the installed %s's MSI from %s for rollback (it was installed without adldapctl)", j.FromVersion, redact.URL(oldArt.URL)))
			if adopted {
				cur.Source, cur.SHA256, cur.Verified = redact.URL(oldArt.URL), oldGot.SHA256, string(oldGot.Verified)
				cur.Tag = "v" + strings.TrimPrefix(cur.Version, "v")
			}
		}
	}
	if cur != nil {
		j.PrevRecord = cur.Marshal()
	}
	j.KeepOld = !fresh && !res.Repair
	stage := func() error {
		nodeVer, err := in.step.Stage(ctx, j, got.Path, manifest)
		rec.Node = nodeVer
		return err
	}
	if err := in.transact(ctx, j, res, rec, stage, plan.Ticket, plan.NoStart); err != nil {
		return res, err
	}
	if err := os.Remove(got.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		in.logf("warning: could not remove the cached artifact: %v", err)
	}
	return res, nil
}

func clearJournal(j *Journal) error {
	if j == nil {
		return nil
	}
	return j.clear()
}

// resolve picks the release plan asks for.
func (in *Installer) resolve(ctx context.Context, plan Plan) (*updater.Release, error) {
	src := plan.Source
	if plan.Version != "" {
		in.logf("looking up %s in %s", plan.Version, src.Location())
		return src.Release(ctx, plan.Version)
	}
	ch := plan.Channel
	if ch == "" {
		ch = updater.ChannelStable
	}
	in.logf("looking up the latest %s release in %s", ch, src.Location())
	return updater.Latest(ctx, src, ch)
}

// supported fails plainly, before anything is written, where this build
// cannot run a transaction.
func (in *Installer) supported() error {
	if in.p.OS == "windows" && in.p.Sandboxed() {
		return fmt.Errorf("installing, updating and removing the connector on Windows under --root: %w: msiexec installs into the real system only; leave --root out", platform.ErrNotSupported)
	}
	if in.o.Services == nil {
		return in.p.CheckServiceSupport()
	}
	return nil
}

// begin starts a journal at the resolve phase.
func (in *Installer) begin(op Op) (*Journal, error) {
	if err := platform.EnsureOwnDir(in.p.Paths.StateDir, 0o755); err != nil {
		return nil, err
	}
	now := in.o.Now()
	j := &Journal{Format: journalFormat, ID: strconv.FormatInt(now.UnixNano(), 36), Op: string(op), StartedAt: now, path: journalPath(in.p)}
	if err := in.enter(j, PhaseResolve); err != nil {
		return nil, errors.Join(err, j.clear())
	}
	return j, nil
}
