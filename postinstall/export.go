package postinstall

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/adldapctl/adldapctl/connector"
	"github.com/adldapctl/adldapctl/internal/redact"
	"github.com/adldapctl/adldapctl/platform"
)

// BundleOptions say what goes into an export bundle.
type BundleOptions struct {
	Env *Env
	// Report is the verify report to include; nil runs the catalogue with
	// Timeout per check.
	Report  *Report
	Timeout time.Duration
	// ToolVersion is adldapctl's own version.
	ToolVersion string
	// LogLines is how many lines of the connector's log to include
	// (default 1000).
	LogLines int
}

// ErrUnsafeOutput is returned when the bundle's path is a link or not a
// regular file.
var ErrUnsafeOutput = errors.New("refusing to write the bundle through a link or over a non-file")

// DefaultBundleName is adldapctl-export-<host>-<UTC timestamp>.zip.
func DefaultBundleName(host string, now time.Time) string {
	host = regexp.MustCompile(`[^A-Za-z0-9.-]+`).ReplaceAllString(host, "_")
	if host == "" {
		host = "host"
	}
	return fmt.Sprintf("adldapctl-export-%s-%s.zip", host, now.UTC().Format("20060102T150405Z"))
}

// WriteBundleFile writes the bundle to path atomically with mode 0600 and
// returns its size. It never writes through a symbolic link at path.
func WriteBundleFile(ctx context.Context, path string, o BundleOptions) (int64, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %s", ErrUnsafeOutput, path)
	}
	var buf bytes.Buffer
	if err := WriteBundle(ctx, &buf, o); err != nil {
		return 0, err
	}
	if err := platform.WriteFileAtomicMode(path, buf.Bytes(), 0o600); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// WriteBundle writes the troubleshooting bundle as a zip to w: config.json
// redacted, the profile mapper, certificate metadata (never a key), the
// verify report (text and JSON), the log tail, versions and OS facts.
// Every text in it goes through the same redaction: by key name for
// config.json, by value pattern (PEM blocks, JWT-like tokens, URL
// passwords) and by the config's own secret values everywhere.
func WriteBundle(ctx context.Context, w io.Writer, o BundleOptions) error {
	env := o.Env
	p := env.Platform
	if env.Config == nil && env.ConfigErr == nil {
		env.LoadConfig()
	}
	if o.LogLines <= 0 {
		o.LogLines = 1000
	}
	scrub := env.textScrubber()
	zw := zip.NewWriter(w)
	now := env.now().UTC()
	add := func(name string, data []byte) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	var notes []string

	// config.json
	if raw, err := os.ReadFile(p.Paths.ConfigFile); err == nil {
		red, err := RedactConfig(raw)
		if err != nil {
			notes = append(notes, fmt.Sprintf("config.json does not parse (%v): config.json.txt is the file with every line naming a secret key and every secret-looking value removed", err))
			if err := add("config.json.txt", []byte(scrub(redactConfigLines(string(raw))))); err != nil {
				return err
			}
		} else if err := add("config.json", []byte(scrub(string(red)))); err != nil {
			return err
		}
	} else {
		notes = append(notes, "config.json: "+err.Error())
	}

	// profile mapper
	mapper := connector.DefaultMapperFile
	if env.Config != nil {
		if m := env.Config.String(connector.KeyMapperFile); m != "" {
			mapper = m
		}
	}
	mpath := mapper
	if !filepath.IsAbs(mpath) {
		mpath = filepath.Join(p.Paths.InstallDir, filepath.FromSlash(mapper))
	} else if p.Root != "" {
		mpath = filepath.Join(p.Root, mpath)
	}
	if b, err := readRegular(mpath, 1<<20); err == nil {
		if err := add("profileMapper.js", []byte(scrub(string(b)))); err != nil {
			return err
		}
	} else {
		notes = append(notes, "profile mapper "+mapper+": "+err.Error())
	}

	// certificates: metadata only
	certs, err := CertMetadata(filepath.Join(p.Paths.InstallDir, connector.CertsDir))
	if err != nil {
		notes = append(notes, "certs: "+err.Error())
	}
	if err := addJSON(add, "certs.json", certs, scrub); err != nil {
		return err
	}

	// verify report
	rep := o.Report
	if rep == nil {
		if rep, err = Run(ctx, env, Catalogue(), Options{Timeout: o.Timeout}); err != nil {
			return err
		}
	}
	var text bytes.Buffer
	WriteText(&text, rep, false)
	if err := add("verify.txt", []byte(scrub(text.String()))); err != nil {
		return err
	}
	if err := addJSON(add, "verify.json", rep, scrub); err != nil {
		return err
	}

	// log tail
	if tail, err := tailLines(p.Paths.LogFile, o.LogLines); err == nil {
		if err := add("connector.log", []byte(scrub(tail))); err != nil {
			return err
		}
	} else {
		notes = append(notes, "log "+p.Paths.LogFile+": "+err.Error())
	}

	// versions and system facts
	versions := map[string]string{"adldapctl": o.ToolVersion}
	if rec, err := env.record(); err == nil && rec != nil {
		versions["connector"] = rec.Version
	}
	if p.NodePath != "" {
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if v, err := env.nodeVersion(vctx, p.NodePath); err == nil {
			versions["node"] = v
		}
		cancel()
	}
	if err := addJSON(add, "versions.json", versions, scrub); err != nil {
		return err
	}
	if err := addJSON(add, "system.json", systemFacts(p), scrub); err != nil {
		return err
	}

	readme := "adldapctl export, " + now.Format(time.RFC3339) + "\n\n" +
		"Secrets are replaced by " + connector.Redacted + " (config.json keys " + strings.Join(connector.SecretKeys, ", ") +
		", the proxy password, PEM blocks, JWT-like tokens and URL passwords anywhere).\n" +
		"certs.json holds certificate metadata only; no private key is included.\n"
	for _, n := range notes {
		readme += "\nnote: " + n
	}
	if err := add("README.txt", []byte(scrub(readme)+"\n")); err != nil {
		return err
	}
	return zw.Close()
}

