package updater

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestIsGitHubFeedURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"https://api.github.com/repos/auth0/ad-ldap-connector", true},
		{"https://api.github.com/repos/auth0/ad-ldap-connector/", true},
		{"https://ghe.example.com/api/v3/repos/auth0/ad-ldap-connector", true},
		{"http://127.0.0.1:8080/repos/auth0/ad-ldap-connector", true},
		{"HTTPS://api.github.com/repos/o/r", true},
		{"https://api.github.com/repos/auth0", false},
		{"https://api.github.com/repos/auth0/ad-ldap-connector/releases", false},
		{"https://api.github.com/repos//r", false},
		{"https://api.github.com/auth0/ad-ldap-connector", false},
		{"https://mirror.example.com/adldap/", false},
		{"https://github.com/auth0/ad-ldap-connector", false},
		{"file:///srv/repos/o/r", false},
		{"/srv/repos/o/r", false},
		{`C:\mirror\repos\o\r`, false},
		{"", false},
		{"https:///repos/o/r", false},
	} {
		if got := IsGitHubFeedURL(tc.in); got != tc.want {
			t.Errorf("IsGitHubFeedURL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCheckFeedURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string // "" means accepted
	}{
		{"https://api.github.com/repos/auth0/ad-ldap-connector", ""},
		{"HTTPS://mirror.example.com/adldap", ""},
		{"http://127.0.0.1:8080/repos/o/r", ""},
		{"http://127.5.6.7/", ""},
		{"http://[::1]:9000/x", ""},
		{"http://localhost:9000/x", ""},
		{"http://LocalHost/x", ""},
		{"file:///srv/mirror", ""},
		{"file://localhost/srv/mirror", ""},
		{"/srv/mirror", ""},
		{"./mirror", ""},
		{"mirror", ""},
		{`C:\mirror`, ""},
		{`\\server\share\mirror`, ""},
		{"http://example.com/repos/o/r", "use https://"},
		{"http://10.0.0.1/x", "use https://"},
		{"http://192.168.1.10:8080/x", "use https://"},
		{"http://localhost.evil.example/x", "use https://"},
		{"http://127.0.0.1.nip.io/x", "use https://"},
		{"http://[::2]/x", "use https://"},
		{"ftp://mirror.example.com/x", "unsupported URL scheme"},
		{"gopher://x/", "unsupported URL scheme"},
		{"https:///nohost", "no host"},
		{"", "empty"},
		{"https://exa mple.com/%zz", "invalid URL"},
	} {
		err := CheckFeedURL(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckFeedURL(%q) = %v, want ok", tc.in, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("CheckFeedURL(%q) = nil, want error containing %q", tc.in, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("CheckFeedURL(%q) = %q, want it to contain %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestCheckFeedURLHidesPassword(t *testing.T) {
	for _, in := range []string{
		"http://user:s3cret@example.com/repos/o/r",
		"ftp://user:s3cret@example.com/",
		"https://user:s3cret%zz@example.com/",
	} {
		err := CheckFeedURL(in)
		if err == nil {
			t.Fatalf("CheckFeedURL(%q) accepted", in)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckFeedURL(%q) error leaks the password: %v", in, err)
		}
	}
}

func TestFileURLPath(t *testing.T) {
	_, local, err := classifyURL("file:///srv/mirror/x.msi")
	if err != nil || local != filepath.FromSlash("/srv/mirror/x.msi") {
		t.Errorf("file:///srv/mirror/x.msi -> %q, %v", local, err)
	}
	_, local, err = classifyURL("file:///C:/mirror/x.msi")
	if err != nil || local != filepath.FromSlash("C:/mirror/x.msi") {
		t.Errorf("file:///C:/mirror/x.msi -> %q, %v", local, err)
	}
	_, local, err = classifyURL("file://server/share/x.msi")
	if filepath.Separator == '\\' {
		if err != nil || local != `\\server\share\x.msi` {
			t.Errorf("file://server/share/x.msi -> %q, %v; want UNC path", local, err)
		}
	} else if err == nil {
		t.Errorf("file://server/share/x.msi -> %q; want an error where there are no UNC paths", local)
	}
}
