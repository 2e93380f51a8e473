package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
	"github.com/adldapctl/adldapctl/updater"
)

// maxCertInput bounds a certificate file read into memory.
const maxCertInput = 8 << 20

// certInfo is one certificate as `certs` commands show it (--json contract).
type certInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Role      string    `json:"role"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	Warning   string    `json:"warning,omitempty"`
	Files     []string  `json:"files,omitempty"`
}

func infoOf(c certs.Cert, now time.Time) certInfo {
	return certInfo{Subject: c.Subject(), Issuer: c.Issuer(), Role: string(c.Role),
		NotBefore: c.X509.NotBefore.UTC(), NotAfter: c.X509.NotAfter.UTC(), SHA256: c.SHA256, Warning: c.Warning(now)}
}

// importResult is what `certs import` did (--json contract).
type importResult struct {
	Certificates []certInfo `json:"certificates"`
	Imported     []certInfo `json:"imported"`
	Skipped      []skipped  `json:"skipped,omitempty"`
	Changed      bool       `json:"changed"`
	trustChange
}

// trustChange is what applying a change of the trust store did (the
// --json fields import and remove share).
type trustChange struct {
	UpdateCommand string `json:"update_command"`
	UpdateRan     bool   `json:"update_ran"`
	// Restart: restarted, not-needed (nothing changed), skipped
	// (--no-restart), reported (--root), not-installed.
	Restart string   `json:"restart"`
	Notes   []string `json:"notes,omitempty"`
}

type skipped struct {
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"`
}

func (a *app) certsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Import, list and remove CA certificates the connector trusts",
		Long: `certs puts a CA chain into the OS trust store the connector reads
(<openssl version -d>/certs, filled from the distro's anchor folder by its
update command; on Windows the LocalMachine Root store for roots and CA
for intermediates), and into the SSL_CA_PATH folder when config.json sets
one, then restarts the connector so it reads them. Under --root on Windows
certs refuses: the stores are not files, and a --root run never changes
the host's stores.`,
	}
	cmd.AddCommand(a.certsImportCmd(), a.certsListCmd(), a.certsRemoveCmd())
	return cmd
}

type certsImportOptions struct {
	fromURL     string
	fingerprint string
	proxy       string
	noRestart   bool
}

func (a *app) certsImportCmd() *cobra.Command {
	opts := &certsImportOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE | --from-url https://host[:port]",
		Short: "Import a CA chain (PEM bundle, DER, PKCS#7 .p7b, or the chain a server presents)",
		Long: `import reads FILE (a PEM bundle, a single DER certificate, or a PKCS#7
.p7b in DER or PEM armour), or with --from-url the chain an HTTPS server
presents (through the effective proxy), and prints each certificate.

It imports only when --fingerprint names the SHA-256 of the chain's trust
anchor (its root, or its topmost intermediate when the chain has no root)
or --yes is given. With --fingerprint, the pinned certificate is imported
with the CAs of the input that chain up to it by verified signatures; any
other certificate is left out. A leaf (server) certificate is never
imported: it is not a CA.`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.certsImportRun(cmd, opts, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.fromURL, "from-url", "", "read the chain presented by the HTTPS server at `URL` (https://host[:port])")
	fl.StringVar(&opts.fingerprint, "fingerprint", "", "import only if the chain's anchor has this SHA-256 `HEX` (colons allowed)")
	fl.StringVar(&opts.proxy, "proxy", "", "proxy `URL` for --from-url (default: HTTPS_PROXY, else HTTP_PROXY in config.json)")
	fl.BoolVar(&opts.noRestart, "no-restart", false, "do not restart the connector's service")
	return cmd
}