func addJSON(add func(string, []byte) error, name string, v any, scrub func(string) string) error {
	b, err := marshalIndent(v, "")
	if err != nil {
		return err
	}
	return add(name, []byte(scrub(string(b))+"\n"))
}

// readRegular reads a regular file of at most max bytes.
func readRegular(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a file", path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return os.ReadFile(path)
}

// tailLines returns the last n lines of path, reading at most 8 MiB.
func tailLines(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	const max = 8 << 20
	if off := fi.Size() - max; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return "", err
		}
	}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append([]string{}, lines[len(lines)-n:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n", nil
}

// CertInfo is what the bundle says about a certificate.
type CertInfo struct {
	File      string    `json:"file"`
	Subject   string    `json:"subject,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	NotBefore time.Time `json:"not_before,omitempty"`
	NotAfter  time.Time `json:"not_after,omitempty"`
	SHA1      string    `json:"sha1,omitempty"`
	SHA256    string    `json:"sha256,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// CertMetadata reads the certificates of dir/*.pem and *.crt: metadata
// only; any other PEM block (a private key) is never read into the
// result.
func CertMetadata(dir string) ([]CertInfo, error) {
	var out []CertInfo
	for _, ext := range []string{"*.pem", "*.crt"} {
		names, err := filepath.Glob(filepath.Join(dir, ext))
		if err != nil {
			return out, err
		}
		for _, name := range names {
			base := filepath.Base(name)
			data, err := readRegular(name, 1<<20)
			if err != nil {
				out = append(out, CertInfo{File: base, Error: err.Error()})
				continue
			}
			found := false
			for rest := data; ; {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" {
					continue
				}
				found = true
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					out = append(out, CertInfo{File: base, Error: "not a valid certificate"})
					continue
				}
				s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
				out = append(out, CertInfo{File: base, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
					NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
					SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])})
			}
			if !found {
				out = append(out, CertInfo{File: base, Error: "no certificate in this file"})
			}
		}
	}
	return out, nil
}

