package connector

import (
	"errors"
	"strings"
	"testing"
)

func TestParseProxy(t *testing.T) {
	for in, want := range map[string]string{
		"http://proxy.example:3128":              "http://proxy.example:3128",
		"HTTP://proxy.example:3128/":             "http://proxy.example:3128",
		"https://u:p%40ss%2Fw@proxy.example:443": "https://u:p%40ss%2Fw@proxy.example:443",
		"http://u:a;b=c!$&'()*+,~@10.0.0.1:8080": "", // sub-delims are allowed unencoded
		"http://[::1]:3128":                      "http://[::1]:3128",
	} {
		u, err := ParseProxy(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := u.String(); want != "" && got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"http://wpad.example/wpad.dat":         "PAC",
		"http://pac.example:80/Proxy.PAC":      "PAC",
		"http://:3128":                         "no host",
		"http://proxy.example":                 "no port",
		"proxy.example:3128":                   "no scheme",
		"socks5://proxy.example:1080":          "scheme",
		"http://u:S3cretPw%zz@proxy.example:1": "%XX",
		"http://u:S3cret@Pw@proxy.example:1":   "percent-encode",
		"http://u:S3cret/Pw@proxy.example:1":   "percent-encode",
		"http://u:S3cret Pw@proxy.example:1":   "space",
		"http://proxy.example:0":               "port",
		"http://proxy.example:3128/path":       "no path",
		"http://proxy.example:3128?q=1":        "no path",
		"":                                     "empty",
	} {
		_, err := ParseProxy(in)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrBadProxy) {
			t.Errorf("%q: %v, want an ErrBadProxy naming %q", in, err, want)
			continue
		}
		if strings.Contains(err.Error(), "S3cret") {
			t.Errorf("%q: error shows the password: %v", in, err)
		}
		if want == "PAC" && (!errors.Is(err, ErrPACProxy) || !strings.Contains(err.Error(), "host:port")) {
			t.Errorf("%q: PAC error without advice: %v", in, err)
		}
	}
}