func (a *app) certsImportRun(cmd *cobra.Command, opts *certsImportOptions, args []string) error {
	if (len(args) == 1) == (opts.fromURL != "") || len(args) > 1 {
		return usageError{errors.New("certs import takes one FILE, or --from-url https://host[:port]")}
	}
	var pin string
	if opts.fingerprint != "" {
		var err error
		if pin, err = certs.NormalizeFingerprint(opts.fingerprint, true); err != nil {
			return usageError{fmt.Errorf("--fingerprint: %w", err)}
		}
	}
	if err := a.setup(cmd.Context(), false); err != nil {
		return err
	}
	var parsed []*x509.Certificate
	var err error
	source := ""
	if opts.fromURL != "" {
		source = opts.fromURL
		parsed, err = a.fetchChain(cmd.Context(), opts.fromURL, opts.proxy)
	} else {
		source = args[0]
		parsed, err = readCertFile(args[0])
	}
	if err != nil {
		return err
	}
	now := time.Now()
	all := certs.Classify(parsed)
	res := &importResult{}
	for _, c := range all {
		res.Certificates = append(res.Certificates, infoOf(c, now))
	}
	if !a.json {
		a.printf("Certificates in %s:\n", source)
		a.printCerts(res.Certificates)
	}
	for _, c := range all {
		if w := c.Warning(now); w != "" {
			a.warnf("%s %s", c.Subject(), w)
		}
	}
	if len(certs.Anchors(all)) == 0 {
		return usageError{fmt.Errorf("%s holds only %s, a leaf (server) certificate, not a CA: it cannot be a trust anchor. Import the CA that issued it (issuer %s): ask its owner for the chain, or use --from-url against a server that presents it",
			source, all[0].Subject(), all[0].Issuer())}
	}
	pinCert, _ := certs.Pin(all)
	var sel []certs.Cert
	switch {
	case pin != "":
		if sel, err = certs.Select(all, pin); err != nil {
			return exitError{code: ExitVerification, msg: fmt.Sprintf("%v; nothing imported (the anchor of this chain is %s, SHA-256 %s)", err, pinCert.Subject(), pinCert.SHA256)}
		}
	case a.yes:
		sel = certs.Anchors(all)
	default:
		return exitError{code: ExitFailed, msg: fmt.Sprintf("nothing imported: check the certificates above, then re-run with --fingerprint %s (the SHA-256 of %s) or --yes", pinCert.SHA256, pinCert.Subject())}
	}
	chosen := map[string]bool{}
	for _, c := range sel {
		chosen[c.SHA256] = true
	}
	for _, c := range all {
		switch {
		case c.Role == certs.Leaf:
			res.Skipped = append(res.Skipped, skipped{c.SHA256, "leaf certificate (not a CA): never a trust anchor"})
		case !chosen[c.SHA256]:
			res.Skipped = append(res.Skipped, skipped{c.SHA256, "does not chain to the pinned certificate"})
		}
	}
	if err := a.setup(cmd.Context(), true); err != nil {
		return err
	}
	if err := a.importAnchors(cmd.Context(), sel, !opts.noRestart, res); err != nil {
		return err
	}
	return a.printImport(res)
}

// readCertFile reads and parses a certificate file; unreadable or garbage
// input is a usage error (exit 2), before anything is written.
func readCertFile(name string) ([]*x509.Certificate, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertInput+1))
	if err != nil {
		return nil, usageError{fmt.Errorf("read %s: %w", name, err)}
	}
	if len(data) > maxCertInput {
		return nil, usageError{fmt.Errorf("%s is larger than %d bytes: not a certificate chain", name, maxCertInput)}
	}
	parsed, err := certs.Parse(data)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", name, err)}
	}
	return parsed, nil
}

// readCAFiles parses install's --ca-file files and returns their anchors;
// a file with no CA is a usage error.
func readCAFiles(names []string) ([]certs.Cert, error) {
	var out []certs.Cert
	for _, n := range names {
		parsed, err := readCertFile(n)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		anchors := certs.Anchors(certs.Classify(parsed))
		if len(anchors) == 0 {
			return nil, usageError{fmt.Errorf("--ca-file %s holds no CA certificate (only a leaf): give the CA that issued it", n)}
		}
		out = append(out, anchors...)
	}
	return out, nil
}

// importCAFiles is install's --ca-file import: the files were named on the
// command line, so no further confirmation is asked. It returns notes for
// the install's result.
func (a *app) importCAFiles(ctx context.Context, anchors []certs.Cert, restart bool) ([]string, error) {
	if len(anchors) == 0 {
		return nil, nil
	}
	res := &importResult{}
	if err := a.importAnchors(ctx, anchors, restart, res); err != nil {
		return nil, fmt.Errorf("installed, but importing --ca-file failed: %w", err)
	}
	notes := make([]string, 0, len(res.Imported)+len(res.Notes))
	for _, c := range res.Imported {
		notes = append(notes, fmt.Sprintf("trusted CA %s (sha256 %s)", c.Subject, c.SHA256))
	}
	return append(notes, res.Notes...), nil
}

