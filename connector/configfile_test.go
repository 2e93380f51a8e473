package connector

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditConfigKeepsOrderIndentModeAndBOM(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		bom            bool
	}{
		{
			name: "four spaces, nested value kept byte for byte",
			in:   "{\n    \"LDAP_URL\": \"ldap://dc\",\n    \"PORT\":4000,\n    \"nested\": {\"a\": [1,2]}\n}\n",
			want: "{\n    \"LDAP_URL\": \"ldap://dc\",\n    \"PORT\": 4000,\n    \"nested\": {\"a\": [1,2]},\n    \"HTTP_PROXY\": \"http://p:3128\"\n}\n",
		},
		{
			name: "tabs and CRLF, BOM dropped",
			in:   "{\r\n\t\"LDAP_URL\": \"ldap://dc\",\r\n\t\"HTTP_PROXY\": \"http://old:1\",\r\n\t\"Z\": true\r\n}\r\n",
			want: "{\r\n\t\"LDAP_URL\": \"ldap://dc\",\r\n\t\"HTTP_PROXY\": \"http://p:3128\",\r\n\t\"Z\": true\r\n}\r\n",
			bom:  true,
		},
		{
			name: "one line",
			in:   `{"A":1,"B":"x"}`,
			want: "{\n  \"A\": 1,\n  \"B\": \"x\",\n  \"HTTP_PROXY\": \"http://p:3128\"\n}\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			in := []byte(tc.in)
			if tc.bom {
				in = append(append([]byte{}, BOM...), in...)
			}
			if err := os.WriteFile(path, in, 0o640); err != nil {
				t.Fatal(err)
			}
			res, err := EditConfig(path, func(c *Config) error { _, err := c.Set("HTTP_PROXY", "http://p:3128"); return err })
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			if !res.Changed || res.BOMRemoved != tc.bom {
				t.Errorf("result %+v", res)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 || res.Mode != 0o640 || !res.OthersCanRead {
				t.Errorf("mode %v / %+v, want 0640 kept and reported", fi.Mode(), res)
			}
			// Deleting the key again leaves the other keys as they were.
			if _, err := EditConfig(path, func(c *Config) error { c.Delete("HTTP_PROXY"); return nil }); err != nil {
				t.Fatal(err)
			}
			got, _ = os.ReadFile(path)
			if strings.Contains(string(got), "HTTP_PROXY") || !strings.Contains(string(got), "LDAP_URL") && !strings.Contains(string(got), `"A": 1`) {
				t.Errorf("after delete:\n%s", got)
			}
		})
	}
}

func TestEditConfigNoChangeLeavesFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	in := append(append([]byte{}, BOM...), []byte(`{"HTTP_PROXY":"http://p:3128"}`)...)
	if err := os.WriteFile(path, in, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := EditConfig(path, func(c *Config) error { _, err := c.Set("HTTP_PROXY", "http://p:3128"); return err })
	if err != nil || res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, in) {
		t.Error("unchanged config rewritten")
	}
}

func TestEditConfigRefusesDuplicatesAndGarbage(t *testing.T) {
	for in, want := range map[string]string{
		`{"HTTP_PROXY":"http://a:1","X":1,"HTTP_PROXY":"http://b:2"}`: `"HTTP_PROXY"`,
		`{"X":1,`: "not valid JSON",
	} {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		called := false
		_, err := EditConfig(path, func(c *Config) error { called = true; return nil })
		if err == nil || !strings.Contains(err.Error(), want) || called {
			t.Errorf("%s: err %v (called %v), want one naming %s", in, err, called, want)
		}
		if strings.Contains(in, "HTTP_PROXY") && !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("duplicate not ErrDuplicateKey: %v", err)
		}
		if got, _ := os.ReadFile(path); string(got) != in {
			t.Error("refused config.json was changed")
		}
	}
}

func TestEditConfigCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	res, err := EditConfig(path, func(c *Config) error { _, err := c.Set("A", "b"); return err })
	if err != nil || !res.Created || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("new config.json mode %v", fi.Mode())
	}
}
