package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// msiStep is the Windows step: the release is the connector's MSI, put in
// place by msiexec. msiexec cannot be told to keep files it installed, so
// the customer's files are backed up under the state dir before it runs
// and restored (and compared byte for byte) after; the previous version's
// MSI is kept in the cache so a failed health gate, a rollback or a crash
// can reinstall it.
type msiStep struct{ in *Installer }

var _ Step = (*msiStep)(nil)

// MSIState is the Windows step's part of the journal: enough for Recover
// to finish or undo an MSI switch after a crash.
type MSIState struct {
	// NewMSI is the package being put in place (kept in the cache).
	NewMSI string `json:"new_msi,omitempty"`
	// OldMSI is the kept package of the version installed before the
	// switch; "" when none is kept.
	OldMSI string `json:"old_msi,omitempty"`
	// OldProduct and OldVersion name the MSI product installed before the
	// switch ("" for a fresh install).
	OldProduct string `json:"old_product,omitempty"`
	OldVersion string `json:"old_version,omitempty"`
	// Backup holds the customer's files (Files, slash paths relative to
	// the install dir) once BackedUp is set.
	Backup   string   `json:"backup,omitempty"`
	BackedUp bool     `json:"backed_up,omitempty"`
	Files    []string `json:"files,omitempty"`
	// Run is the msiexec run under way ("remove", "install", or
	// "restore" once msiexec is done) and PID its process.
	Run string `json:"run,omitempty"`
	PID int    `json:"msiexec_pid,omitempty"`
}