func systemFacts(p *platform.Platform) map[string]string {
	f := map[string]string{"os": p.OS, "arch": p.Arch, "init": p.Init, "distro": p.Distro, "distro_version": p.Version,
		"go_arch": runtime.GOARCH}
	if b, err := os.ReadFile(filepath.Join(p.Root, "/etc/os-release")); err == nil {
		f["pretty_name"] = platform.ParseOSRelease(b)["PRETTY_NAME"]
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		f["kernel"] = strings.TrimSpace(string(b))
	}
	if h, err := os.Hostname(); err == nil {
		f["hostname"] = h
	}
	return f
}

// Value patterns that are secret whatever key holds them.
var (
	pemRe = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*-----.*?(-----END [A-Z0-9 ]*-----|\z)`)
	// A JWT or JWT-like token: three base64url parts (a JWT's header
	// starts with eyJ, the base64 of `{"`).
	jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`)
	// A URL with a password: scheme://user:password@
	urlPassRe = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s/@:"']*:[^\s@"']*@`)
)

// ScrubPatterns replaces secret-looking values in text: PEM blocks,
// JWT-like tokens and the password of a URL (its host stays).
func ScrubPatterns(s string) string {
	s = pemRe.ReplaceAllString(s, connector.Redacted)
	s = jwtRe.ReplaceAllString(s, connector.Redacted)
	return urlPassRe.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.Index(m, "://") + 3
		user, _, _ := strings.Cut(m[i:len(m)-1], ":")
		return m[:i] + user + ":" + connector.Redacted + "@"
	})
}

// textScrubber removes the config's secret values (and the service
// proxy's password) and secret-looking patterns from free text.
func (e *Env) textScrubber() func(string) string {
	s := connector.NewScrubber(e.Config, proxyPassword(e.ServiceEnv[connector.ProxyKey]))
	var raw []string
	if e.Config != nil {
		for _, k := range e.Config.Keys() {
			if connector.IsSecretKey(k) {
				if b, ok := e.Config.Raw(k); ok && len(b) > 6 {
					// A non-string secret as it appears in the file.
					raw = append(raw, string(b))
				}
			}
		}
	}
	return func(t string) string {
		for _, r := range raw {
			t = strings.ReplaceAll(t, r, `"`+connector.Redacted+`"`)
		}
		return ScrubPatterns(s.Scrub(ScrubPatterns(t)))
	}
}

// RedactConfig returns config.json with every secret replaced by a
// marker, keys, their order and the structure kept: by key name (SPEC's
// secret keys), the proxy's password masked with its host kept, and by
// value pattern under any key.
func RedactConfig(raw []byte) ([]byte, error) {
	cfg, err := connector.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	keys := cfg.Keys()
	for i, k := range keys {
		v, _ := cfg.Raw(k)
		var out any
		if connector.IsSecretKey(k) {
			out = connector.Redacted
		} else {
			var val any
			if err := json.Unmarshal(v, &val); err != nil {
				return nil, err
			}
			out = redactValue(val)
		}
		kb, err := marshalIndent(k, "")
		if err != nil {
			return nil, err
		}
		vb, err := marshalIndent(out, "  ")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "  %s: %s", kb, vb)
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// redactValue walks a JSON value: secret keys in nested objects and
// secret-looking strings anywhere are replaced.
func redactValue(v any) any {
	switch t := v.(type) {
	case string:
		if strings.Contains(t, "://") && strings.Contains(t, "@") {
			t = redact.URL(t)
		}
		return ScrubPatterns(t)
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
		return t
	case map[string]any:
		for k, x := range t {
			if connector.IsSecretKey(k) || strings.Contains(strings.ToLower(k), "password") {
				t[k] = connector.Redacted
			} else {
				t[k] = redactValue(x)
			}
		}
		return t
	}
	return v
}

// secretLineRe matches a line of a JSON file that names a secret key.
var secretLineRe = regexp.MustCompile(`(?i)("(` + strings.Join(connector.SecretKeys, "|") + `|[^"]*password[^"]*)"\s*:).*`)

// redactConfigLines is the fallback for a config.json that does not
// parse: the value of every line naming a secret key goes.
func redactConfigLines(s string) string {
	return secretLineRe.ReplaceAllString(s, `$1 "`+connector.Redacted+`"`)
}

// marshalIndent is json.MarshalIndent without HTML escaping (the marker
// stays readable as <redacted>) and without the trailing newline.
func marshalIndent(v any, prefix string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
