package certs_test

import (
	"testing"

	"github.com/adldapctl/adldapctl/internal/certs"
	"github.com/adldapctl/adldapctl/internal/certs/certstest"
)

// FuzzParse: any input either parses into certificates that classify and
// name a file, or fails with an error; it never panics.
func FuzzParse(f *testing.F) {
	ch := certstest.NewChain(f, "Fuzz")
	f.Add(certstest.PEM(ch.Leaf, ch.Inter, ch.Root))
	f.Add(certstest.P7B(ch.Root, ch.Inter))
	f.Add(certstest.P7BPEM(ch.Root))
	f.Add(ch.Root.Raw)
	f.Add([]byte("-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := certs.Parse(data)
		if err != nil {
			return
		}
		cs := certs.Classify(parsed)
		if len(cs) != len(parsed) {
			t.Fatal("classify lost certificates")
		}
		for _, c := range cs {
			_ = certs.FileStem(c)
		}
		if pin, ok := certs.Pin(cs); ok {
			if sel, err := certs.Select(cs, pin.SHA256); err != nil || len(sel) == 0 {
				t.Fatalf("the pin selects nothing: %v", err)
			}
		}
	})
}