var (
	productCodeRe = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)
	keptMSIRe     = regexp.MustCompile(`^adldap-v[0-9A-Za-z.+-]{1,64}\.msi$`)
	backupNameRe  = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}-[0-9a-z]{1,16}$`)
)

func msiCacheDir(p *platform.Platform) string { return filepath.Join(p.Paths.CacheDir, "msi") }
func backupsDir(p *platform.Platform) string  { return filepath.Join(p.Paths.StateDir, "backups") }
func msiLogDir(p *platform.Platform) string   { return filepath.Join(p.Paths.StateDir, "logs") }

// keptMSI is where the MSI of version v is kept.
func keptMSI(p *platform.Platform, v string) string {
	return filepath.Join(msiCacheDir(p), "adldap-v"+strings.TrimPrefix(v, "v")+".msi")
}

// check returns why m cannot have been written by adldapctl for p, or "":
// every path must lie where the step puts it, so a forged journal cannot
// make recovery copy from or delete anything else.
func (m *MSIState) check(p *platform.Platform) string {
	if m == nil {
		return ""
	}
	same := func(a, b string) bool {
		if p.OS == "windows" {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	for _, f := range []string{m.NewMSI, m.OldMSI} {
		if f != "" && (!same(filepath.Dir(f), msiCacheDir(p)) || !keptMSIRe.MatchString(filepath.Base(f))) {
			return fmt.Sprintf("names a package %q outside %s", f, msiCacheDir(p))
		}
	}
	if m.Backup != "" && (!same(filepath.Dir(m.Backup), backupsDir(p)) || !backupNameRe.MatchString(filepath.Base(m.Backup))) {
		return fmt.Sprintf("names a backup folder %q outside %s", m.Backup, backupsDir(p))
	}
	if m.OldProduct != "" && !productCodeRe.MatchString(m.OldProduct) {
		return fmt.Sprintf("names an invalid product code %q", m.OldProduct)
	}
	for _, f := range m.Files {
		if f == "" || strings.ContainsAny(f, `\:`) || strings.HasPrefix(f, "/") {
			return fmt.Sprintf("names a customer file %q that is not a relative path", f)
		}
		for _, part := range strings.Split(f, "/") {
			if part == "" || part == "." || part == ".." {
				return fmt.Sprintf("names a customer file %q that is not a clean relative path", f)
			}
		}
	}
	switch m.Run {
	case "", "backup", "remove", "install", "restore":
	default:
		return fmt.Sprintf("names an unknown msiexec run %q", m.Run)
	}
	if m.PID < 0 {
		return "names a negative process id"
	}
	return ""
}

func (s *msiStep) find() (*platform.ConnectorProduct, error) {
	prod, err := s.in.o.FindConnector()
	if err != nil {
		return nil, fmt.Errorf("find the installed connector: %w", err)
	}
	if prod != nil && prod.ProductCode != "" && !productCodeRe.MatchString(prod.ProductCode) {
		return nil, fmt.Errorf("find the installed connector: its uninstall entry has an invalid product code %q", prod.ProductCode)
	}
	return prod, nil
}

// Live reports whether the connector's MSI product is installed (or, when
// the registry cannot be read, whether its files are there).
func (s *msiStep) Live() bool {
	prod, err := s.find()
	if err != nil {
		return exists(filepath.Join(s.in.p.Paths.InstallDir, "server.js"))
	}
	return prod != nil
}

// Stage checks the artifact is an MSI and keeps it in the cache. The MSI
// brings its own node.exe: there is no node version to check.
func (s *msiStep) Stage(ctx context.Context, j *Journal, artifact string, bundle []byte) (string, error) {
	in := s.in
	if bundle != nil {
		return "", fmt.Errorf("%w: a connector bundle is a Linux tree; Windows installs the release's MSI", ErrUnsafeArchive)
	}
	if err := checkMSI(artifact); err != nil {
		return "", err
	}
	if err := platform.EnsureOwnDir(msiCacheDir(in.p), 0o700); err != nil {
		return "", err
	}
	kept := keptMSI(in.p, j.ToVersion)
	if artifact != kept {
		if err := os.Rename(artifact, kept); err != nil {
			return "", fmt.Errorf("keep %s in %s: %w", filepath.Base(artifact), msiCacheDir(in.p), err)
		}
	}
	j.MSI = &MSIState{NewMSI: kept}
	if err := s.noteOld(j); err != nil {
		return "", err
	}
	return "", in.save(j)
}

// noteOld records the installed product and its kept MSI, refusing to go
// on when a failure could not put it back.
func (s *msiStep) noteOld(j *Journal) error {
	in, m := s.in, j.MSI
	prod, err := s.find()
	if err != nil {
		return err
	}
	if prod == nil {
		return nil
	}
	m.OldProduct, m.OldVersion = prod.ProductCode, prod.DisplayVersion
	from := j.FromVersion
	if from == "" {
		from = prod.DisplayVersion
	}
	switch {
	case from != "" && exists(keptMSI(in.p, from)):
		m.OldMSI = keptMSI(in.p, from)
	case sameVersion(from, j.ToVersion):
		m.OldMSI = m.NewMSI // a repair: the same package puts it back
	default:
		return fmt.Errorf("the MSI of the installed version %s is not kept in %s, so a failed %s could not be undone; nothing was changed. Run 'adldapctl install --version %s' first (it reinstalls %s, keeps the customer files and keeps its MSI), then run this again",
			orUnknown(from), msiCacheDir(in.p), j.Op, orUnknown(from), orUnknown(from))
	}
	return nil
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown)"
	}
	return v
}

func sameVersion(a, b string) bool {
	va, err1 := updater.ParseVersion(a)
	vb, err2 := updater.ParseVersion(b)
	return err1 == nil && err2 == nil && va.Equal(vb)
}

// Kept reports whether version's MSI is in the cache.
func (s *msiStep) Kept(version string) bool {
	return version != "" && exists(keptMSI(s.in.p, version))
}

// StagePrevious makes the kept previous MSI the one to install.
func (s *msiStep) StagePrevious(j *Journal) error {
	prev := keptMSI(s.in.p, j.ToVersion)
	if err := checkMSI(prev); err != nil {
		return fmt.Errorf("the kept MSI of %s: %w", j.ToVersion, err)
	}
	j.MSI = &MSIState{NewMSI: prev}
	if err := s.noteOld(j); err != nil {
		return err
	}
	return s.in.save(j)
}

// Unstage drops a staged MSI no version needs (a rollback's is the kept
// previous one and stays).
func (s *msiStep) Unstage(j *Journal) error {
	m := j.MSI
	if m == nil || m.NewMSI == "" || j.Op == string(OpRollback) || m.NewMSI == m.OldMSI || s.keptForPrevious(m.NewMSI) {
		return nil
	}
	if err := os.Remove(m.NewMSI); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (s *msiStep) keptForPrevious(path string) bool {
	r, err := connector.ReadRecord(s.in.previousRecordPath())
	return err == nil && keptMSI(s.in.p, r.Version) == path
}

// Switch backs up the customer's files, stops the services, runs msiexec
// and restores the files, checked byte for byte; then writes the ticket.
func (s *msiStep) Switch(ctx context.Context, j *Journal, ticket string) (bool, error) {
	in := s.in
	m := j.MSI
	if m == nil || m.NewMSI == "" {
		return false, errors.New("switch: nothing was staged")
	}
	if err := s.backup(j); err != nil {
		return false, err
	}
	if err := in.hook("switch-mid"); err != nil {
		return false, err
	}
	s.stopAll()
	prod, err := s.find()
	if err != nil {
		return false, err
	}
	if prod != nil && prod.ProductCode != "" && !isUpgrade(prod.DisplayVersion, j.ToVersion) {
		// A major upgrade only moves up: the same or an older version
		// goes in after the installed one is removed.
		in.logf("removing the installed connector %s (%s) before installing %s", orUnknown(prod.DisplayVersion), prod.ProductCode, j.ToVersion)
		if err := s.msiexec(ctx, j, "remove", prod.ProductCode, "/x", prod.ProductCode); err != nil {
			return false, err
		}
	}
	in.logf("installing %s with msiexec", filepath.Base(m.NewMSI))
	if err := s.msiexec(ctx, j, "install", m.NewMSI, "/i", m.NewMSI); err != nil {
		return false, err
	}
	m.Run = "restore"
	if err := in.save(j); err != nil {
		return false, err
	}
	if err := s.restoreFiles(m); err != nil {
		return false, err
	}
	if ticket == "" {
		return false, nil
	}
	cfgPath := filepath.Join(in.p.Paths.InstallDir, connector.ConfigFile)
	res, err := connector.EditConfig(cfgPath, func(c *connector.Config) error {
		_, err := c.Set("PROVISIONING_TICKET", ticket)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("write the provisioning ticket into %s: %w", cfgPath, err)
	}
	if res.Changed {
		in.logf("wrote config.json (provisioning ticket set)")
	}
	return res.Changed, os.Chmod(cfgPath, 0o600)
}

// isUpgrade reports whether to is newer than the installed version.
func isUpgrade(installed, to string) bool {
	iv, err1 := updater.ParseVersion(installed)
	tv, err2 := updater.ParseVersion(to)
	return err1 == nil && err2 == nil && tv.GreaterThan(iv)
}

// backup copies the customer's files to a new folder under the state
// dir's backups/, private to administrators, and checks the copy.
func (s *msiStep) backup(j *Journal) error {
	in, m := s.in, j.MSI
	if err := platform.EnsureOwnDir(in.p.Paths.StateDir, 0o755); err != nil {
		return err
	}
	if err := platform.EnsureOwnDir(backupsDir(in.p), 0o700); err != nil {
		return err
	}
	if err := restrictDir(backupsDir(in.p)); err != nil {
		return fmt.Errorf("make %s private to administrators: %w", backupsDir(in.p), err)
	}
	m.Backup = filepath.Join(backupsDir(in.p), in.o.Now().UTC().Format("20060102T150405")+"-"+strings.ToLower(j.ID))
	m.Run = "backup"
	if err := in.save(j); err != nil {
		return err
	}
	if err := removeTree(m.Backup); err != nil {
		return err
	}
	if err := os.Mkdir(m.Backup, 0o700); err != nil {
		return err
	}
	dir := in.p.Paths.InstallDir
	cfg, _ := connector.ReadConfig(filepath.Join(dir, connector.ConfigFile)) // unreadable: still copied byte for byte
	m.Files = nil
	for _, rel := range in.layout().CustomerPaths(cfg) {
		src := filepath.Join(dir, filepath.FromSlash(rel))
		if !exists(src) {
			continue
		}
		dst := filepath.Join(m.Backup, filepath.FromSlash(rel))
		if err := copyTree(src, dst); err != nil {
			return fmt.Errorf("back up customer file %s: %w", rel, err)
		}
		if err := sameTree(src, dst); err != nil {
			return fmt.Errorf("back up customer file %s: the copy differs: %w", rel, err)
		}
		m.Files = append(m.Files, rel)
	}
	m.BackedUp = true
	in.logf("customer files backed up to %s: %s", m.Backup, strings.Join(m.Files, ", "))
	return in.save(j)
}

// restoreFiles puts the backed-up customer files back into the install
// dir, replacing what msiexec left there, and checks them byte for byte.
func (s *msiStep) restoreFiles(m *MSIState) error {
	if m == nil || !m.BackedUp {
		return nil
	}
	dir := s.in.p.Paths.InstallDir
	var errs []error
	for _, rel := range m.Files {
		src := filepath.Join(m.Backup, filepath.FromSlash(rel))
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := copyTree(src, dst); err != nil {
			errs = append(errs, fmt.Errorf("restore customer file %s from %s: %w", rel, m.Backup, err))
			continue
		}
		if err := sameTree(src, dst); err != nil {
			errs = append(errs, fmt.Errorf("restore customer file %s: it differs from the backup in %s: %w", rel, m.Backup, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if cfg := filepath.Join(dir, connector.ConfigFile); exists(cfg) {
		if err := os.Chmod(cfg, 0o600); err != nil {
			return err
		}
		if err := makePrivate(cfg, false); err != nil {
			s.in.logf("warning: make %s readable by SYSTEM and Administrators only: %v", cfg, err)
		}
	}
	if certs := filepath.Join(dir, connector.CertsDir); exists(certs) {
		if err := makePrivate(certs, true); err != nil {
			s.in.logf("warning: make %s readable by SYSTEM and Administrators only: %v", certs, err)
		}
	}
	return nil
}

// sameTree reports how b differs from a (files byte for byte, folders by
// their entries), or nil.
func sameTree(a, b string) error {
	fa, err := os.Lstat(a)
	if err != nil {
		return err
	}
	fb, err := os.Lstat(b)
	if err != nil {
		return err
	}
	switch {
	case fa.IsDir() != fb.IsDir():
		return fmt.Errorf("%s: one is a folder, the other is not", b)
	case fa.IsDir():
		ea, err := os.ReadDir(a)
		if err != nil {
			return err
		}
		eb, err := os.ReadDir(b)
		if err != nil {
			return err
		}
		if len(ea) != len(eb) {
			return fmt.Errorf("%s holds %d entries, want %d", b, len(eb), len(ea))
		}
		for _, e := range ea {
			if err := sameTree(filepath.Join(a, e.Name()), filepath.Join(b, e.Name())); err != nil {
				return err
			}
		}
		return nil
	case fa.Mode()&os.ModeSymlink != 0 || fb.Mode()&os.ModeSymlink != 0:
		ta, _ := os.Readlink(a)
		tb, _ := os.Readlink(b)
		if ta != tb || fa.Mode().Type() != fb.Mode().Type() {
			return fmt.Errorf("%s: link differs", b)
		}
		return nil
	}
	if fa.Size() != fb.Size() {
		return fmt.Errorf("%s is %d bytes, want %d", b, fb.Size(), fa.Size())
	}
	return sameBytes(a, b)
}

func sameBytes(a, b string) error {
	ra, err := os.Open(a)
	if err != nil {
		return err
	}
	defer ra.Close()
	rb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer rb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, errb := io.ReadFull(rb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Errorf("%s differs from %s", b, a)
		}
		if erra != nil || errb != nil {
			if (erra == io.EOF || erra == io.ErrUnexpectedEOF) && (errb == io.EOF || errb == io.ErrUnexpectedEOF) {
				return nil
			}
			return errors.Join(erra, errb)
		}
	}
}

// services are the connector's Windows services with what each runs.
func (s *msiStep) services() [][2]string {
	p := s.in.p
	out := [][2]string{{p.Service, "server.js"}}
	if p.AdminService != "" {
		out = append(out, [2]string{p.AdminService, filepath.Join("admin", "server.js")})
	}
	return out
}

// stopAll stops both services before msiexec replaces their files.
func (s *msiStep) stopAll() {
	in := s.in
	for _, sv := range s.services() {
		st, err := in.svc.Status(sv[0])
		if err != nil || !st.Installed || st.Active == "inactive" {
			continue
		}
		in.logf("stopping %s", sv[0])
		if err := in.svc.Stop(sv[0]); err != nil {
			in.logf("warning: stop %s: %v", sv[0], err)
		}
	}
}

// Register makes sure both services exist and run from the install dir:
// a missing one, or one whose program lies elsewhere, is registered again
// (node.exe run directly, as the service).
func (s *msiStep) Register(ctx context.Context) (bool, error) {
	in := s.in
	dir := in.p.Paths.InstallDir
	prod, err := s.find()
	if err != nil {
		return false, err
	}
	changed := false
	for _, sv := range s.services() {
		name, script := sv[0], sv[1]
		st, err := in.svc.Status(name)
		ok := err == nil && st.Installed
		if ok && name == in.p.Service && prod != nil && prod.ServiceImagePath != "" && !pointsInto(prod.ServiceImagePath, dir) {
			in.logf("%s runs %s, outside %s: registering it again", name, prod.ServiceImagePath, dir)
			if err := in.svc.Uninstall(name); err != nil {
				return changed, fmt.Errorf("remove the misregistered service %s: %w", name, err)
			}
			ok = false
		}
		if ok {
			continue
		}
		in.logf("registering the service %s", name)
		if _, err := in.svc.Install(platform.ServiceSpec{
			Name: name, DisplayName: name, Description: "Auth0 AD/LDAP Connector",
			Exec: filepath.Join(dir, "node.exe"), Args: []string{script}, WorkingDir: dir, LogFile: in.p.Paths.LogFile,
		}); err != nil {
			return changed, fmt.Errorf("register service %s: %w", name, err)
		}
		changed = true
	}
	return changed, s.reapplyProxy()
}

// reapplyProxy puts the proxy of config.json back into the services'
// registry environment when it is gone from there: removing the old
// product deletes its services, and with them nssm's Parameters key (or
// the Environment value) that 'proxy set' wrote, so after msiexec the
// connector would start without its proxy. An environment that survived
// is left as it is.
func (s *msiStep) reapplyProxy() error {
	p := s.in.p
	cfg, err := connector.ReadConfig(p.Paths.ConfigFile)
	if err != nil {
		return nil // no config.json: no proxy to carry
	}
	proxy := cfg.String(connector.ProxyKey)
	if proxy == "" {
		return nil
	}
	env, err := p.ServiceEnv()
	if errors.Is(err, platform.ErrNotSupported) {
		return nil // --root: config.json alone carries the proxy
	}
	if err == nil && env[connector.ProxyKey] != "" {
		return nil
	}
	res, err := p.SetServiceEnv(connector.ProxyEnv(proxy))
	if errors.Is(err, platform.ErrNotSupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("put the proxy of %s back into the service environment: %w", p.Paths.ConfigFile, err)
	}
	if res.Changed {
		s.in.logf("proxy of config.json put back into the service environment (%s)", strings.Join(res.Files, ", "))
	}
	return nil
}

// pointsInto reports whether a service command line runs a program in
// dir.
func pointsInto(imagePath, dir string) bool {
	img := strings.ToLower(strings.TrimLeft(strings.TrimSpace(imagePath), `"`))
	d := strings.ToLower(strings.TrimRight(dir, `\/`))
	return strings.HasPrefix(img, d+`\`) || strings.HasPrefix(img, d+"/")
}

// Restore puts back the product installed before the switch (reinstalling
// its kept MSI when msiexec got further), then the customer's files as
// they were at switch time.
func (s *msiStep) Restore(j *Journal) error {
	in, m := s.in, j.MSI
	if err := in.svc.Stop(in.p.Service); err != nil && !errors.Is(err, platform.ErrServiceNotInstalled) {
		in.logf("stopping %s before restoring: %v", in.p.Service, err)
	}
	if m == nil {
		return nil // stopped before anything was staged
	}
	ctx := context.Background()
	if err := s.waitLeftover(ctx, m); err != nil {
		return err
	}
	s.stopAll()
	prod, err := s.find()
	if err != nil {
		return err
	}
	if m.OldProduct != "" && (prod == nil || !strings.EqualFold(prod.ProductCode, m.OldProduct)) {
		if m.OldMSI == "" || !exists(m.OldMSI) {
			return fmt.Errorf("the MSI of %s is no longer in %s: reinstall it by hand (msiexec /i adldap-v%s.msi), then run adldapctl again", orUnknown(m.OldVersion), msiCacheDir(in.p), m.OldVersion)
		}
		if prod != nil && prod.ProductCode != "" {
			in.logf("removing %s (%s) to put %s back", orUnknown(prod.DisplayVersion), prod.ProductCode, orUnknown(m.OldVersion))
			if err := s.msiexec(ctx, j, "remove", prod.ProductCode, "/x", prod.ProductCode); err != nil {
				return err
			}
		}
		in.logf("reinstalling %s", filepath.Base(m.OldMSI))
		if err := s.msiexec(ctx, j, "install", m.OldMSI, "/i", m.OldMSI); err != nil {
			return err
		}
	}
	if err := s.restoreFiles(m); err != nil {
		return err
	}
	return s.reapplyProxy()
}

// RestorePreInstall waits for an msiexec an interrupted fresh install left
// running, removes the product when the switch did not finish, and puts
// the customer's pre-install files back.
func (s *msiStep) RestorePreInstall(j *Journal) {
	m := j.MSI
	if m == nil {
		return
	}
	ctx := context.Background()
	if err := s.waitLeftover(ctx, m); err != nil {
		s.in.logf("warning: %v", err)
	}
	if j.Phase == PhaseSwitch && m.OldProduct == "" {
		// The switch did not finish: take out what msiexec put in, so
		// the install is cleaned up as if it never started.
		if prod, err := s.find(); err == nil && prod != nil && prod.ProductCode != "" {
			s.in.logf("removing the unfinished install of %s", orUnknown(prod.DisplayVersion))
			if err := s.msiexec(ctx, j, "remove", prod.ProductCode, "/x", prod.ProductCode); err != nil {
				s.in.logf("warning: %v", err)
			}
		}
	}
	if err := s.restoreFiles(m); err != nil {
		s.in.logf("warning: %v", err)
	}
}

// waitLeftover waits (bounded) for an msiexec that a killed run started.
func (s *msiStep) waitLeftover(ctx context.Context, m *MSIState) error {
	if m.PID <= 0 || (m.Run != "remove" && m.Run != "install") {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.in.o.MSIBusyWait)
	defer cancel()
	if err := s.in.o.WaitProcess(ctx, m.PID); err != nil {
		return fmt.Errorf("%w: the msiexec (process %d) an interrupted run started is still running after %s: let it finish, then run adldapctl again",
			ErrMSIBusy, m.PID, s.in.o.MSIBusyWait)
	}
	return nil
}

// Commit writes the install record, keeps the previous version's record
// and MSI, and prunes older MSIs and backups.
func (s *msiStep) Commit(j *Journal) error {
	in := s.in
	if _, err := connector.ParseRecord(j.Record); err != nil {
		return fmt.Errorf("refusing to write an invalid install record from %s: %w", j.path, err)
	}
	if err := platform.WriteFileAtomic(in.recordPath(), j.Record, 0o644); err != nil {
		return fmt.Errorf("write install record: %w", err)
	}
	if j.KeepOld && len(j.PrevRecord) > 0 {
		if err := platform.WriteFileAtomic(in.previousRecordPath(), j.PrevRecord, 0o644); err != nil {
			return err
		}
	}
	keep := map[string]bool{keptMSI(in.p, j.ToVersion): true}
	if r, err := connector.ReadRecord(in.previousRecordPath()); err == nil {
		keep[keptMSI(in.p, r.Version)] = true
	}
	if err := pruneDir(msiCacheDir(in.p), func(name string) bool { return keep[filepath.Join(msiCacheDir(in.p), name)] }, 0); err != nil {
		in.logf("warning: prune %s: %v", msiCacheDir(in.p), err)
	}
	if err := pruneDir(backupsDir(in.p), func(string) bool { return false }, keepBackups); err != nil {
		in.logf("warning: prune %s: %v", backupsDir(in.p), err)
	}
	return j.clear()
}

// keepBackups is how many customer-file backups are kept.
const keepBackups = 3

// pruneDir removes the entries of dir that keep does not hold, except the
// newest n by name.
func pruneDir(dir string, keep func(name string) bool, n int) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !keep(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) <= n {
		return nil
	}
	var errs []error
	for _, name := range names[:len(names)-n] {
		errs = append(errs, removeTree(filepath.Join(dir, name)))
	}
	return errors.Join(errs...)
}

// msiexec runs msiexec with args (quiet, no reboot, verbose log), retrying
// while another installation is in progress (bounded by MSIBusyWait).
func (s *msiStep) msiexec(ctx context.Context, j *Journal, op, pkg string, args ...string) error {
	in := s.in
	if err := platform.EnsureOwnDir(msiLogDir(in.p), 0o700); err != nil {
		return err
	}
	log := filepath.Join(msiLogDir(in.p), fmt.Sprintf("msiexec-%s-%s.log", in.o.Now().UTC().Format("20060102T150405.000"), op))
	full := append(append([]string{}, args...), "/qn", "/norestart", "/l*v", log)
	deadline := time.Now().Add(in.o.MSIBusyWait)
	for {
		code, err := s.runMSI(ctx, j, op, full)
		if err != nil {
			return err
		}
		note, err := msiOutcome(op, pkg, code, log)
		if code == msiBusy && time.Now().Before(deadline) {
			wait := min(5*time.Second, max(in.o.MSIBusyWait/20, 10*time.Millisecond))
			in.logf("another installation is in progress; waiting (up to %s in all)", in.o.MSIBusyWait)
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(wait):
			}
			continue
		}
		if note != "" {
			in.notes = append(in.notes, note)
		}
		return err
	}
}

// runMSI runs msiexec once, journaling its process id, and returns its
// exit code.
func (s *msiStep) runMSI(ctx context.Context, j *Journal, op string, args []string) (int, error) {
	in, m := s.in, j.MSI
	m.Run, m.PID = op, 0
	if err := in.save(j); err != nil {
		return 0, err
	}
	var hookErr, saveErr error
	// No pipes: the services msiexec starts inherit its handles and would
	// hold a pipe open long after msiexec exits. /qn prints nothing; the
	// verbose log is the output.
	err := in.run.Run(ctx, &Command{Path: msiexecPath(), Args: args,
		Started: func(pid int) {
			m.PID = pid
			saveErr = in.save(j)
			hookErr = in.hook("msiexec")
		}})
	if err != nil {
		var ee interface{ ExitCode() int }
		if !errors.As(err, &ee) || ee.ExitCode() < 0 {
			return 0, errors.Join(fmt.Errorf("run msiexec: %w", err), hookErr)
		}
		return ee.ExitCode(), errors.Join(saveErr, hookErr)
	}
	return 0, errors.Join(saveErr, hookErr)
}

// uninstall removes the MSI product (msiexec /x by product code) and both
// services. The customer's files are backed up first and put back after,
// unless purge; with purge the install dir, adldapctl's state and cache go
// too.
func (s *msiStep) uninstall(purge bool) (*UninstallResult, error) {
	in, p := s.in, s.in.p
	res := &UninstallResult{}
	prod, err := s.find()
	if err != nil {
		return nil, err
	}
	if prod == nil && !purge && !exists(p.Paths.InstallDir) {
		return nil, fmt.Errorf("%w: no MSI product of the connector is registered and %s does not exist", ErrNotInstalled, p.Paths.InstallDir)
	}
	ctx := context.Background()
	now := in.o.Now()
	j := &Journal{ID: strings.ToLower(fmt.Sprintf("%x", now.UnixNano())), Op: "uninstall", MSI: &MSIState{}}
	if !purge {
		if err := s.backup(j); err != nil {
			return nil, err
		}
	}
	s.stopAll()
	if prod != nil && prod.ProductCode != "" {
		in.logf("removing %s (%s) with msiexec", orUnknown(prod.DisplayVersion), prod.ProductCode)
		if err := s.msiexec(ctx, j, "remove", prod.ProductCode, "/x", prod.ProductCode); err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, "MSI product "+prod.ProductCode)
	}
	for _, sv := range s.services() {
		st, err := in.svc.Status(sv[0])
		if err != nil || !st.Installed {
			continue
		}
		if err := in.svc.Uninstall(sv[0]); err != nil {
			return res, fmt.Errorf("remove service %s: %w", sv[0], err)
		}
		res.Removed = append(res.Removed, "service "+sv[0])
	}
	if purge {
		for _, d := range []string{p.Paths.InstallDir, p.Paths.CacheDir} {
			if exists(d) {
				if err := removeTree(d); err != nil {
					return res, err
				}
				res.Removed = append(res.Removed, d)
			}
		}
		// The state folder holds the lock this process has open, which
		// Windows cannot delete: everything else goes.
		if entries, err := os.ReadDir(p.Paths.StateDir); err == nil {
			for _, e := range entries {
				f := filepath.Join(p.Paths.StateDir, e.Name())
				if strings.EqualFold(f, p.Paths.LockFile) {
					continue
				}
				if err := removeTree(f); err != nil {
					return res, err
				}
			}
			res.Removed = append(res.Removed, p.Paths.StateDir)
		}
		return res, nil
	}
	if err := s.restoreFiles(j.MSI); err != nil {
		return res, fmt.Errorf("%w (a copy is in %s)", err, j.MSI.Backup)
	}
	for _, rel := range j.MSI.Files {
		res.Kept = append(res.Kept, filepath.Join(p.Paths.InstallDir, filepath.FromSlash(rel)))
	}
	for _, f := range []string{in.recordPath(), in.previousRecordPath()} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return res, err
		}
	}
	if err := removeTree(msiCacheDir(p)); err != nil {
		return res, err
	}
	sort.Strings(res.Kept)
	return res, nil
}
