package release

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra/doc"

	"github.com/adldapctl/adldapctl/cmd/adldapctl/cli"
)

// genDocs writes bash, zsh and fish completion (completions/) and the man
// page (man/NAME.1 and man/NAME.1.gz) for adldapctl's command tree into
// stage. date is the man page's date, fixed for reproducible output.
func genDocs(stage, name, version string, date time.Time) error {
	root := cli.NewRootCommand(&cli.IOStreams{In: bytes.NewReader(nil), Out: io.Discard, ErrOut: io.Discard})
	root.DisableAutoGenTag = true
	for _, d := range []string{"completions", "man"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return err
		}
	}
	var bash, zsh, fish, man bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return fmt.Errorf("bash completion: %w", err)
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return fmt.Errorf("zsh completion: %w", err)
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		return fmt.Errorf("fish completion: %w", err)
	}
	hdr := &doc.GenManHeader{Title: "ADLDAPCTL", Section: "1", Source: name + " " + version, Manual: "adldapctl manual", Date: &date}
	if err := doc.GenMan(root, hdr, &man); err != nil {
		return fmt.Errorf("man page: %w", err)
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(man.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	for rel, b := range map[string][]byte{
		"completions/" + name + ".bash": bash.Bytes(),
		"completions/_" + name:          zsh.Bytes(),
		"completions/" + name + ".fish": fish.Bytes(),
		"man/" + name + ".1":            man.Bytes(),
		"man/" + name + ".1.gz":         gz.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(stage, rel), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
