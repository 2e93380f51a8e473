package release

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/adldapctl/adldapctl/packaging"
)

// msiTools are the programs an MSI build runs: wixl compiles the WiX
// source, msibuild (msitools) adds the Environment table wixl lacks.
var msiTools = []string{"wixl", "msibuild"}

// checkMSITools says which MSI build tool is missing, and how to get it.
func checkMSITools() error {
	for _, t := range msiTools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("the .msi needs %s (apt-get install wixl msitools, or scripts/deps.sh): %w", t, err)
		}
	}
	return nil
}

// envRow is one row of the MSI Environment table.
type envRow struct {
	ID, Name, Value, Component string
}

// wixlSource prepares WiX source for wixl 0.101, which has no Environment
// element: it cuts every <Environment/> out of src and compiles each into
// the Environment table row WiX's compiler would write (Name prefix "="
// set, "+" create, "!" remove; "-" removed on uninstall unless permanent;
// "*" the machine's variable; Value "[~];v" to append, "v;[~]" to
// prepend). Anything it cannot translate faithfully is an error.
func wixlSource(src []byte) ([]byte, []envRow, error) {
	dec := xml.NewDecoder(bytes.NewReader(src))
	var components []string
	var rows []envRow
	type cut struct{ from, to int64 }
	var cuts []cut
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("WiX source: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "Component":
				components = append(components, attr(t, "Id"))
			case "Environment":
				if len(components) == 0 || components[len(components)-1] == "" {
					return nil, nil, errors.New("WiX source: <Environment> outside a <Component Id=…>")
				}
				row, err := environmentRow(t, components[len(components)-1])
				if err != nil {
					return nil, nil, err
				}
				if err := dec.Skip(); err != nil {
					return nil, nil, fmt.Errorf("WiX source: %w", err)
				}
				rows = append(rows, row)
				cuts = append(cuts, cut{start, dec.InputOffset()})
			}
		case xml.EndElement:
			if t.Name.Local == "Component" && len(components) > 0 {
				components = components[:len(components)-1]
			}
		}
	}
	var out bytes.Buffer
	prev := int64(0)
	for _, c := range cuts {
		out.Write(src[prev:c.from])
		prev = c.to
	}
	out.Write(src[prev:])
	return out.Bytes(), rows, nil
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func environmentRow(e xml.StartElement, component string) (envRow, error) {
	known := map[string]bool{"Id": true, "Name": true, "Value": true, "Part": true, "Action": true, "System": true, "Permanent": true, "Separator": true}
	for _, a := range e.Attr {
		if !known[a.Name.Local] || a.Name.Space != "" {
			return envRow{}, fmt.Errorf("WiX source: <Environment %s=…> is not supported by the wixl translation", a.Name.Local)
		}
	}
	r := envRow{ID: attr(e, "Id"), Component: component}
	name, value := attr(e, "Name"), attr(e, "Value")
	if r.ID == "" || name == "" {
		return r, errors.New("WiX source: <Environment> needs Id and Name")
	}
	var prefix string
	switch attr(e, "Action") {
	case "set", "":
		prefix = "="
	case "create":
		prefix = "+"
	case "remove":
		prefix = "!"
	default:
		return r, fmt.Errorf("WiX source: <Environment Action=%q>: want set, create or remove", attr(e, "Action"))
	}
	switch attr(e, "Permanent") {
	case "no", "":
		prefix += "-"
	case "yes":
	default:
		return r, fmt.Errorf("WiX source: <Environment Permanent=%q>: want yes or no", attr(e, "Permanent"))
	}
	switch attr(e, "System") {
	case "yes":
		prefix += "*"
	case "no", "":
	default:
		return r, fmt.Errorf("WiX source: <Environment System=%q>: want yes or no", attr(e, "System"))
	}
	sep := attr(e, "Separator")
	if sep == "" {
		sep = ";"
	}
	switch attr(e, "Part") {
	case "last":
		value = "[~]" + sep + value
	case "first":
		value = value + sep + "[~]"
	case "all", "":
	default:
		return r, fmt.Errorf("WiX source: <Environment Part=%q>: want all, first or last", attr(e, "Part"))
	}
	r.Name, r.Value = prefix+name, value
	for _, s := range []string{r.ID, r.Name, r.Value, r.Component} {
		// msibuild's SQL has no escape for a quote; nothing of ours has one.
		if strings.ContainsAny(s, "'`\n\r") {
			return r, fmt.Errorf("WiX source: <Environment> value %q has a quote or a line break", s)
		}
	}
	return r, nil
}