// caPathDir is the SSL_CA_PATH folder as adldapctl reaches it, or "" when
// config.json sets none. config.json that cannot be read is an error: the
// connector might read its CAs from a folder this import would miss.
func (a *app) caPathDir() (string, error) {
	p := a.plat
	cfg, err := connector.ReadConfig(p.Paths.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s to find SSL_CA_PATH: %w", p.Paths.ConfigFile, err)
	}
	connDir := p.Unrooted(p.Paths.InstallDir)
	lay := connector.Layout{InstallDir: p.Paths.InstallDir, ConnectorDir: connDir, OS: p.OS}
	rel, err := lay.CAPath(cfg)
	var cpe *connector.CustomerPathError
	switch {
	case err == nil && rel == "":
		return "", nil
	case err == nil:
		return filepath.Join(p.Paths.InstallDir, filepath.FromSlash(rel)), nil
	case errors.As(err, &cpe) && cpe.Outside:
		// The connector reads it where it is; so do we.
		v := filepath.FromSlash(cpe.Value)
		if !filepath.IsAbs(v) {
			v = filepath.Join(connDir, v)
		}
		if p.Root != "" {
			v = filepath.Join(p.Root, v)
		}
		return filepath.Clean(v), nil
	}
	return "", err
}

// trustStores returns the OS trust store certs works on and, when
// config.json names one, the SSL_CA_PATH folder (nil otherwise). Under
// --root on Windows it is the error that says why nothing can be done.
func (a *app) trustStores() (platform.CertStore, *platform.FolderStore, error) {
	store, err := a.plat.CertStore()
	if err != nil {
		return nil, nil, err
	}
	caDir, err := a.caPathDir()
	if err != nil || caDir == "" {
		return store, nil, err
	}
	return store, &platform.FolderStore{Dir: caDir, Ext: ".pem"}, nil
}

// importAnchors adds sel to the OS trust store (and SSL_CA_PATH), runs the
// store's update command (reported under --root) and restarts the
// connector when anything changed.
func (a *app) importAnchors(ctx context.Context, sel []certs.Cert, restart bool, res *importResult) error {
	store, caPath, err := a.trustStores()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, c := range sel {
		info := infoOf(c, now)
		added, where, err := store.Add(c.X509.Raw, c.Role == certs.Root)
		if err != nil {
			return err
		}
		info.Files = append(info.Files, where)
		res.Changed = res.Changed || added
		if !added {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: already present in %s", c.Subject(), where))
		}
		if caPath != nil {
			changed, path, err := caPath.Add(c.X509.Raw)
			if err != nil {
				return fmt.Errorf("write %s into SSL_CA_PATH: %w", filepath.Base(path), err)
			}
			info.Files = append(info.Files, path)
			res.Changed = res.Changed || changed
		}
		res.Imported = append(res.Imported, info)
	}
	return a.applyTrustChange(ctx, store, res.Changed, restart, &res.trustChange)
}

// applyTrustChange runs the store's update command and restarts the
// service after a change of the store.
func (a *app) applyTrustChange(ctx context.Context, store platform.CertStore, changed, restart bool, tc *trustChange) error {
	tc.UpdateCommand = strings.Join(store.UpdateCommand(), " ")
	if !changed {
		tc.Restart = "not-needed"
		tc.Notes = append(tc.Notes, "already in the trust store: nothing changed")
		return nil
	}
	ran, err := store.RunUpdate(ctx)
	tc.UpdateRan = ran
	if err != nil {
		return fmt.Errorf("the certificate files are written, but %w; run it by hand, then adldapctl service restart", err)
	}
	if !ran && tc.UpdateCommand != "" {
		tc.Notes = append(tc.Notes, fmt.Sprintf("--root: not run on this host; run %q in the target system", tc.UpdateCommand))
	}
	return a.restartForTrust(restart, tc)
}

// restartForTrust restarts the connector's service (and on Windows its
// admin console's, see Platform.Services) after the trust store changed:
// the connector reads its CAs only at start.
func (a *app) restartForTrust(restart bool, tc *trustChange) error {
	switch {
	case !restart:
		tc.Restart = "skipped"
		tc.Notes = append(tc.Notes, "--no-restart: the connector reads CAs only at start; run adldapctl service restart")
	case a.plat.Sandboxed():
		tc.Restart = "reported"
		tc.Notes = append(tc.Notes, "--root: the connector's service would be restarted")
	default:
		svc := a.plat.Services()
		st, err := svc.Status(a.plat.Service)
		if err != nil || !st.Installed {
			tc.Restart = "not-installed"
			tc.Notes = append(tc.Notes, "the connector's service is not installed: nothing restarted")
			return nil
		}
		if err := svc.Restart(a.plat.Service); err != nil {
			return fmt.Errorf("trust store updated, but restart %s: %w", a.plat.Service, err)
		}
		tc.Restart = "restarted"
	}
	return nil
}

