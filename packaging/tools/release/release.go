package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"aead.dev/minisign"

	"github.com/adldapctl/adldapctl/packaging"
	"github.com/adldapctl/adldapctl/updater"
)

// DefaultTargets are the OS/arch pairs a release is built for (the
// Makefile's TARGETS).
var DefaultTargets = []string{"linux/amd64", "linux/arm64", "windows/amd64", "windows/386"}

// Options says what to build and where. Paths are passed in; nothing
// outside Out is written.
type Options struct {
	Version string    // x.y.z, stamped into the binaries and packages
	Commit  string    // stamped commit
	Date    time.Time // stamped build date, man page date, archive mtimes
	// Repo is the main module's folder (README.md, packaging/product.json).
	Repo string
	// Out is the release folder (dist/release); it is emptied first.
	Out     string
	Targets []string
	// Key signs SHA256SUMS and the self-update mirror.
	Key minisign.PrivateKey
	// Binaries, when set, holds prebuilt adldapctl-OS-ARCH[.exe] files to
	// use instead of building (tests reuse one build).
	Binaries string
	Go       string // go command (default "go")
	Logf     func(format string, args ...any)
	// Sign, when set, signs adldapctl.exe (before it goes into the zip,
	// the mirror and the .msi) and the .msi with Authenticode. Without it
	// the Windows files are unsigned and Build says so, or fails when
	// RequireSigning is set.
	Sign           *Authenticode
	RequireSigning bool
}

// Result lists what Build wrote into Out, by file name.
type Result struct {
	Artifacts []string // everything SHA256SUMS covers
	Mirror    string   // the signed self-update mirror folder
	// Signed says the Windows files carry an Authenticode signature.
	Signed bool
}

const name = "adldapctl"

