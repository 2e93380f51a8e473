package connector

import (
	"bytes"
	"encoding/json"
	"path"
	"slices"
	"strings"
	"testing"
)

// FuzzConfigRoundTrip: parse any bytes; when they are a config, set one
// key, render and parse again. Every other key keeps its place and its
// value (same JSON once insignificant space is removed), the set key reads
// back as set, no BOM is written, rendering is stable, and the values are
// what encoding/json reads from the same bytes (duplicate keys: the first
// place, the last value, as JSON.parse in the connector).
func FuzzConfigRoundTrip(f *testing.F) {
	f.Add([]byte(`{"LDAP_URL":"ldap://dc","PORT":4000}`), "PORT", "4001")
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.HadBOM != bytes.HasPrefix(data, BOM) {
			t.Fatalf("HadBOM %v for %q", c.HadBOM, data)
		}
		keys := c.Keys()
		raws := map[string][]byte{}
		for _, k := range keys {
			raw, _ := c.Raw(k)
			raws[k] = compactJSON(t, raw)
		}
		// An independent reading of the same bytes.
		var oracle map[string]json.RawMessage
		if err := json.Unmarshal(bytes.TrimPrefix(data, BOM), &oracle); err == nil {
			if len(oracle) != len(keys) {
				t.Fatalf("%d keys, encoding/json reads %d", len(keys), len(oracle))
			}
			for k, v := range oracle {
				if !bytes.Equal(raws[k], compactJSON(t, v)) {
					t.Fatalf("key %q: %s, encoding/json reads %s", k, raws[k], v)
				}
			}
		}

		fk := fileKey(key) // the key as the file reads back
		_, isOld := raws[fk]
		if _, err := c.Set(key, value); err != nil {
			t.Fatal(err)
		}
		out := c.Marshal()
		if bytes.HasPrefix(out, BOM) || !json.Valid(out) {
			t.Fatalf("rendered %q", out)
		}
		c2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if c2.HadBOM {
			t.Fatal("BOM after render")
		}
		wantKeys := keys
		if !isOld {
			wantKeys = append(slices.Clone(keys), c2.Keys()[len(keys):]...)
		}
		if got := c2.Keys(); !slices.Equal(got, wantKeys) || (!isOld && len(got) != len(keys)+1) {
			t.Fatalf("keys %q, want %q (+%q)", got, keys, key)
		}
		for _, k := range keys {
			if k == fk {
				continue
			}
			raw, ok := c2.Raw(k)
			if !ok || !bytes.Equal(compactJSON(t, raw), raws[k]) {
				t.Fatalf("key %q: %s, was %s", k, raw, raws[k])
			}
		}
		var want string
		b, _ := json.Marshal(value)
		json.Unmarshal(b, &want)
		if got := c2.String(fk); got != want {
			t.Fatalf("%q reads %q, set %q", fk, got, want)
		}
		if again := c2.Marshal(); !bytes.Equal(again, out) {
			t.Fatalf("render not stable:\n%s\n%s", out, again)
		}
	})
}

func compactJSON(t *testing.T, raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("value %q is not JSON: %v", raw, err)
	}
	return b.Bytes()
}

// FuzzCheckCustomerPaths: any value for either key, with Unix or Windows
// rules, never panics; whatever is accepted lies strictly inside the
// install dir, is no program path, and (Unix) is where path.Clean puts it.
func FuzzCheckCustomerPaths(f *testing.F) {
	f.Add("../custom/mapper.js", true, false)
	f.Add(`C:\Program Files (x86)\Auth0\AD LDAP Connector\ca`, false, true)
	f.Fuzz(func(t *testing.T, value string, mapper, win bool) {
		key := KeyCAPath
		if mapper {
			key = KeyMapperFile
		}
		l := Layout{InstallDir: linuxDir, OS: "linux"}
		if win {
			l = Layout{InstallDir: linuxDir, ConnectorDir: winDir, OS: "windows"}
		}
		cfg := cfgWith(t, key, value)
		value = cfg.String(key) // as config.json holds it: valid UTF-8
		err := l.Check(cfg)
		paths := l.CustomerPaths(cfg)
		base := []string{ConfigFile, CertsDir, DefaultMapperFile}
		if !slices.Equal(paths[:3], base) {
			t.Fatalf("base paths changed: %q", paths)
		}
		added := paths[3:]
		if err != nil {
			if len(added) > 0 {
				t.Fatalf("refused (%v) but kept %q", err, added)
			}
			return
		}
		var cands []string
		if value != "" {
			var reason string
			cands, reason, _ = l.resolve(key, value)
			if reason != "" || len(cands) == 0 {
				t.Fatalf("accepted %q but resolve says %q", value, reason)
			}
		}
		for _, rel := range cands {
			checkInside(t, key, rel, win)
		}
		for _, rel := range added {
			if !slices.Contains(cands, rel) {
				t.Fatalf("kept %q, not among %q", rel, cands)
			}
		}
		if win || value == "" {
			return
		}
		// Unix: the first candidate is where the standard library puts it.
		var full string
		switch {
		case strings.HasPrefix(value, "/"):
			full = path.Clean(value)
		case key == KeyMapperFile:
			full = path.Join(linuxDir, "lib", value)
		default:
			full = path.Join(linuxDir, value)
		}
		if full != linuxDir+"/"+cands[0] {
			t.Fatalf("%q resolved to %q, path.Clean says %q", value, cands[0], full)
		}
	})
}

func checkInside(t *testing.T, key, rel string, win bool) {
	t.Helper()
	if rel == "" || strings.ContainsAny(rel, "\\\x00") || strings.HasPrefix(rel, "/") {
		t.Fatalf("bad rel %q", rel)
	}
	parts := strings.Split(rel, "/")
	for _, c := range parts {
		if c == "" || c == "." || c == ".." {
			t.Fatalf("rel %q has %q", rel, c)
		}
		if win && (strings.ContainsAny(c, `:<>"|?*`) || strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ")) {
			t.Fatalf("rel %q: component %q unsafe on Windows", rel, c)
		}
	}
	if abs := path.Join(linuxDir, rel); abs != linuxDir+"/"+rel {
		t.Fatalf("rel %q leaves the install dir (%s)", rel, abs)
	}
	top := parts[0]
	fold := func(s string) string {
		if win {
			return strings.ToLower(s)
		}
		return s
	}
	for _, p := range ProgramPaths {
		if fold(p) != fold(top) {
			continue
		}
		if key == KeyMapperFile && fold(top) == "lib" && len(parts) == 2 {
			for _, lp := range libProgramFiles {
				if fold(lp) == fold(parts[1]) {
					t.Fatalf("mapper %q is a program file of lib", rel)
				}
			}
			continue
		}
		t.Fatalf("%s %q is a program path", key, rel)
	}
}
