package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Authenticode signs Windows files (adldapctl.exe, the .msi) with
// osslsigncode. The certificate and key come from files named by the
// environment (make release SIGN_PKCS12=… or SIGN_CERT=… SIGN_KEY=…) and
// are never committed; the password never appears on a command line.
type Authenticode struct {
	// PKCS12 is a .pfx/.p12 with the key and certificate chain; or
	// CertFile (PEM or DER certificate chain) and KeyFile (PEM or DER key).
	PKCS12, CertFile, KeyFile string
	// Password unlocks PKCS12 or KeyFile (empty: not encrypted).
	Password string
	// TimestampURL, when set, is an RFC 3161 time-stamping server: the
	// signature then outlives the certificate.
	TimestampURL string
	// Description and URL are shown by Windows' signature dialogs.
	Description, URL string
	// Tool is the osslsigncode command (default "osslsigncode").
	Tool string
}

// Check says whether the signing material is complete and readable.
func (a *Authenticode) Check() error {
	switch {
	case a.PKCS12 != "" && (a.CertFile != "" || a.KeyFile != ""):
		return errors.New("Authenticode: give either SIGN_PKCS12 or SIGN_CERT and SIGN_KEY, not both")
	case a.PKCS12 == "" && (a.CertFile == "") != (a.KeyFile == ""):
		return errors.New("Authenticode: SIGN_CERT and SIGN_KEY go together: set both")
	case a.PKCS12 == "" && a.CertFile == "":
		return errors.New("Authenticode: no certificate: set SIGN_PKCS12, or SIGN_CERT and SIGN_KEY")
	}
	for _, f := range []string{a.PKCS12, a.CertFile, a.KeyFile} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err != nil {
			return fmt.Errorf("Authenticode: %w", err)
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf("Authenticode: %s is not a regular file", f)
		}
	}
	if _, err := exec.LookPath(a.tool()); err != nil {
		return fmt.Errorf("Authenticode: %s not found (apt-get install osslsigncode, or scripts/deps.sh): %w", a.tool(), err)
	}
	return nil
}

func (a *Authenticode) tool() string {
	if a.Tool != "" {
		return a.Tool
	}
	return "osslsigncode"
}

// Sign signs path in place (SHA-256), through a sibling file renamed
// over it once osslsigncode has succeeded.
func (a *Authenticode) Sign(ctx context.Context, path string) error {
	args := []string{"sign", "-h", "sha256"}
	if a.PKCS12 != "" {
		args = append(args, "-pkcs12", a.PKCS12)
	} else {
		args = append(args, "-certs", a.CertFile, "-key", a.KeyFile)
	}
	if a.Password != "" {
		// -readpass: the password stays off the command line (ps).
		dir, err := os.MkdirTemp("", "adldapctl-sign-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(dir) }()
		pf := filepath.Join(dir, "pass")
		if err := os.WriteFile(pf, []byte(a.Password), 0o600); err != nil {
			return err
		}
		args = append(args, "-readpass", pf)
	}
	if a.Description != "" {
		args = append(args, "-n", a.Description)
	}
	if a.URL != "" {
		args = append(args, "-i", a.URL)
	}
	if a.TimestampURL != "" {
		args = append(args, "-ts", a.TimestampURL)
	}
	tmp := path + ".signing"
	_ = os.Remove(tmp) // a leftover of an interrupted run; osslsigncode will not overwrite
	args = append(args, "-in", path, "-out", tmp)
	out, err := exec.CommandContext(ctx, a.tool(), args...).CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("Authenticode: sign %s: %v: %s", filepath.Base(path), err, strings.TrimSpace(string(out)))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
