package redact

import "testing"

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://user:s3cret@proxy:3128", "http://user:xxxxx@proxy:3128"},
		{"http://user:s3cret@proxy:3128/path?q=1", "http://user:xxxxx@proxy:3128/path?q=1"},
		{"http://user@proxy:3128", "http://user@proxy:3128"},
		{"http://proxy:3128", "http://proxy:3128"},
		{"https://example.com/@scope/pkg", "https://example.com/@scope/pkg"},
		{"https://example.com/a?email=x@y", "https://example.com/a?email=x@y"},
		// Unparsable: bad escape, stray '/', '?' or '@' in the password.
		{"http://user:s3cret%zz@proxy:3128", "http://user:xxxxx@proxy:3128"},
		{"http://user:s3/cret@proxy:3128", "http://user:xxxxx@proxy:3128"},
		{"http://user:s3?cret@proxy:3128", "http://user:xxxxx@proxy:3128"},
		{"http://user:s3@cret@proxy:3128", "http://user:xxxxx@proxy:3128"},
		{"http://user:s3#cret@proxy:3128", "http://user:xxxxx@proxy:3128"},
		// No scheme.
		{"user:s3cret@proxy:3128", "user:xxxxx@proxy:3128"},
		{"proxy:3128", "proxy:3128"},
		{"", ""},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