func (a *app) printImport(res *importResult) error {
	if a.json {
		return a.writeJSON(res)
	}
	for _, s := range res.Skipped {
		a.printf("skipped %s: %s\n", s.SHA256[:12], s.Reason)
	}
	for _, c := range res.Imported {
		a.printf("trusted %s (%s)\n", c.Subject, c.Role)
		for _, f := range c.Files {
			a.printf("  %s\n", f)
		}
	}
	a.printTrustChange(&res.trustChange, res.Changed)
	return nil
}

// printTrustChange prints the update command (when the store changed),
// the restart and the notes.
func (a *app) printTrustChange(tc *trustChange, changed bool) {
	switch {
	case tc.UpdateRan:
		a.printf("ran: %s\n", tc.UpdateCommand)
	case changed && tc.UpdateCommand != "":
		a.printf("update command: %s (not run)\n", tc.UpdateCommand)
	}
	if tc.Restart == "restarted" {
		a.printf("restarted %s\n", a.plat.Service)
	}
	for _, n := range tc.Notes {
		a.printf("note: %s\n", n)
	}
}

func (a *app) printCerts(list []certInfo) {
	for i, c := range list {
		a.printf("%d. [%s] %s\n", i+1, c.Role, c.Subject)
		a.printf("   issuer:  %s\n", c.Issuer)
		a.printf("   valid:   %s to %s\n", c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly))
		a.printf("   sha256:  %s\n", c.SHA256)
		if c.Warning != "" {
			a.printf("   %s\n", a.paintOut(colorYellow, "warning: "+c.Warning))
		}
		for _, f := range c.Files {
			a.printf("   file:    %s\n", f)
		}
	}
}

// warnf writes a warning to stderr.
func (a *app) warnf(format string, args ...any) {
	fmt.Fprintf(a.io.ErrOut, "%s "+format+"\n", append([]any{a.paint(colorYellow, "adldapctl: warning:")}, args...)...)
}

// fetchChain returns the chain the server at raw presents. The handshake
// does not verify it (that is what the user is about to decide on): it
// only reads it, through the effective proxy.
func (a *app) fetchChain(ctx context.Context, raw, proxy string) ([]*x509.Certificate, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
		return nil, usageError{fmt.Errorf("--from-url %q: give https://host[:port]", redact.URL(raw))}
	}
	if proxy == "" && os.Getenv("HTTPS_PROXY") == "" && os.Getenv("https_proxy") == "" {
		if cfg, err := connector.ReadConfig(a.plat.Paths.ConfigFile); err == nil {
			proxy = cfg.String("HTTP_PROXY")
		}
	}
	client, err := updater.NewHTTPClient(updater.ClientOptions{ProxyURL: proxy, Timeout: 20 * time.Second})
	if err != nil {
		return nil, usageError{err}
	}
	tr, ok := client.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("internal: unexpected HTTP transport")
	}
	var chain []*x509.Certificate
	tr.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: u.Hostname(),
		// Read the chain only: nothing is trusted from this connection,
		// the user confirms by fingerprint or --yes before any import.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			chain = cs.PeerCertificates
			return nil
		},
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, (&url.URL{Scheme: "https", Host: u.Host, Path: "/"}).String(), nil)
	if err != nil {
		return nil, usageError{err}
	}
	resp, err := client.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	tr.CloseIdleConnections()
	if len(chain) == 0 {
		if err == nil {
			err = errors.New("the server presented no certificate")
		}
		return nil, fmt.Errorf("read the chain of %s: %w", u.Host, err)
	}
	return chain, nil
}

// storedCert is a certificate found in a store with the stores or files
// holding it.
type storedCert struct {
	cert  certs.Cert
	files []string
}

// collect groups certificates by fingerprint, in order of first
// appearance. Unreadable ones are skipped.
func collect(in []platform.StoredCert) []*storedCert {
	var out []*storedCert
	byFP := map[string]*storedCert{}
	for _, s := range in {
		parsed, err := certs.Parse(s.DER)
		if err != nil {
			continue
		}
		for _, c := range certs.Classify(parsed[:1]) {
			sc := byFP[c.SHA256]
			if sc == nil {
				sc = &storedCert{cert: c}
				byFP[c.SHA256] = sc
				out = append(out, sc)
			}
			sc.files = append(sc.files, s.Store)
		}
	}
	return out
}

