package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/platform"
)

// certStore returns the platform's certificate store (Windows' LocalMachine
// Root and CA), or nil when the platform keeps its trust store as an anchor
// folder (Linux: TrustStore). Under --root on Windows it is the error that
// says why nothing can be done there.
func (a *app) certStore() (platform.CertStore, error) {
	cs, err := a.plat.CertStore()
	if err == nil {
		return cs, nil
	}
	if _, terr := a.plat.TrustStore(); terr == nil && errors.Is(err, platform.ErrNotSupported) {
		return nil, nil
	}
	return nil, err
}

// importToCertStore adds sel to cs (roots to the root store, intermediates
// to the CA store, never twice), and to the SSL_CA_PATH folder when
// config.json names one, then restarts the connector when anything changed.
func (a *app) importToCertStore(cs platform.CertStore, sel []certs.Cert, restart bool, res *importResult) error {
	caDir, err := a.caPathDir()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, c := range sel {
		info := infoOf(c, now)
		added, where, err := cs.Add(c.X509.Raw, c.Role == certs.Root)
		if err != nil {
			return err
		}
		info.Files = append(info.Files, where)
		res.Changed = res.Changed || added
		if !added {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: already present in %s", c.Subject(), where))
		}
		if caDir != "" {
			stem := certs.FileStem(c)
			changed, err := platform.PutFile(caDir, stem+".pem", c.PEM())
			if err != nil {
				return fmt.Errorf("write %s into SSL_CA_PATH: %w", stem+".pem", err)
			}
			info.Files = append(info.Files, filepath.Join(caDir, stem+".pem"))
			res.Changed = res.Changed || changed
		}
		res.Imported = append(res.Imported, info)
	}
	if !res.Changed {
		res.Restart = "not-needed"
		res.Notes = append(res.Notes, "already in the trust store: nothing changed")
		return nil
	}
	return a.restartForTrust(restart, &res.Restart, &res.Notes)
}

// certStoreImported is what adldapctl added to cs (and to SSL_CA_PATH),
// grouped by fingerprint; files name the stores and the files.
func (a *app) certStoreImported(cs platform.CertStore) (string, []*storedCert, error) {
	caDir, err := a.caPathDir()
	if err != nil {
		return "", nil, err
	}
	in, err := cs.Imported()
	if err != nil {
		return "", nil, err
	}
	files := storeFiles(in)
	if caDir != "" {
		more, err := platform.ReadDirFiles(caDir, certs.StemPrefix, ".pem")
		if err != nil {
			return "", nil, err
		}
		files = append(files, more...)
	}
	return caDir, collect(files, true), nil
}

func storeFiles(in []platform.StoredCert) []platform.StoreFile {
	out := make([]platform.StoreFile, 0, len(in))
	for _, c := range in {
		out = append(out, platform.StoreFile{Path: c.Store, Data: c.DER})
	}
	return out
}

func (a *app) listCertStore(cs platform.CertStore, all bool) error {
	_, list, err := a.certStoreImported(cs)
	if err != nil {
		return err
	}
	if all {
		every, err := cs.All()
		if err != nil {
			return err
		}
		list = collect(storeFiles(every), true)
	}
	now := time.Now()
	out := make([]certInfo, 0, len(list))
	for _, sc := range list {
		info := infoOf(sc.cert, now)
		info.Files = sc.files
		out = append(out, info)
	}
	if a.json {
		return a.writeJSON(map[string]any{"certificates": out, "store": cs.Describe()})
	}
	if len(out) == 0 {
		a.printf("no certificate imported by adldapctl in %s\n", cs.Describe())
		return nil
	}
	a.printCerts(out)
	return nil
}

// removeFromCertStore undoes an import from cs: the certificate with
// fingerprint prefix fp and the imported CAs that chain up to it, from the
// stores and from SSL_CA_PATH.
func (a *app) removeFromCertStore(cs platform.CertStore, fp string, restart bool) error {
	caDir, list, err := a.certStoreImported(cs)
	if err != nil {
		return err
	}
	var match []*storedCert
	for _, sc := range list {
		if strings.HasPrefix(sc.cert.SHA256, fp) {
			match = append(match, sc)
		}
	}
	switch len(match) {
	case 0:
		return exitError{code: ExitFailed, msg: fmt.Sprintf("no certificate imported by adldapctl into %s has SHA-256 %s…; adldapctl certs list shows them", cs.Describe(), fp)}
	case 1:
	default:
		return usageError{fmt.Errorf("%s matches %d imported certificates: give more digits", fp, len(match))}
	}
	var stored []certs.Cert
	byFP := map[string]*storedCert{}
	for _, sc := range list {
		stored = append(stored, sc.cert)
		byFP[sc.cert.SHA256] = sc
	}
	sel, err := certs.Select(stored, match[0].cert.SHA256)
	if err != nil {
		sel = []certs.Cert{match[0].cert}
	}
	res := &removeResult{}
	for _, c := range sel {
		sc := byFP[c.SHA256]
		where, err := cs.Remove(c.SHA256)
		if err != nil {
			return err
		}
		for _, f := range sc.files {
			if caDir != "" && strings.HasPrefix(f, caDir+string(filepath.Separator)) {
				if _, err := platform.RemoveFile(filepath.Dir(f), filepath.Base(f)); err != nil {
					return fmt.Errorf("remove %s: %w", f, err)
				}
				where = append(where, f)
			}
		}
		info := infoOf(sc.cert, time.Now())
		info.Files = where
		res.Removed = append(res.Removed, info)
	}
	if err := a.restartForTrust(restart, &res.Restart, &res.Notes); err != nil {
		return err
	}
	if a.json {
		return a.writeJSON(res)
	}
	for _, c := range res.Removed {
		a.printf("removed %s (sha256 %s)\n", c.Subject, c.SHA256)
		for _, f := range c.Files {
			a.printf("  %s\n", f)
		}
	}
	if res.Restart == "restarted" {
		a.printf("restarted %s\n", a.plat.Service)
	}
	for _, n := range res.Notes {
		a.printf("note: %s\n", n)
	}
	return nil
}
