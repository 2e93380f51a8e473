package packaging

import (
	"bytes"
	"strings"
)

// DebianCopyright renders /usr/share/doc/NAME/copyright in Debian's
// machine-readable format (DEP-5) from the product description and the
// license's full text, which it carries (indented, blank lines as " .").
func DebianCopyright(p Product, licenseText []byte) []byte {
	holder := strings.TrimSpace(p.Maintainer)
	if i := strings.IndexByte(holder, '<'); i > 0 {
		holder = strings.TrimSpace(holder[:i])
	}
	var b bytes.Buffer
	b.WriteString("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	b.WriteString("Upstream-Name: " + oneLine(p.Name) + "\n")
	b.WriteString("Upstream-Contact: " + oneLine(p.Maintainer) + "\n")
	b.WriteString("Source: " + oneLine(p.Homepage) + "\n\n")
	b.WriteString("Files: *\n")
	b.WriteString("Copyright: " + oneLine(holder) + "\n")
	b.WriteString("License: " + oneLine(p.License) + "\n\n")
	b.WriteString("License: " + oneLine(p.License) + "\n")
	text := strings.ReplaceAll(string(licenseText), "\r\n", "\n")
	text = strings.Trim(text, "\n")
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + l + "\n")
	}
	return b.Bytes()
}

// oneLine keeps a field value on its line: a newline would start a new
// field.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