// Build writes a full release into o.Out: binaries, archives, .deb/.rpm,
// SHA256SUMS(.minisig) and mirror/.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Version == "" || strings.HasPrefix(o.Version, "v") {
		return nil, fmt.Errorf("release: VERSION must be x.y.z (got %q): run make release VERSION=1.2.3", o.Version)
	}
	if o.Key.Equal(minisign.PrivateKey{}) {
		return nil, errors.New("release: no signing key: pass KEY=FILE (a minisign private key)")
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if len(o.Targets) == 0 {
		o.Targets = DefaultTargets
	}
	if o.Date.IsZero() {
		o.Date = time.Now().UTC()
	}
	prod, err := LoadProduct(filepath.Join(o.Repo, "packaging", "product.json"))
	if err != nil {
		return nil, err
	}
	windows := false
	for _, t := range o.Targets {
		if goos, arch, _ := strings.Cut(t, "/"); goos == "windows" {
			windows = true
			// The version must make a valid MSI before anything is built.
			if _, err := packaging.RenderToolWiX(packaging.ToolMSI{Name: prod.Name, Vendor: prod.Vendor, Summary: prod.Summary,
				Homepage: prod.Homepage, License: prod.License, UpgradeCode: prod.UpgradeCode, Version: o.Version, Arch: arch,
				Exe: "adldapctl.exe", LicenseFile: "LICENSE"}); err != nil {
				return nil, err
			}
		}
	}
	if windows {
		if err := checkMSITools(); err != nil {
			return nil, err
		}
		switch {
		case o.Sign != nil:
			sign := *o.Sign // the caller's stays as given
			o.Sign = &sign
			if o.Sign.Description == "" {
				o.Sign.Description = prod.Name
			}
			if o.Sign.URL == "" {
				o.Sign.URL = prod.Homepage
			}
			if err := o.Sign.Check(); err != nil {
				return nil, err
			}
		case o.RequireSigning:
			return nil, errors.New("REQUIRE_SIGNING is set but no Authenticode certificate is: set SIGN_PKCS12 (and SIGN_PASSWORD), or SIGN_CERT and SIGN_KEY")
		default:
			o.Logf("release: UNSIGNED: no Authenticode certificate (SIGN_PKCS12, or SIGN_CERT and SIGN_KEY): adldapctl.exe and the .msi are built without a signature")
		}
	}
	if err := os.RemoveAll(o.Out); err != nil {
		return nil, err
	}
	stage := filepath.Join(o.Out, ".stage")
	if err := os.MkdirAll(filepath.Join(stage, "bin"), 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err := os.RemoveAll(stage); err != nil {
			o.Logf("release: remove %s: %v", stage, err)
		}
	}()
	if err := genDocs(stage, o.Version, o.Date); err != nil {
		return nil, err
	}
	readme, err := os.ReadFile(filepath.Join(o.Repo, "README.md"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stage, "README.md"), readme, 0o644); err != nil {
		return nil, err
	}
	pages := ManPageNames()
	pkgFiles := PackageFiles(name, pages)
	extras := []string{"README.md", "completions/" + name + ".bash", "completions/_" + name, "completions/" + name + ".fish"}
	for _, m := range pages {
		extras = append(extras, "man/"+m)
	}
	lic, err := os.ReadFile(filepath.Join(o.Repo, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("release: the license text: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, "LICENSE"), lic, 0o644); err != nil {
		return nil, err
	}
	extras = append(extras, "LICENSE")
	if err := os.WriteFile(filepath.Join(stage, "copyright"), packaging.DebianCopyright(prod, lic), 0o644); err != nil {
		return nil, err
	}

	res := &Result{Mirror: filepath.Join(o.Out, "mirror"), Signed: windows && o.Sign != nil}
	if err := os.MkdirAll(res.Mirror, 0o755); err != nil {
		return nil, err
	}
	for _, t := range o.Targets {
		goos, arch, ok := strings.Cut(t, "/")
		if !ok {
			return nil, fmt.Errorf("release: target %q is not OS/ARCH", t)
		}
		ext := ""
		if goos == "windows" {
			ext = ".exe"
		}
		bin := name + "-" + goos + "-" + arch + ext
		if err := o.binary(ctx, goos, arch, filepath.Join(o.Out, bin)); err != nil {
			return nil, err
		}
		if goos == "windows" && o.Sign != nil {
			// Signed before it is copied anywhere: the zip, the mirror
			// and the .msi carry the signed build.
			if err := o.Sign.Sign(ctx, filepath.Join(o.Out, bin)); err != nil {
				return nil, err
			}
			o.Logf("signed %s", bin)
		}
		res.Artifacts = append(res.Artifacts, bin)
		// The self-update mirror: the build and its .version beside it.
		if err := copyFile(filepath.Join(o.Out, bin), filepath.Join(res.Mirror, bin), 0o755); err != nil {
			return nil, err
		}
		// The .version file is named without .exe (updater.BuildMirror).
		if err := os.WriteFile(filepath.Join(res.Mirror, strings.TrimSuffix(bin, ext)+".version"), []byte(o.Version+"\n"), 0o644); err != nil {
			return nil, err
		}

		base := fmt.Sprintf("%s-%s-%s-%s", name, o.Version, goos, arch)
		files := []archiveFile{{Name: name + ext, Src: filepath.Join(o.Out, bin), Mode: 0o755}}
		for _, e := range extras {
			files = append(files, archiveFile{Name: e, Src: filepath.Join(stage, e), Mode: 0o644})
		}
		var archive string
		if goos == "windows" {
			archive = base + ".zip"
			err = writeZip(filepath.Join(o.Out, archive), base, files, o.Date)
		} else {
			archive = base + ".tar.gz"
			err = writeTarGz(filepath.Join(o.Out, archive), base, files, o.Date)
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", archive, err)
		}
		res.Artifacts = append(res.Artifacts, archive)
		o.Logf("archive %s", archive)

		if goos == "windows" {
			msi := MSIName(o.Version, arch)
			if err := BuildMSI(ctx, prod, o.Version, arch, filepath.Join(o.Out, bin), filepath.Join(stage, "LICENSE"), stage, filepath.Join(o.Out, msi)); err != nil {
				return nil, err
			}
			if o.Sign != nil {
				if err := o.Sign.Sign(ctx, filepath.Join(o.Out, msi)); err != nil {
					return nil, err
				}
			}
			res.Artifacts = append(res.Artifacts, msi)
			o.Logf("package %s", msi)
		}
		if goos != "linux" {
			continue
		}
		if err := copyFile(filepath.Join(o.Out, bin), filepath.Join(stage, "bin", name), 0o755); err != nil {
			return nil, err
		}
		for _, format := range []string{"deb", "rpm"} {
			pkg, err := buildPackage(prod, pkgFiles, format, o.Version, arch, stage, func(pkgName string, fill func(*bytes.Buffer) error) error {
				var b bytes.Buffer
				if err := fill(&b); err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(o.Out, pkgName), b.Bytes(), 0o644)
			})
			if err != nil {
				return nil, err
			}
			res.Artifacts = append(res.Artifacts, pkg)
			o.Logf("package %s", pkg)
		}
	}

	if _, err := updater.BuildMirror(res.Mirror, o.Key, updater.BuildOptions{Now: func() time.Time { return o.Date }, Logf: o.Logf}); err != nil {
		return nil, fmt.Errorf("self-update mirror: %w", err)
	}
	sort.Strings(res.Artifacts)
	sums, err := sha256Sums(o.Out, res.Artifacts)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Out, "SHA256SUMS"), sums, 0o644); err != nil {
		return nil, err
	}
	sig := minisign.SignWithComments(o.Key, sums, fmt.Sprintf("%s %s SHA256SUMS", name, o.Version), "signature from adldapctl release key")
	if err := os.WriteFile(filepath.Join(o.Out, "SHA256SUMS.minisig"), sig, 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// binary builds (or copies from o.Binaries) one static, stamped build.
func (o Options) binary(ctx context.Context, goos, arch, out string) error {
	if o.Binaries != "" {
		return copyFile(filepath.Join(o.Binaries, filepath.Base(out)), out, 0o755)
	}
	pkg := "github.com/adldapctl/adldapctl/cmd/adldapctl/cli"
	ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s",
		pkg, o.Version, pkg, o.Commit, pkg, o.Date.Format(time.RFC3339))
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/adldapctl")
	cmd.Dir = o.Repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+arch)
	cmd.Stderr = os.Stderr
	o.Logf("build %s", filepath.Base(out))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s/%s: %w", goos, arch, err)
	}
	return nil
}

// sha256Sums renders SHA256SUMS in sha256sum's format ("HASH  NAME").
func sha256Sums(dir string, names []string) ([]byte, error) {
	var b bytes.Buffer
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", n, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), n)
	}
	return b.Bytes(), nil
}

type archiveFile struct {
	Name string // path inside the archive's top folder
	Src  string
	Mode int64
}

func writeTarGz(path, top string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		b, err := os.ReadFile(f.Src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: top + "/" + f.Name, Mode: f.Mode, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeZip(path, top string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f.Src)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: top + "/" + f.Name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(os.FileMode(f.Mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
