// Command release builds adldapctl's release into a folder: make release
// VERSION=x.y.z KEY=FILE runs it. The signing key comes from a file (and
// its password from ADLDAPCTL_KEY_PASSWORD); it is never committed.
//
// Authenticode (adldapctl.exe and the .msi, osslsigncode): -sign-pkcs12
// FILE, or -sign-cert FILE and -sign-key FILE (defaults: the SIGN_PKCS12,
// SIGN_CERT and SIGN_KEY environment variables), the password from
// SIGN_PASSWORD, an RFC 3161 time-stamping server from -sign-timestamp-url
// (SIGN_TIMESTAMP_URL). Without a certificate the Windows files are
// unsigned and it says so; -require-signing (REQUIRE_SIGNING=1) makes that
// an error.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/packaging/tools/release"
	"github.com/adldapctl/adldapctl/updater"
)

func main() {
	var o release.Options
	var key, targets, date string
	flag.StringVar(&o.Version, "version", "", "release version x.y.z")
	flag.StringVar(&o.Commit, "commit", "none", "commit stamped into the binaries")
	flag.StringVar(&date, "date", "", "build date (RFC 3339; default now)")
	flag.StringVar(&o.Repo, "repo", "../..", "adldapctl's source folder")
	flag.StringVar(&o.Out, "out", "../../dist/release", "release folder (emptied first)")
	flag.StringVar(&key, "key", os.Getenv("ADLDAPCTL_RELEASE_KEY"), "minisign private key file (or ADLDAPCTL_RELEASE_KEY)")
	flag.StringVar(&targets, "targets", strings.Join(release.DefaultTargets, " "), "OS/ARCH targets, space separated")
	flag.StringVar(&o.Binaries, "binaries", "", "folder of prebuilt adldapctl-OS-ARCH[.exe] to package instead of building")
	var sign release.Authenticode
	flag.StringVar(&sign.PKCS12, "sign-pkcs12", os.Getenv("SIGN_PKCS12"), "Authenticode key and certificate chain, PKCS#12 (or SIGN_PKCS12)")
	flag.StringVar(&sign.CertFile, "sign-cert", os.Getenv("SIGN_CERT"), "Authenticode certificate chain, PEM (or SIGN_CERT)")
	flag.StringVar(&sign.KeyFile, "sign-key", os.Getenv("SIGN_KEY"), "Authenticode private key, PEM (or SIGN_KEY)")
	flag.StringVar(&sign.TimestampURL, "sign-timestamp-url", os.Getenv("SIGN_TIMESTAMP_URL"), "RFC 3161 time-stamping server (or SIGN_TIMESTAMP_URL)")
	flag.BoolVar(&o.RequireSigning, "require-signing", os.Getenv("REQUIRE_SIGNING") == "1", "fail without an Authenticode certificate (or REQUIRE_SIGNING=1)")
	flag.Parse()
	if sign.PKCS12 != "" || sign.CertFile != "" || sign.KeyFile != "" {
		sign.Password = os.Getenv("SIGN_PASSWORD")
		o.Sign = &sign
	}
	o.Targets = strings.Fields(targets)
	o.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	if date != "" {
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			fmt.Fprintf(os.Stderr, "release: -date: %v\n", err)
			os.Exit(2)
		}
		o.Date = t
	}
	if key == "" {
		fmt.Fprintln(os.Stderr, "release: no signing key: pass KEY=FILE to make (a minisign private key; minisign -G makes one)")
		os.Exit(2)
	}
	k, err := updater.LoadPrivateKey(key, os.Getenv("ADLDAPCTL_KEY_PASSWORD"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
	o.Key = k
	res, err := release.Build(context.Background(), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
	authenticode := "Authenticode-signed"
	if !strings.Contains(targets, "windows/") {
		authenticode = "no Windows targets"
	} else if !res.Signed {
		authenticode = "Windows files UNSIGNED (no Authenticode certificate)"
	}
	fmt.Printf("release %s written to %s: %d artifacts, SHA256SUMS signed, %s, mirror %s\n", o.Version, o.Out, len(res.Artifacts), authenticode, res.Mirror)
}