// imported returns what adldapctl put in store and in caPath (when not nil).
func imported(store platform.CertStore, caPath *platform.FolderStore) ([]*storedCert, error) {
	in, err := store.Imported()
	if err != nil {
		return nil, err
	}
	if caPath != nil {
		more, err := caPath.Imported()
		if err != nil {
			return nil, err
		}
		in = append(in, more...)
	}
	return collect(in), nil
}

func (a *app) certsListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the CA certificates adldapctl imported (--all: the whole OS store)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupReadOnly(cmd.Context()); err != nil {
				return err
			}
			store, caPath, err := a.trustStores()
			if err != nil {
				return err
			}
			list, err := imported(store, caPath)
			if err != nil {
				return err
			}
			if all {
				every, err := store.All()
				if err != nil {
					return err
				}
				list = collect(every)
			}
			now := time.Now()
			out := make([]certInfo, 0, len(list))
			for _, sc := range list {
				info := infoOf(sc.cert, now)
				info.Files = sc.files
				out = append(out, info)
			}
			if a.json {
				doc := map[string]any{"certificates": out}
				if ts, ok := store.(*platform.TrustStore); ok {
					doc["anchor_dir"] = ts.Dir() // a folder store is named by its folder
				} else {
					doc["store"] = store.Describe()
				}
				return a.writeJSON(doc)
			}
			if len(out) == 0 {
				a.printf("no certificate imported by adldapctl in %s\n", store.Describe())
				return nil
			}
			a.printCerts(out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list the whole OS trust store (anchor folder and the generated bundle)")
	return cmd
}

// removeResult is what `certs remove` did (--json contract).
type removeResult struct {
	Removed []certInfo `json:"removed"`
	trustChange
}

func (a *app) certsRemoveCmd() *cobra.Command {
	var noRestart bool
	cmd := &cobra.Command{
		Use:   "remove FINGERPRINT",
		Short: "Undo an import: remove a certificate (SHA-256, or a unique prefix of 12+ hex digits) and the imported CAs it issued",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("certs remove takes one FINGERPRINT (see certs list)")}
			}
			fp, err := certs.NormalizeFingerprint(args[0], false)
			if err != nil {
				return usageError{err}
			}
			if err := a.setup(cmd.Context(), true); err != nil {
				return err
			}
			res, err := a.removeImported(cmd.Context(), fp, !noRestart)
			if err != nil {
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
			a.printTrustChange(&res.trustChange, true)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noRestart, "no-restart", false, "do not restart the connector's service")
	return cmd
}

// removeImported undoes an import: the certificate with fingerprint prefix
// fp and the imported CAs that chain up to it, from the OS trust store and
// from SSL_CA_PATH; then the update command and the restart.
func (a *app) removeImported(ctx context.Context, fp string, restart bool) (*removeResult, error) {
	store, caPath, err := a.trustStores()
	if err != nil {
		return nil, err
	}
	list, err := imported(store, caPath)
	if err != nil {
		return nil, err
	}
	var match []*storedCert
	for _, sc := range list {
		if strings.HasPrefix(sc.cert.SHA256, fp) {
			match = append(match, sc)
		}
	}
	switch len(match) {
	case 0:
		return nil, exitError{code: ExitFailed, msg: fmt.Sprintf("no certificate imported by adldapctl into %s has SHA-256 %s…; adldapctl certs list shows them", store.Describe(), fp)}
	case 1:
	default:
		return nil, usageError{fmt.Errorf("%s matches %d imported certificates: give more digits", fp, len(match))}
	}
	// Undo what an import pinned to this certificate added: it and the
	// imported CAs that chain up to it (curl, for one, trusts a chain
	// ending at a trusted intermediate).
	stored := make([]certs.Cert, 0, len(list))
	for _, sc := range list {
		stored = append(stored, sc.cert)
	}
	sel, err := certs.Select(stored, match[0].cert.SHA256)
	if err != nil {
		sel = []certs.Cert{match[0].cert}
	}
	res := &removeResult{}
	now := time.Now()
	for _, c := range sel {
		where, err := store.Remove(c.SHA256)
		if err != nil {
			return nil, err
		}
		if caPath != nil {
			files, err := caPath.Remove(c.SHA256)
			if err != nil {
				return nil, err
			}
			where = append(where, files...)
		}
		info := infoOf(c, now)
		info.Files = where
		res.Removed = append(res.Removed, info)
	}
	if err := a.applyTrustChange(ctx, store, true, restart, &res.trustChange); err != nil {
		return nil, err
	}
	return res, nil
}
