package connector

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	linuxDir = "/opt/auth0-adldap"
	winDir   = `C:\Program Files (x86)\Auth0\AD LDAP Connector`
)

func cfgWith(t *testing.T, key string, value any) *Config {
	t.Helper()
	c, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(key, value); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckCustomerPaths(t *testing.T) {
	linux := Layout{InstallDir: linuxDir, OS: "linux"}
	win := Layout{InstallDir: `D:\stage\AD LDAP Connector`, ConnectorDir: winDir, OS: "windows"}
	const M, CA = KeyMapperFile, KeyCAPath
	for _, tc := range []struct {
		l     Layout
		key   string
		value any
		want  []string // customer paths the key adds; nil means refused
		// reason is a fragment of the refusal.
		reason string
	}{
		// Unset, as the connector reads it.
		{linux, M, "", []string{}, ""},
		{linux, CA, false, []string{}, ""},
		{linux, CA, nil, []string{}, ""},
		{linux, CA, 5, nil, "not a string"},
		{linux, M, true, nil, "not a string"},

		// PROFILE_MAPPER_FILE: require() from lib/users.js.
		{linux, M, "./profileMapper.js", []string{"lib/profileMapper.js"}, ""},
		{linux, M, "./profileMapper", []string{"lib/profileMapper", "lib/profileMapper.js", "lib/profileMapper.json", "lib/profileMapper.node"}, ""},
		{linux, M, "./myMapper.js", []string{"lib/myMapper.js"}, ""},
		{linux, M, "../custom/mapper.js", []string{"custom/mapper.js"}, ""},
		{linux, M, "/opt/auth0-adldap/custom/mapper.js", []string{"custom/mapper.js"}, ""},
		{linux, M, "/opt/auth0-adldap/lib/profileMapper.js", []string{"lib/profileMapper.js"}, ""},
		{linux, M, "/opt/auth0-adldap/./custom//mapper.js", []string{"custom/mapper.js"}, ""},
		{linux, M, "custom/mapper.js", nil, "module name"},
		{linux, M, "lib/profileMapper.js", nil, "module name"},
		{linux, M, "profileMapper", nil, "module name"},
		{linux, M, ".", nil, "names a folder"},
		{linux, M, "..", nil, "install folder itself"},
		{linux, M, "../", nil, "install folder itself"},
		{linux, M, "./", nil, "names a folder"},
		{linux, M, "/opt/auth0-adldap", nil, "install folder itself"},
		{linux, M, "/opt/auth0-adldap/", nil, "install folder itself"},
		{linux, M, "/opt/auth0-adldap/lib/..", nil, "install folder itself"},
		{linux, M, "../lib", nil, "program (lib)"},
		{linux, M, "../lib/", nil, "names a folder"},
		{linux, M, "../custom/", nil, "names a folder"},
		{linux, M, "../server.js", nil, "program (server.js)"},
		{linux, M, "../server", nil, "program (server.js)"},
		{linux, M, "../package", nil, "program (package.json)"},
		{linux, M, "../package.json", nil, "program (package.json)"},
		{linux, M, "../node_modules/x/index.js", nil, "program (node_modules/x)"},
		{linux, M, "./users.js", nil, "program (lib/users.js)"},
		{linux, M, "./errors/x.js", nil, "program (lib/errors)"},
		{linux, M, "../admin/server.js", nil, "program (admin/server.js)"},
		{linux, M, "../../outside.js", nil, "out of the install folder"},
		{linux, M, "/etc/passwd", nil, "outside the install folder"},
		{linux, M, "/opt/auth0-adldap-evil/mapper.js", nil, "outside the install folder"},
		{linux, M, "/opt/auth0-adldap/../x.js", nil, "outside the install folder"},
		{linux, M, ` ../custom/mapper.js`, nil, "spaces"},
		{linux, M, `..\custom\mapper.js`, nil, "backslash"},
		{linux, M, `C:/custom/mapper.js`, nil, "Windows path"},

		// SSL_CA_PATH: fs.readdir relative to the working directory.
		{linux, CA, "ca", []string{"ca"}, ""},
		{linux, CA, "./ca/", []string{"ca"}, ""},
		{linux, CA, "certs/ca", []string{}, ""}, // inside certs, already kept
		{linux, CA, "/opt/auth0-adldap/ca", []string{"ca"}, ""},
		{linux, CA, "custom/cas", []string{"custom/cas"}, ""},
		{linux, CA, ".", nil, "install folder itself"},
		{linux, CA, "/opt/auth0-adldap", nil, "install folder itself"},
		{linux, CA, "lib", nil, "program (lib)"},
		{linux, CA, "lib/cas", nil, "program (lib/cas)"},
		{linux, CA, "node_modules/x", nil, "program (node_modules/x)"},
		{linux, CA, "server.js", nil, "program (server.js)"},
		{linux, CA, "../outside", nil, "out of the install folder"},
		{linux, CA, "/etc/ssl/certs", nil, "outside the install folder"},
		{linux, CA, "/etc/passwd", nil, "outside the install folder"},
		{linux, CA, "ca/corp-root.pem", nil, "names a file"},

		// Windows forms.
		{win, M, `C:\Program Files (x86)\Auth0\AD LDAP Connector\custom\mapper.js`, []string{"custom/mapper.js"}, ""},
		{win, M, `c:/program files (x86)/auth0/ad ldap connector/custom/mapper.js`, []string{"custom/mapper.js"}, ""},
		{win, M, `..\custom\mapper.js`, []string{"custom/mapper.js"}, ""},
		{win, M, `.\profileMapper.js`, []string{"lib/profileMapper.js"}, ""},
		{win, M, `..\SERVER.JS`, nil, "program (SERVER.JS)"},
		{win, M, `..\Node_Modules\x.js`, nil, "program (Node_Modules/x.js)"},
		{win, M, `.\Users.js`, nil, "program (lib/Users.js)"},
		{win, M, `..\server.js.`, nil, "dot or space"},
		{win, M, `..\server.js `, nil, "spaces"},
		{win, M, `..\lib.\users.js`, nil, "dot or space"},
		{win, M, `..\SERVER~1.JS`, nil, "short (8.3) name"},
		{win, M, `..\custom\mapper.js:evil`, nil, "alternate data stream"},
		{win, M, `..\NUL`, nil, "reserved Windows device name"},
		{win, M, `..\con.js`, nil, "reserved Windows device name"},
		{win, M, `..\COM1.txt`, nil, "reserved Windows device name"},
		{win, M, `C:custom\mapper.js`, nil, "current folder of drive C:"},
		{win, M, `C:`, nil, "current folder of drive C:"},
		{win, M, `\Program Files (x86)\Auth0\AD LDAP Connector\custom\mapper.js`, nil, "no drive letter"},
		{win, M, `\\server\share\mapper.js`, nil, "UNC"},
		{win, M, `\\?\C:\Program Files (x86)\Auth0\AD LDAP Connector\custom\mapper.js`, nil, "UNC"},
		{win, M, `D:\Program Files (x86)\Auth0\AD LDAP Connector\custom\mapper.js`, nil, "outside"},
		{win, M, `C:\Windows\mapper.js`, nil, "outside"},
		{win, M, `..\custom\ma*per.js`, nil, "does not allow"},
		{win, M, `//server/share/mapper.js`, nil, "UNC"},
		{win, M, `\/server/share/mapper.js`, nil, "UNC"},
		{win, M, "..\\custom\\m\x01.js", nil, "control character"},
		{win, CA, `ca`, []string{"ca"}, ""},
		{win, CA, `C:\Program Files (x86)\Auth0\AD LDAP Connector\CA\`, []string{"CA"}, ""},
		{win, CA, `C:\Program Files (x86)\Auth0\AD LDAP Connector`, nil, "install folder itself"},
		{win, CA, `C:\Program Files (x86)\Auth0\AD LDAP Connector\LIB`, nil, "program (LIB)"},
		{win, CA, `..\ca`, nil, "out of the install folder"},
		{win, CA, `ca::$DATA`, nil, "alternate data stream"},
		{win, CA, `AUX`, nil, "reserved"},
		{win, CA, `COM¹`, nil, "reserved"},
	} {
		name := fmt.Sprintf("%s/%s=%v", tc.l.OS, tc.key, tc.value)
		t.Run(name, func(t *testing.T) {
			cfg := cfgWith(t, tc.key, tc.value)
			err := tc.l.Check(cfg)
			got := tc.l.CustomerPaths(cfg)
			base := []string{ConfigFile, CertsDir, DefaultMapperFile}
			if tc.want == nil {
				var cpe *CustomerPathError
				if !errors.As(err, &cpe) || !errors.Is(err, ErrCustomerPath) {
					t.Fatalf("accepted (err %v), paths %q", err, got)
				}
				if cpe.Key != tc.key || !strings.Contains(cpe.Reason, tc.reason) {
					t.Errorf("key %s reason %q, want %s %q", cpe.Key, cpe.Reason, tc.key, tc.reason)
				}
				msg := err.Error()
				for _, s := range []string{tc.key, "config.json", "set " + tc.key} {
					if !strings.Contains(msg, s) {
						t.Errorf("message lacks %q: %s", s, msg)
					}
				}
				if !slices.Equal(got, base) {
					t.Errorf("CustomerPaths kept a refused value: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want := base
			for _, w := range tc.want {
				if !slices.Contains(want, w) {
					want = append(want, w)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("paths %q, want %q", got, want)
			}
		})
	}
}

func TestCheckCustomerPathsJoinsBothKeys(t *testing.T) {
	c, _ := ParseConfig([]byte(`{"PROFILE_MAPPER_FILE":".","SSL_CA_PATH":"node_modules"}`))
	err := CheckCustomerPaths("/opt/auth0-adldap", c)
	for _, k := range []string{KeyMapperFile, KeyCAPath} {
		if !strings.Contains(fmt.Sprint(err), k) {
			t.Errorf("%s not named: %v", k, err)
		}
	}
	if CheckCustomerPaths("/opt/auth0-adldap", nil) != nil {
		t.Error("nil config refused")
	}
}

func TestCustomerPathOutside(t *testing.T) {
	err := Layout{InstallDir: linuxDir, OS: "linux"}.Check(cfgWith(t, KeyCAPath, "/etc/ssl/certs"))
	var cpe *CustomerPathError
	if !errors.As(err, &cpe) || !cpe.Outside {
		t.Fatalf("want Outside: %v", err)
	}
	err = Layout{InstallDir: linuxDir, OS: "linux"}.Check(cfgWith(t, KeyCAPath, "lib"))
	if !errors.As(err, &cpe) || cpe.Outside {
		t.Fatalf("program path marked Outside: %v", err)
	}
}

// Under --root, absolute values are the connector's view of the path.
func TestCustomerPathsUnderRoot(t *testing.T) {
	root := t.TempDir()
	l := Layout{InstallDir: filepath.Join(root, "opt/auth0-adldap"), ConnectorDir: linuxDir, OS: "linux"}
	cfg := cfgWith(t, KeyCAPath, "/opt/auth0-adldap/ca")
	if err := l.Check(cfg); err != nil {
		t.Fatal(err)
	}
	if got := l.CustomerPaths(cfg); !slices.Contains(got, "ca") {
		t.Errorf("ca missing: %q", got)
	}
	if err := l.Check(cfgWith(t, KeyCAPath, filepath.Join(root, "opt/auth0-adldap/ca"))); err == nil {
		t.Error("root-prefixed path accepted: the connector never sees it")
	}
}

// The bug of issue 7: "." made the whole install dir a customer file.
func TestCustomerPathsNeverInstallDir(t *testing.T) {
	for _, v := range []string{".", "./", "..", "/opt/auth0-adldap", "/opt/auth0-adldap/.", "lib", "../lib"} {
		for _, k := range []string{KeyMapperFile, KeyCAPath} {
			got := CustomerPaths(linuxDir, cfgWith(t, k, v))
			if !slices.Equal(got, []string{ConfigFile, CertsDir, DefaultMapperFile}) {
				t.Errorf("%s=%q: %q", k, v, got)
			}
		}
	}
}

func TestCustomerPathErrorMessage(t *testing.T) {
	err := Layout{InstallDir: linuxDir, OS: "linux"}.Check(cfgWith(t, KeyMapperFile, "."))
	want := `PROFILE_MAPPER_FILE "." in ` + filepath.Join("/opt/auth0-adldap", "config.json") + ` names a folder, not the mapper file: set PROFILE_MAPPER_FILE in ` + filepath.Join("/opt/auth0-adldap", "config.json") + ` to a file of your own inside the install folder, such as /opt/auth0-adldap/custom/profileMapper.js`
	if got := err.Error(); !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s…", got, want)
	}
}
