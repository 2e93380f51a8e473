package release

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/goreleaser/nfpm/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The package control data (name, version, maintainer, description,
// contents with modes) rendered from packaging/product.json, golden-tested
// per architecture; the rendered config must also parse and validate in
// nfpm for both formats, with no maintainer scripts.
func TestNFPMConfigGolden(t *testing.T) {
	prod, err := LoadProduct(filepath.Join("..", "..", "product.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			files := PackageFiles(prod.Name, ManPageNames())
			got := renderNFPMConfig(prod, files, "1.2.3", arch, "/STAGE")
			golden := filepath.Join("testdata", "nfpm-"+arch+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("nfpm config differs from %s (go test -update if intended):\n%s", golden, got)
			}
			cfg, err := nfpm.Parse(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			for _, format := range []string{"deb", "rpm"} {
				info, err := cfg.Get(format)
				if err != nil {
					t.Fatal(err)
				}
				if s := info.Scripts; s != (nfpm.Scripts{}) {
					t.Errorf("%s: maintainer scripts %+v; the package must start nothing", format, s)
				}
				if len(info.Contents) != len(files) {
					t.Errorf("%s: %d contents, want %d", format, len(info.Contents), len(files))
				}
			}
		})
	}
}

func TestLoadProductRefusesEmptyField(t *testing.T) {
	p := filepath.Join(t.TempDir(), "product.json")
	if err := os.WriteFile(p, []byte(`{"name":"adldapctl"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProduct(p); err == nil {
		t.Fatal("a product description with empty fields was accepted")
	}
}
