package release

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// PackageFile is one file a .deb or .rpm installs.
type PackageFile struct {
	Src  string // name inside the staging folder
	Dst  string // absolute path on the target system
	Mode uint32
	// Packager, when set ("deb"), limits the file to that format.
	Packager string
}

// PackageFiles is what the .deb and .rpm install, relative to a staging
// folder laid out by genDocs and the binary build; manPages are the man
// page names (ManPageNames). No maintainer scripts: installing adldapctl
// starts and registers nothing.
func PackageFiles(name string, manPages []string) []PackageFile {
	files := []PackageFile{
		{Src: "bin/" + name, Dst: "/usr/bin/" + name, Mode: 0o755},
		{Src: "completions/" + name + ".bash", Dst: "/usr/share/bash-completion/completions/" + name, Mode: 0o644},
		{Src: "completions/_" + name, Dst: "/usr/share/zsh/vendor-completions/_" + name, Mode: 0o644},
		{Src: "completions/" + name + ".fish", Dst: "/usr/share/fish/vendor_completions.d/" + name + ".fish", Mode: 0o644},
		{Src: "README.md", Dst: "/usr/share/doc/" + name + "/README.md", Mode: 0o644},
		{Src: "LICENSE", Dst: "/usr/share/doc/" + name + "/LICENSE", Mode: 0o644},
		// Debian's copyright file (DEP-5, the license in full); the .rpm
		// says its license in the License tag.
		{Src: "copyright", Dst: "/usr/share/doc/" + name + "/copyright", Mode: 0o644, Packager: "deb"},
	}
	for _, m := range manPages {
		files = append(files, PackageFile{Src: "man/" + m + ".gz", Dst: "/usr/share/man/man1/" + m + ".gz", Mode: 0o644})
	}
	return files
}

// renderNFPMConfig renders the nfpm configuration (YAML) for one Linux
// architecture from the product description; stage is the staging folder
// the sources are read from. Pure, so its output is golden-file tested.
func renderNFPMConfig(p Product, files []PackageFile, version, arch, stage string) []byte {
	var b bytes.Buffer
	q := strconv.Quote
	fmt.Fprintf(&b, "name: %s\n", q(p.Name))
	fmt.Fprintf(&b, "arch: %s\n", q(arch))
	fmt.Fprintf(&b, "platform: \"linux\"\n")
	fmt.Fprintf(&b, "version: %s\n", q(version))
	fmt.Fprintf(&b, "section: \"admin\"\n")
	fmt.Fprintf(&b, "priority: \"optional\"\n")
	fmt.Fprintf(&b, "maintainer: %s\n", q(p.Maintainer))
	fmt.Fprintf(&b, "vendor: %s\n", q(p.Vendor))
	fmt.Fprintf(&b, "description: %s\n", q(p.Summary+"\n"+p.Description))
	fmt.Fprintf(&b, "homepage: %s\n", q(p.Homepage))
	fmt.Fprintf(&b, "license: %s\n", q(p.License))
	fmt.Fprintf(&b, "contents:\n")
	for _, f := range files {
		fmt.Fprintf(&b, "  - src: %s\n    dst: %s\n", q(strings.TrimSuffix(stage, "/")+"/"+f.Src), q(f.Dst))
		if f.Packager != "" {
			fmt.Fprintf(&b, "    packager: %s\n", q(f.Packager))
		}
		fmt.Fprintf(&b, "    file_info:\n      mode: 0%o\n      owner: root\n      group: root\n", f.Mode)
	}
	return b.Bytes()
}

// buildPackage writes one .deb or .rpm (format) for arch into out and
// returns its file name.
func buildPackage(p Product, files []PackageFile, format, version, arch, stage string, write func(name string, fill func(w *bytes.Buffer) error) error) (string, error) {
	cfg, err := nfpm.Parse(bytes.NewReader(renderNFPMConfig(p, files, version, arch, stage)))
	if err != nil {
		return "", fmt.Errorf("nfpm config: %w", err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", fmt.Errorf("nfpm %s: %w", format, err)
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("nfpm %s: %w", format, err)
	}
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	name := pkgr.ConventionalFileName(info)
	err = write(name, func(w *bytes.Buffer) error { return pkgr.Package(info, w) })
	if err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	return name, nil
}