// environmentSQL is what msibuild runs to add rows to an MSI built by
// wixl: the Environment table and the two standard actions that apply it
// (sequence numbers as in WiX's default InstallExecuteSequence).
func environmentSQL(rows []envRow) []string {
	if len(rows) == 0 {
		return nil
	}
	q := []string{"CREATE TABLE `Environment` (`Environment` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL LOCALIZABLE, " +
		"`Value` CHAR(255) LOCALIZABLE, `Component_` CHAR(72) NOT NULL PRIMARY KEY `Environment`)"}
	for _, r := range rows {
		q = append(q, fmt.Sprintf("INSERT INTO `Environment` (`Environment`, `Name`, `Value`, `Component_`) VALUES ('%s', '%s', '%s', '%s')",
			r.ID, r.Name, r.Value, r.Component))
	}
	return append(q,
		"INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('RemoveEnvironmentStrings', 3300)",
		"INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('WriteEnvironmentStrings', 5200)")
}

// MSIName is the file name of adldapctl's MSI for version and arch.
func MSIName(version, arch string) string {
	return fmt.Sprintf("%s-%s-windows-%s.msi", name, version, arch)
}

// BuildMSI renders the WiX source for exe (an adldapctl.exe of version,
// already signed when signing) and writes the MSI to out with wixl, then
// msibuild. work is a scratch folder: the sources are copied into
// work/msi-ARCH (wixl reads only relative Source paths), and the WiX
// source is left there.
func BuildMSI(ctx context.Context, p Product, version, arch, exe, license, work, out string) error {
	if err := checkMSITools(); err != nil {
		return err
	}
	wixArch, err := packaging.WiXArch(arch)
	if err != nil {
		return err
	}
	dir := filepath.Join(work, "msi-"+arch)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := copyFile(exe, filepath.Join(dir, name+".exe"), 0o644); err != nil {
		return err
	}
	if err := copyFile(license, filepath.Join(dir, "LICENSE"), 0o644); err != nil {
		return err
	}
	src, err := packaging.RenderToolWiX(packaging.ToolMSI{Name: p.Name, Vendor: p.Vendor, Summary: p.Summary,
		Homepage: p.Homepage, License: p.License, UpgradeCode: p.UpgradeCode, Version: version, Arch: arch,
		Exe: name + ".exe", LicenseFile: "LICENSE"})
	if err != nil {
		return err
	}
	stripped, rows, err := wixlSource(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".wxs"), src, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".wixl.wxs"), stripped, 0o644); err != nil {
		return err
	}
	tmp, err := filepath.Abs(out + ".partial")
	if err != nil {
		return err
	}
	_ = os.Remove(tmp)
	wixl := exec.CommandContext(ctx, "wixl", "-a", wixArch, "-o", tmp, name+".wixl.wxs")
	wixl.Dir = dir
	if b, err := wixl.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("wixl %s: %v\n%s", filepath.Base(out), err, b)
	}
	if q := environmentSQL(rows); len(q) > 0 {
		args := []string{tmp}
		for _, s := range q {
			args = append(args, "-q", s)
		}
		if b, err := exec.CommandContext(ctx, "msibuild", args...).CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("msibuild %s (Environment table): %v\n%s", filepath.Base(out), err, b)
		}
	}
	return os.Rename(tmp, out)
}
